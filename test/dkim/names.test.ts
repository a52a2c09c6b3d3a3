import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  checkedDkimRecordName,
  defaultSelector,
  describeChar,
  dkimRecordName,
  normaliseDomain,
  normaliseSelector,
  validateKeyBits,
  validateUsername,
} from "../../src/dkim/names.js";
import { InputError } from "../../src/errors.js";

/** The InputError a call throws (fails the test if it throws something else or nothing). */
function inputErrorOf(run: () => unknown): InputError {
  try {
    run();
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error("expected an InputError, nothing was thrown");
}

const label = (length: number, char = "a"): string => char.repeat(length);

describe("normaliseDomain", () => {
  it.each([
    ["example.com", "example.com"],
    ["  Example.COM  ", "example.com"],
    ["example.com.", "example.com"],
    ["mail-1.example.co.uk", "mail-1.example.co.uk"],
    ["xn--bcher-kva.example", "xn--bcher-kva.example"],
    ["bücher.example", "xn--bcher-kva.example"],
    ["BÜCHER.example.", "xn--bcher-kva.example"],
    ["<http://example.com|example.com>", "example.com"],
    ["<http://Example.com|Example.com>", "example.com"],
    ["123.example", "123.example"],
    ["a.b2", "a.b2"],
    [`${label(63)}.com`, `${label(63)}.com`],
  ])("accepts %j as %j", (input, expected) => {
    expect(normaliseDomain(input)).toBe(expected);
  });

  it.each([
    ["exa_mple.com", 'domain "exa_mple.com": "_" is not allowed; use letters, digits and hyphens'],
    ["exa mple.com", 'domain "exa mple.com": " " is not allowed; use letters, digits and hyphens'],
    ["bad!.com", 'domain "bad!.com": "!" is not allowed; use letters, digits and hyphens'],
    ["a\tb.com", 'domain "a\\tb.com": U+0009 is not allowed; use letters, digits and hyphens'],
    [
      "*.example.com",
      'domain "*.example.com": "*" is not allowed; a wildcard cannot carry a DKIM key: give the exact domain, e.g. example.com',
    ],
    [
      "mailer@example.com",
      'domain "mailer@example.com": "@" is not allowed; give the bare domain (the part after "@"), e.g. example.com',
    ],
    [
      "http://example.com",
      'domain "http://example.com": give the bare domain, e.g. example.com, not a link',
    ],
    [
      "https://example.com/",
      'domain "https://example.com/": give the bare domain, e.g. example.com, not a link',
    ],
    [
      "<https://example.com>",
      'domain "https://example.com": give the bare domain, e.g. example.com, not a link',
    ],
    [
      "mailto:a@example.com",
      'domain "mailto:a@example.com": give the bare domain, e.g. example.com, not a link',
    ],
    [
      "example.com/dkim",
      'domain "example.com/dkim": "/" is not allowed; give the bare domain, e.g. example.com, not a link',
    ],
    ["", "domain is empty; give a domain name, e.g. example.com"],
    ["   ", "domain is empty; give a domain name, e.g. example.com"],
    [
      "localhost",
      'domain "localhost": give the full domain name with its top-level domain, e.g. example.com',
    ],
    [
      "192.0.2.1",
      'domain "192.0.2.1": an IP address is not a domain name; give a domain name, e.g. example.com',
    ],
    [
      "2001:db8::1",
      'domain "2001:db8::1": an IP address is not a domain name; give a domain name, e.g. example.com',
    ],
    [
      "[2001:db8::1]",
      'domain "[2001:db8::1]": an IP address is not a domain name; give a domain name, e.g. example.com',
    ],
    [
      "example.123",
      'domain "example.123": the last label "123" is all digits, so this is not a domain name; give a domain name, e.g. example.com',
    ],
    [
      "a..com",
      'domain "a..com": has an empty label (two dots together, or a dot at the start or end); remove the extra dot',
    ],
    [
      ".example.com",
      'domain ".example.com": has an empty label (two dots together, or a dot at the start or end); remove the extra dot',
    ],
    [
      "example.com..",
      'domain "example.com..": has an empty label (two dots together, or a dot at the start or end); remove the extra dot',
    ],
    [
      "-example.com",
      'domain "-example.com": label "-example" starts with a hyphen; a label must start and end with a letter or digit',
    ],
    [
      "example-.com",
      'domain "example-.com": label "example-" ends with a hyphen; a label must start and end with a letter or digit',
    ],
  ])("rejects %j", (input, message) => {
    const error = inputErrorOf(() => normaliseDomain(input));
    expect(error.message).toBe(message);
    expect(error.field).toBe("domain");
    expect(error.code).toBe("INVALID_INPUT");
  });

  it("allows labels of 63 characters and rejects 64", () => {
    expect(normaliseDomain(`${label(63)}.example`)).toBe(`${label(63)}.example`);
    const error = inputErrorOf(() => normaliseDomain(`${label(64, "b")}.example`));
    expect(error.message).toMatch(
      /: label "b{64}" is 64 characters long; a label may have at most 63$/,
    );
  });

  it("allows names of 253 characters and rejects 254 (a trailing dot does not count)", () => {
    // 3 labels of 63 + 1 of 61, 3 dots = 253
    const longest = `${label(63)}.${label(63)}.${label(63)}.${label(61, "c")}`;
    expect(longest).toHaveLength(253);
    expect(normaliseDomain(longest)).toBe(longest);
    expect(normaliseDomain(`${longest}.`)).toBe(longest);

    const tooLong = `${label(63)}.${label(63)}.${label(63)}.${label(62, "c")}`;
    const error = inputErrorOf(() => normaliseDomain(tooLong));
    expect(error.message).toMatch(
      /^domain "a{63}\.a{15}…": is 254 characters long; a domain name may have at most 253$/,
    );
  });

  it("counts the punycode form against the 253 limit", () => {
    // 247 characters as typed, 254 as xn--bcher-kva...
    const name = `bücher.${label(63)}.${label(63)}.${label(63)}.${label(48)}`;
    expect(name).toHaveLength(247);
    const error = inputErrorOf(() => normaliseDomain(name));
    expect(error.message).toMatch(/in its punycode form; a domain name may have at most 253$/);
  });

  it("maps Unicode dots and full-width letters as IDNA does", () => {
    expect(normaliseDomain("ｅｘａｍｐｌｅ。ｃｏｍ")).toBe("example.com");
  });

  it.each([
    ["xn--55qx5d.cn", "xn--55qx5d.cn"],
    ["XN--BCHER-KVA.example", "xn--bcher-kva.example"],
    ["mail.xn--fa-hia.de", "mail.xn--fa-hia.de"],
  ])("accepts the valid A-label in %j as %j", (input, expected) => {
    expect(normaliseDomain(input)).toBe(expected);
  });

  it.each([
    // Does not decode at all.
    ["xn--a.example", "xn--a"],
    ["mail.xn--zz.example", "xn--zz"],
    ["xn--a-ecp.example", "xn--a-ecp"],
    // Decode, but to what IDNA does not allow: "bu" + a combining diaeresis (not NFC), and a
    // zero-width joiner between two letters.
    ["xn--bucher-xyd.example", "xn--bucher-xyd"],
    ["xn--ab-m1t.example", "xn--ab-m1t"],
  ])("refuses the invalid punycode in %j, naming the label", (input, badLabel) => {
    const error = inputErrorOf(() => normaliseDomain(input));
    expect(error.field).toBe("domain");
    expect(error.message).toBe(
      `domain ${JSON.stringify(input)}: label ${JSON.stringify(badLabel)} is not valid punycode (it does not decode to an internationalised name); check the spelling, or type the name in its own script, e.g. bücher.example`,
    );
  });

  it.each(["<@U123>", "<@U123|bob>", "<#C123|general>", "<!channel>"])(
    "refuses the Slack mention %j as a domain",
    (input) => {
      const error = inputErrorOf(() => normaliseDomain(input));
      expect(error.message).toBe(
        `domain ${JSON.stringify(input)}: is a Slack mention or channel, not a domain name; give a domain name, e.g. example.com`,
      );
    },
  );
});

describe("normaliseSelector", () => {
  it.each([
    ["s202611", "s202611"],
    ["  S1  ", "s1"],
    ["mail.2024-01", "mail.2024-01"],
    ["2024", "2024"],
    [label(63), label(63)],
    ["<http://sel.example|sel.example>", "sel.example"],
  ])("accepts %j as %j", (input, expected) => {
    expect(normaliseSelector(input)).toBe(expected);
  });

  it.each([
    ["bad!sel", 'selector "bad!sel": "!" is not allowed; use letters, digits and hyphens'],
    ["s_1", 'selector "s_1": "_" is not allowed; use letters, digits and hyphens'],
    ["sel ector", 'selector "sel ector": " " is not allowed; use letters, digits and hyphens'],
    ["sél", 'selector "sél": "é" is not allowed; use letters, digits and hyphens'],
    [
      "-s1",
      'selector "-s1": label "-s1" starts with a hyphen; a label must start and end with a letter or digit',
    ],
    [
      "s1.",
      'selector "s1.": has an empty label (two dots together, or a dot at the start or end); remove the extra dot',
    ],
    [
      label(64),
      `selector "${label(64)}": label "${label(64)}" is 64 characters long; a label may have at most 63`,
    ],
  ])("rejects %j", (input, message) => {
    const error = inputErrorOf(() => normaliseSelector(input));
    expect(error.message).toBe(message);
    expect(error.field).toBe("selector");
  });

  it("rejects an empty selector and suggests the default", () => {
    const error = inputErrorOf(() => normaliseSelector(" "));
    expect(error.message).toMatch(
      /^selector is empty; give a selector of letters, digits and hyphens, e\.g\. s\d{6}$/,
    );
  });
});

describe("validateUsername: Slack mentions are not usernames", () => {
  it.each([
    // As the setup form or the CLI receive them (the command parser unwraps first).
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U123ABC>",
    "<@U123ABC|bob>",
    "<#C123ABC>",
    "<#C123ABC|general>",
    "<!subteam^S123|@ops>",
    // As the command parser's unwrapping leaves them.
    "@channel",
    "@here",
    "@bob",
    "#general",
  ])("refuses %j with the reason", (input) => {
    const error = inputErrorOf(() => validateUsername(input));
    expect(error.field).toBe("user");
    expect(error.message).toBe(
      `user ${JSON.stringify(input)}: is a Slack mention or channel, not an outgoing username; give the SpamExperts login, e.g. example.com or mailer@example.com`,
    );
  });

  it("refuses Slack's brackets elsewhere in a username", () => {
    const error = inputErrorOf(() => validateUsername("mailer<x>@example.com"));
    expect(error.message).toBe(
      'user "mailer<x>@example.com": "<" is not allowed; give the outgoing username without Slack markup, e.g. mailer@example.com',
    );
  });
});

describe("validateUsername", () => {
  it.each([
    ["example.com", "example.com"],
    ["  Mailer@Example.com ", "Mailer@Example.com"],
    ["<mailto:mailer@example.com|mailer@example.com>", "mailer@example.com"],
    ["user+tag@example.com", "user+tag@example.com"],
    ["x".repeat(254), "x".repeat(254)],
  ])("accepts %j as %j", (input, expected) => {
    expect(validateUsername(input)).toBe(expected);
  });

  it.each([
    ["", "user is empty; give the outgoing username, e.g. example.com or mailer@example.com"],
    [
      "mailer @example.com",
      'user "mailer @example.com": " " is not allowed; an outgoing username has no whitespace',
    ],
    [
      "mailer\u00a0@example.com",
      'user "mailer\u00a0@example.com": U+00A0 is not allowed; an outgoing username has no whitespace',
    ],
    [
      "mailer\u0000x",
      'user "mailer\\u0000x": U+0000 is not allowed; an outgoing username has no control or invisible characters',
    ],
    [
      "a\u200bb",
      'user "a\u200bb": U+200B is not allowed; an outgoing username has no control or invisible characters',
    ],
  ])("rejects %j", (input, message) => {
    const error = inputErrorOf(() => validateUsername(input));
    expect(error.message).toBe(message);
    expect(error.field).toBe("user");
  });

  it("rejects 255 characters", () => {
    const error = inputErrorOf(() => validateUsername("x".repeat(255)));
    expect(error.message).toMatch(
      /: is 255 characters long; an outgoing username may have at most 254$/,
    );
  });
});

describe("record name and default selector", () => {
  it("builds <selector>._domainkey.<domain>", () => {
    expect(dkimRecordName("s1", "example.com")).toBe("s1._domainkey.example.com");
  });

  it("rejects a selector that makes the record name longer than 253", () => {
    const domain = `${label(63)}.${label(63)}.${label(63)}.com`;
    const selector = normaliseSelector(label(50, "s"));
    const error = inputErrorOf(() => checkedDkimRecordName(selector, domain));
    expect(error.field).toBe("selector");
    expect(error.message).toMatch(
      /would be 257 characters long; DNS allows at most 253, so use a shorter selector$/,
    );
    expect(checkedDkimRecordName("s1", "example.com")).toBe("s1._domainkey.example.com");
  });

  it("defaults to s + UTC year and month", () => {
    expect(defaultSelector(new Date("2026-11-30T23:59:59Z"))).toBe("s202611");
    expect(defaultSelector(new Date("2027-01-01T00:00:00Z"))).toBe("s202701");
    // The UTC month counts, not the local one.
    expect(defaultSelector(new Date("2026-12-31T23:30:00-01:00"))).toBe("s202701");
    expect(defaultSelector(new Date("2026-12-31T23:30:00+01:00"))).toBe("s202612");
  });
});

// ---- properties ----

const LDH = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";
const ALNUM = LDH.replace("-", "");

const ldhLabel = fc
  .tuple(
    fc.constantFrom(...ALNUM),
    fc.string({ unit: fc.constantFrom(...LDH), maxLength: 61 }),
    fc.constantFrom(...ALNUM),
  )
  .map(([first, middle, last]) => `${first}${middle}${last}`)
  .chain((full) => fc.integer({ min: 1, max: full.length }).map((n) => full.slice(0, n)))
  .filter((l) => !l.endsWith("-"));

const tld = fc
  .tuple(fc.constantFrom(..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"), ldhLabel)
  .map(([letter, rest]) => `${letter}${rest}`.slice(0, 63));

const validDomain = fc
  .tuple(fc.array(ldhLabel, { minLength: 1, maxLength: 5 }), tld)
  .map(([labels, last]) => [...labels, last].join("."))
  .filter((name) => name.length <= 253);

const validSelector = fc
  .array(ldhLabel, { minLength: 1, maxLength: 3 })
  .map((labels) => labels.join("."));

/** Every ASCII character that LDH names do not allow (dot aside, which separates labels). */
const forbiddenAscii = fc
  .integer({ min: 0, max: 127 })
  .map((code) => String.fromCharCode(code))
  .filter((char) => !LDH.includes(char) && char !== ".");

function insertAt(text: string, index: number, char: string): string {
  const at = index % (text.length + 1);
  return `${text.slice(0, at)}${char}${text.slice(at)}`;
}

describe("properties", () => {
  it("a valid LDH domain normalises to itself lowercased, idempotently", () => {
    fc.assert(
      fc.property(validDomain, (name) => {
        const once = normaliseDomain(name);
        expect(once).toBe(name.toLowerCase());
        expect(normaliseDomain(once)).toBe(once);
      }),
    );
  });

  it("a domain with a forbidden character is rejected naming that character", () => {
    fc.assert(
      fc.property(validDomain, forbiddenAscii, fc.nat(), (name, char, index) => {
        const input = insertAt(name, index, char);
        // Only a space at either end disappears (trimmed): then the domain is valid.
        fc.pre(input.trim() === input);
        // "mailto:..." gets its own sentence about links, without naming a character.
        fc.pre(!/^mailto:/i.test(input));
        const error = inputErrorOf(() => normaliseDomain(input));
        expect(error.field).toBe("domain");
        expect(error.message).toContain(`: ${describeChar(char)} is not allowed;`);
      }),
    );
  });

  it("a valid selector normalises to itself lowercased, idempotently", () => {
    fc.assert(
      fc.property(validSelector, (selector) => {
        fc.pre(selector.length <= 237);
        const once = normaliseSelector(selector);
        expect(once).toBe(selector.toLowerCase());
        expect(normaliseSelector(once)).toBe(once);
      }),
    );
  });

  it("a selector with a forbidden character is rejected naming that character", () => {
    const forbidden = fc.oneof(
      forbiddenAscii,
      fc
        .integer({ min: 0x80, max: 0x10ffff })
        .filter((code) => code < 0xd800 || code > 0xdfff)
        .map((code) => String.fromCodePoint(code)),
    );
    fc.assert(
      fc.property(validSelector, forbidden, fc.nat(), (selector, char, index) => {
        const input = insertAt(selector, index, char);
        fc.pre(input.trim() === input);
        const error = inputErrorOf(() => normaliseSelector(input));
        expect(error.field).toBe("selector");
        expect(error.message).toContain(
          `: ${describeChar(char)} is not allowed; use letters, digits and hyphens`,
        );
      }),
    );
  });

  it("a username with whitespace or a control character inside is rejected naming it", () => {
    const bad = fc.constantFrom(" ", "\t", "\n", "\u0000", "\u007f", "\u00a0", "\u2028", "\u200b");
    fc.assert(
      fc.property(validDomain, bad, fc.integer({ min: 1, max: 300 }), (name, char, index) => {
        const input = `x${insertAt(name, index, char)}x`;
        const error = inputErrorOf(() => validateUsername(input));
        expect(error.message).toContain(`: ${describeChar(char)} is not allowed;`);
      }),
    );
  });
});

describe("validateKeyBits", () => {
  it("takes the sizes offered", () => {
    for (const bits of [1024, 2048, 4096]) expect(validateKeyBits(bits)).toBe(bits);
  });

  it("says what is wrong with a size before what to choose", () => {
    const refusal = (bits: number) => {
      const error = inputErrorOf(() => validateKeyBits(bits));
      expect(error.field).toBe("bits");
      return error.message;
    };
    expect(refusal(512)).toBe(
      "512-bit keys are too weak (RFC 8301 requires at least 1024): choose 1024, 2048 (recommended) or 4096",
    );
    expect(refusal(3072)).toBe(
      "3072-bit keys are not offered: choose 1024, 2048 (recommended) or 4096",
    );
    expect(refusal(8192)).toMatch(
      /^8192-bit keys are larger than verifiers must handle .*: choose/,
    );
    expect(refusal(0)).toBe('bits "0" is not a key size: choose 1024, 2048 (recommended) or 4096');
    expect(refusal(2048.5)).toMatch(/^bits "2048.5" is not a key size/);
  });
});
