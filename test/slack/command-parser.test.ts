import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type DkimCommand,
  type ParseResult,
  parseDkimCommand,
  USAGE,
  unwrapSlackMarkup,
  usageOf,
} from "../../src/slack/command-parser.js";

const SETUP_USAGE =
  "Use: /dkim setup <domain> [<domain>...] [selector=<s>] [bits=1024|2048|4096] [user=<outgoing user>]...";

describe("parseDkimCommand: commands", () => {
  const cases: Array<[string, DkimCommand]> = [
    ["", { kind: "help" }],
    ["   \t ", { kind: "help" }],
    ["help", { kind: "help" }],
    ["HELP", { kind: "help" }],
    ["help setup", { kind: "help" }],
    ["setup", { kind: "setup-modal" }],
    ["  setup  ", { kind: "setup-modal" }],
    ["setup example.com", { kind: "setup", domain: "example.com", users: [], testing: false }],
    [
      "setup example.com selector=s202611 bits=2048 user=mailer@example.com",
      {
        kind: "setup",
        domain: "example.com",
        selector: "s202611",
        bits: 2048,
        users: ["mailer@example.com"],
        testing: false,
      },
    ],
    [
      "Setup example.com SELECTOR=s1 Bits=1024",
      {
        kind: "setup",
        domain: "example.com",
        selector: "s1",
        bits: 1024,
        users: [],
        testing: false,
      },
    ],
    [
      "setup example.com user=a,b user=c user=a",
      { kind: "setup", domain: "example.com", users: ["a", "b", "c"], testing: false },
    ],
    [
      "setup example.com testing",
      { kind: "setup", domain: "example.com", users: [], testing: true },
    ],
    [
      'setup example.com reason="CHG-42 move to new relay" testing',
      {
        kind: "setup",
        domain: "example.com",
        users: [],
        testing: true,
        reason: "CHG-42 move to new relay",
      },
    ],
    [
      "setup example.com reason='single quoted'",
      { kind: "setup", domain: "example.com", users: [], testing: false, reason: "single quoted" },
    ],
    [
      // iOS and macOS substitute typographic quotes while people type.
      "setup example.com reason=\u201cticket 7\u201d",
      { kind: "setup", domain: "example.com", users: [], testing: false, reason: "ticket 7" },
    ],
    [
      'setup example.com reason="say \\"hi\\""',
      { kind: "setup", domain: "example.com", users: [], testing: false, reason: 'say "hi"' },
    ],
    [
      'setup example.com selector="s1"',
      { kind: "setup", domain: "example.com", selector: "s1", users: [], testing: false },
    ],
    [
      "setup testing.example.com testing",
      { kind: "setup", domain: "testing.example.com", users: [], testing: true },
    ],
    [
      // A quoted "testing" is a value, not the flag.
      'setup "testing"',
      { kind: "setup", domain: "testing", users: [], testing: false },
    ],
    [
      "setup <http://example.com|example.com> user=<mailto:mailer@example.com|mailer@example.com>",
      {
        kind: "setup",
        domain: "example.com",
        users: ["mailer@example.com"],
        testing: false,
      },
    ],
    [
      "setup\u00a0example.com\nselector=s1",
      { kind: "setup", domain: "example.com", selector: "s1", users: [], testing: false },
    ],
    // Several domains: spaces, commas or newlines between them make one batch.
    [
      "setup a.example b.example, c.example",
      { kind: "bulk-setup", domains: ["a.example", "b.example", "c.example"], testing: false },
    ],
    [
      "setup a.example,b.example",
      { kind: "bulk-setup", domains: ["a.example", "b.example"], testing: false },
    ],
    [
      'setup a.example\nb.example\n\nc.example\nselector=s1 bits=1024 testing reason="OPS-7"',
      {
        kind: "bulk-setup",
        domains: ["a.example", "b.example", "c.example"],
        selector: "s1",
        bits: 1024,
        testing: true,
        reason: "OPS-7",
      },
    ],
    [
      "setup <http://a.example|a.example> , b.example",
      { kind: "bulk-setup", domains: ["a.example", "b.example"], testing: false },
    ],
    // One domain and a stray comma: the single setup, as before.
    ["setup a.example,", { kind: "setup", domain: "a.example", users: [], testing: false }],
    [
      // Repeats are kept here: the service says which were given twice.
      "setup a.example A.example",
      { kind: "bulk-setup", domains: ["a.example", "A.example"], testing: false },
    ],
    ["status", { kind: "status" }],
    ["status example.com", { kind: "status", domain: "example.com" }],
    ["status <http://example.com|example.com>", { kind: "status", domain: "example.com" }],
    ["domains", { kind: "domains" }],
    ["domains all", { kind: "domains" }],
    ["domains FAILED", { kind: "domains", filter: "failed" }],
    ["domains none page=3", { kind: "domains", filter: "none", page: 3 }],
    ["domains shop", { kind: "domains", namePart: "shop" }],
    ["domains *.NL*", { kind: "domains", namePart: ".nl" }],
    [
      "domains page=2 bücher active",
      { kind: "domains", filter: "active", namePart: "bücher", page: 2 },
    ],
    // Quoted, a state word is a part of a name.
    ['domains "gone"', { kind: "domains", namePart: "gone" }],
    ["check example.com", { kind: "check", domain: "example.com" }],
    ["check example.com s1", { kind: "check", domain: "example.com", selector: "s1" }],
    ["check example.com selector=s1", { kind: "check", domain: "example.com", selector: "s1" }],
  ];

  it.each(cases)("%j", (text, expected) => {
    expect(parseDkimCommand(text)).toEqual(expected);
  });
});

describe("parseDkimCommand: errors name the problem and show the usage", () => {
  const cases: Array<[string, string[]]> = [
    ["frobnicate", ['Unknown subcommand "frobnicate"', usageOf("setup"), usageOf("status")]],
    [
      "setup example.com bitz=2048",
      ['Unknown option "bitz".', 'Did you mean "bits"?', SETUP_USAGE],
    ],
    ["setup example.com colour=red", ['Unknown option "colour".', SETUP_USAGE]],
    ["setup example.com selector=a selector=b", ['Option "selector" is given twice.', SETUP_USAGE]],
    ["setup example.com bits=2048 bits=4096", ['Option "bits" is given twice.']],
    ["setup example.com testing testing", ['Option "testing" is given twice.']],
    ['setup example.com reason=a reason="b"', ['Option "reason" is given twice.']],
    ["setup example.com selector=", ['Missing value for "selector".', SETUP_USAGE]],
    ["setup example.com selector", ['Missing value for "selector"', SETUP_USAGE]],
    ["setup example.com user=", ['Missing value for "user".']],
    ["setup example.com user=a,,b", ['Empty username in "user=a,,b".']],
    ['setup example.com reason=""', ['Missing value for "reason".']],
    ["setup example.com bits=big", ['"bits" must be a number such as 2048, not "big".']],
    ["setup example.com testing=yes", ['"testing" takes no value']],
    ["setup selector=s1", ["Missing domain.", SETUP_USAGE]],
    ['setup ""', ["Missing domain.", SETUP_USAGE]],
    ['check ""', ["Missing domain."]],
    ["setup testing", ["Missing domain."]],
    ["setup example.com s202611", ['Unexpected "s202611"', "selector=s202611", SETUP_USAGE]],
    ["setup a.example b.example s1", ['Unexpected "s1"', "selector=s1"]],
    [
      "setup a.example b.example user=mailer@a.example",
      ['"user=" works with one domain only, and 2 are given', SETUP_USAGE],
    ],
    ["setup a.example <!channel>", ['"@channel" is a Slack mention']],
    ["rotate a.example b.example", ["A rotation takes one domain.", "Use: /dkim rotate <domain>"]],
    ['setup example.com reason="unfinished', ["Unterminated quote", "close it with"]],
    [
      "status a.com b.com",
      ['Unexpected "b.com".', "Use: /dkim status [<domain> | open | active | failed]"],
    ],
    ["status domain=a.com", ['"status" takes no options.']],
    ["domains active failed", ['Give one state, not "active" and "failed".', usageOf("domains")]],
    ["domains all none", ['Give one state, not "all" and "none".']],
    ["domains shop mail", ['Give one part of a name, not "shop" and "mail".']],
    ["domains page=0", ['"page" must be a page number such as 2, not "0".']],
    ["domains page=two", ['"page" must be a page number such as 2, not "two".']],
    ["domains page=2 page=3", ['Option "page" is given twice.']],
    ["domains state=failed", ['Unknown option "state".', usageOf("domains")]],
    ["domains shop/mail", ['"shop/mail" is not part of a domain name']],
    ["domains <!here>", ['"@here" is a Slack mention', "not part of a domain name"]],
    ["check", ["Missing domain.", "Use: /dkim check <domain> [<selector>]"]],
    ["check example.com s1 extra", ['Unexpected "extra".']],
    ["check example.com bits=2048", ['Unknown option "bits".']],
    ["check example.com selector=", ['Missing value for "selector".']],
  ];

  it.each(cases)("%j", (text, fragments) => {
    const result = parseDkimCommand(text);
    expect(result.kind).toBe("error");
    const message = result.kind === "error" ? result.message : "";
    for (const fragment of fragments) {
      expect(message).toContain(fragment);
    }
  });

  it("uses the configured command name in usage lines", () => {
    const result = parseDkimCommand("setup x.com bitz=1", { command: "/dkim-staging" });
    expect(result).toMatchObject({ kind: "error" });
    expect(result.kind === "error" && result.message).toContain(
      "Use: /dkim-staging setup <domain>",
    );
  });

  it("has a usage line for every subcommand", () => {
    expect(Object.keys(USAGE).sort()).toEqual([
      "check",
      "domains",
      "help",
      "rotate",
      "setup",
      "status",
    ]);
  });
});

describe("parseDkimCommand: Slack mentions are refused where a name is expected", () => {
  const cases: Array<[string, string]> = [
    ["setup example.com user=<!channel>", '"user=@channel" is a Slack mention'],
    ["setup example.com user=<!here>", '"user=@here" is a Slack mention'],
    ["setup example.com user=<!everyone>", '"user=@everyone" is a Slack mention'],
    ["setup example.com user=<@U123>", '"user=<@U123>" is a Slack mention'],
    ["setup example.com user=<@U123|bob>", '"user=@bob" is a Slack mention'],
    ["setup example.com user=<#C123|general>", '"user=#general" is a Slack mention'],
    ["setup example.com user=<#C123>", '"user=<#C123>" is a Slack mention'],
    ["setup example.com user=<!subteam^S1|@ops>", '"user=@ops" is a Slack mention'],
    // Slack's date markup unwraps to plain words: still not a username.
    ["setup example.com user=<!date^1392734382^{date}|today>", '"user=today" is a Slack mention'],
    ["setup example.com user=mailer@example.com,<!channel>", "is a Slack mention"],
    ["setup example.com selector=<!here>", '"selector=@here" is a Slack mention'],
    ["setup <!channel>", '"@channel" is a Slack mention'],
    ["setup <@U123|bob> selector=s1", '"@bob" is a Slack mention'],
    ["status <!here>", '"@here" is a Slack mention'],
    ["check <#C1|general>", '"#general" is a Slack mention'],
    ["check example.com <!here>", '"@here" is a Slack mention'],
  ];

  it.each(cases)("%j", (text, fragment) => {
    const result = parseDkimCommand(text);
    expect(result.kind).toBe("error");
    const message = result.kind === "error" ? result.message : "";
    expect(message).toContain(fragment);
    expect(message).toMatch(/not (an outgoing username|a selector|a domain name)/);
  });

  it("still takes mentions in a reason, and links as names", () => {
    expect(
      parseDkimCommand(
        'setup example.com user=<mailto:m@example.com|m@example.com> reason="for <@U123|bob>"',
      ),
    ).toEqual({
      kind: "setup",
      domain: "example.com",
      users: ["m@example.com"],
      testing: false,
      reason: "for @bob",
    });
  });
});

describe("unwrapSlackMarkup", () => {
  it.each([
    ["<http://example.com|example.com>", "example.com"],
    ["<https://example.com>", "https://example.com"],
    ["<mailto:a@b.c|a@b.c>", "a@b.c"],
    ["<mailto:a@b.c>", "a@b.c"],
    ["<@U123|bob> and <@U456>", "@bob and <@U456>"],
    ["<#C123|general>", "#general"],
    ["<!here>", "@here"],
    ["<!subteam^S123|@ops>", "@ops"],
    ["a &amp; b &lt;c&gt;", "a & b <c>"],
    // Decoded once: `&amp;lt;` is the text "&lt;", not "<".
    ["&amp;lt;", "&lt;"],
    ["<http://x.com?a=1&amp;b=2|x.com?a=1&amp;b=2>", "x.com?a=1&b=2"],
  ])("%j -> %j", (input, expected) => {
    expect(unwrapSlackMarkup(input)).toBe(expected);
  });
});

const VALID_KINDS = new Set(["help", "setup-modal", "setup", "status", "domains", "check"]);

function assertWellFormed(result: ParseResult): void {
  switch (result.kind) {
    case "error":
      expect(typeof result.message).toBe("string");
      expect(result.message.trim().length).toBeGreaterThan(0);
      return;
    case "setup":
      expect(result.domain.length).toBeGreaterThan(0);
      expect(result.users.every((user) => user.length > 0)).toBe(true);
      expect(new Set(result.users).size).toBe(result.users.length);
      if (result.bits !== undefined) expect(Number.isInteger(result.bits)).toBe(true);
      if (result.selector !== undefined) expect(result.selector.length).toBeGreaterThan(0);
      return;
    case "bulk-setup":
      // "setup a b": two or more names (whether each is a domain is judged later, with a
      // reason per name).
      expect(result.domains.length).toBeGreaterThan(1);
      expect(result.domains.every((domain) => domain.length > 0)).toBe(true);
      if (result.bits !== undefined) expect(Number.isInteger(result.bits)).toBe(true);
      return;
    case "check":
    case "rotate":
      expect(result.domain.length).toBeGreaterThan(0);
      return;
    default:
      expect(VALID_KINDS.has(result.kind)).toBe(true);
  }
}

describe("parseDkimCommand: properties", () => {
  it("never throws on arbitrary text: a well-formed command or an error with a message", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 200 }), (text) => {
        assertWellFormed(parseDkimCommand(text));
      }),
      { numRuns: 500 },
    );
  });

  it("never throws on text built from the grammar's own pieces", () => {
    const piece = fc.constantFrom(
      "setup",
      "status",
      "domains",
      "page=",
      "failed",
      "check",
      "help",
      "testing",
      "selector=",
      "bits=",
      "user=",
      "reason=",
      "=",
      "example.com",
      "2048",
      ",",
      '"',
      "'",
      "\u201c",
      "\u201d",
      "\\",
      "<",
      ">",
      "|",
      "mailto:",
      "&amp;",
      " ",
      "\t",
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 25 }), (pieces) => {
        assertWellFormed(parseDkimCommand(pieces.join("")));
      }),
      { numRuns: 1000 },
    );
  });

  it("round-trips setup options written in any order", () => {
    const label = fc.stringMatching(/^[a-z0-9]{1,12}$/);
    fc.assert(
      fc.property(
        label,
        fc.option(label, { nil: undefined }),
        fc.option(fc.constantFrom(1024, 2048, 4096), { nil: undefined }),
        fc.uniqueArray(label, { maxLength: 3 }),
        fc.boolean(),
        (domain, selector, bits, users, testing) => {
          const options = [
            ...(selector === undefined ? [] : [`selector=${selector}`]),
            ...(bits === undefined ? [] : [`bits=${bits}`]),
            ...users.map((user) => `user=${user}`),
            ...(testing ? ["testing"] : []),
          ].reverse();
          const result = parseDkimCommand(`setup ${domain}.example ${options.join(" ")}`);
          expect(result).toEqual({
            kind: "setup",
            domain: `${domain}.example`,
            // The options were written in reverse, so the users were too.
            users: [...users].reverse(),
            testing,
            ...(selector === undefined ? {} : { selector }),
            ...(bits === undefined ? {} : { bits }),
          });
        },
      ),
      { numRuns: 200 },
    );
  });
});
