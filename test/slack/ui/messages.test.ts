import { describe, expect, it } from "vitest";
import type { DkimCheckResult } from "../../../src/dkim/check.js";
import type { RequestState } from "../../../src/requests/model.js";
import { checkResultMessage } from "../../../src/slack/ui/check-result.js";
import { helpText } from "../../../src/slack/ui/help.js";
import {
  alreadyHandledText,
  badCommandText,
  botNotInChannelText,
  channelNotAllowedText,
  dnsNotLiveText,
  keyChangedText,
  refusalText,
  selfApprovalText,
} from "../../../src/slack/ui/refusal.js";
import { STATE_BADGES } from "../../../src/slack/ui/state-badge.js";
import { statusAnswer, statusLine } from "../../../src/slack/ui/status.js";
import { sampleRequest } from "../../helpers/sample-request.js";

const NOW = new Date("2026-11-03T13:00:00.000Z");

const makeRequest = sampleRequest;

describe("helpText", () => {
  const base = {
    approvers: ["U0ALICE", "S0OPS"],
    allowSelfApproval: false,
    requireDns: true,
    dryRun: false,
    defaultBits: 2048 as const,
    requestTtlDays: 14,
    now: NOW,
  };

  it("gives the grammar with examples, the selector rule and who may approve", () => {
    const text = helpText({ ...base, batchMax: 100 });
    expect(text).toContain("/dkim setup &lt;domain&gt; [&lt;domain&gt;...] [selector=&lt;s&gt;]");
    expect(text).toContain(
      "make one batch with one card, up to 100: `/dkim setup a.example b.example, c.example`",
    );
    expect(text).toContain("*Approve all live (N)*");
    expect(text).toContain("`/dkim setup example.com`");
    expect(text).toContain("/dkim status");
    expect(text).toContain("/dkim domains [active | rotating | pending | failed | problems | none");
    expect(text).toContain("`/dkim domains none`");
    expect(text).toContain("/dkim check");
    expect(text).toContain("s + the year and month in UTC, e.g. `s202611`");
    expect(text).toContain("<@U0ALICE> and <!subteam^S0OPS>");
    expect(text).toContain("may not approve their own request");
    expect(text).toContain("live and matches");
    // The same word for 2048 bits as the setup form and the refusal of another size.
    expect(text).toContain("1024, 2048 (recommended) or 4096");
    expect(text).not.toContain("advised");
    expect(text).not.toContain("DRY RUN");
    // Raw angle brackets would be read by Slack as links or mentions.
    expect(text.replace(/<(@U|!subteam\^S|#C)[A-Z0-9]+>/g, "")).not.toMatch(/[<>]/);
  });

  it("follows the configuration", () => {
    const text = helpText({
      ...base,
      allowSelfApproval: true,
      requireDns: false,
      dryRun: true,
      allowedChannels: ["C0OPS"],
      command: "/dkim-test",
    });
    expect(text).toContain("may approve their own request");
    expect(text).toContain("whether or not the TXT record is live");
    expect(text).toContain("DRY RUN");
    expect(text).toContain("<#C0OPS>");
    expect(text).toContain("/dkim-test setup");
  });
});

describe("statusAnswer", () => {
  const live = {
    status: "live" as const,
    problemCode: null,
    summary: "Live and matches the key.",
    checkedAt: "2026-11-03T12:00:00.000Z",
  };

  it("says when there is nothing, and how to start", () => {
    const empty = statusAnswer({ entries: [], total: 0, filter: { kind: "all" } }, { now: NOW });
    expect(empty.text).toContain("No DKIM requests yet");
    expect(empty.text).toContain("/dkim setup &lt;domain&gt;");
    expect(
      statusAnswer(
        { entries: [], total: 0, filter: { kind: "domain", domain: "example.org" } },
        { now: NOW },
      ).text,
    ).toContain("for *example.org*");
    expect(
      statusAnswer({ entries: [], total: 0, filter: { kind: "failed" } }, { now: NOW }).text,
    ).toBe("No failed DKIM requests. All of them: `/dkim status`.");
  });

  it("lists open and recent requests with state, DNS, age and a link to the card", () => {
    const entries = [
      {
        request: makeRequest({ lastDnsCheck: live }),
        permalink: "https://example.slack.com/archives/C0CHANNEL/p1762165200000100",
      },
      {
        request: makeRequest({
          id: "b2",
          domain: "example.net",
          state: "active",
          createdAt: "2026-10-30T13:00:00.000Z",
        }),
      },
    ];
    const message = statusAnswer({ entries, total: 2, filter: { kind: "all" } }, { now: NOW });
    const text = JSON.stringify(message.blocks);
    expect(text).toContain("*DKIM requests* · 2");
    expect(text).toContain("*Open*");
    expect(text).toContain("*Recent*");
    expect(text).toContain(`${STATE_BADGES.pending.emoji} ${STATE_BADGES.pending.label}`);
    expect(text).toContain(`${STATE_BADGES.active.emoji} ${STATE_BADGES.active.label}`);
    expect(text).toContain("DNS: :white_check_mark: live");
    expect(text).toContain("DNS: not checked");
    // The age links to the card, as a message's time does in Slack.
    expect(text).toContain(
      "<https://example.slack.com/archives/C0CHANNEL/p1762165200000100|3 h ago>",
    );
    expect(text).toContain("4 d ago");
    expect(message.text).toBe("DKIM requests: 1 open, 1 recent");
  });

  it("says a fleet's count as N+ when the count stopped, and how to narrow it down", () => {
    const entries = [{ request: makeRequest({}) }];
    const message = statusAnswer(
      { entries, total: 10_000, totalCapped: true, filter: { kind: "all" } },
      { now: NOW },
    );
    const text = JSON.stringify(message.blocks);
    expect(text).toContain("1 of 10000+");
    expect(text).toContain("9999+ older ones not shown");
    expect(text).toContain("/dkim status open");
  });

  it("keeps one line per request, short enough to scan", () => {
    const line = statusLine({ request: makeRequest({ lastDnsCheck: live }) }, NOW);
    expect(line).toBe(
      "• *example.com* `s202611` · :hourglass_flowing_sand: Waiting for DNS and approval · DNS: :white_check_mark: live · 3 h ago",
    );
  });

  it("says when monitoring last checked a signing key's record", () => {
    const checked = { ...live, checkedAt: "2026-11-03T11:00:00.000Z" };
    const active = statusLine(
      { request: makeRequest({ state: "active", lastDnsCheck: checked }) },
      NOW,
    );
    expect(active).toContain("DNS: :white_check_mark: live (checked 2 h ago)");
    const pending = statusLine({ request: makeRequest({ lastDnsCheck: checked }) }, NOW);
    expect(pending).not.toContain("checked");
  });

  it("says how many it did not show, and the filters that show them", () => {
    const entries = Array.from({ length: 15 }, (_, i) => ({
      request: makeRequest({ id: `r${i}`, domain: `d${i}.example.com` }),
    }));
    const all = statusAnswer({ entries, total: 42, filter: { kind: "all" } }, { now: NOW });
    const text = JSON.stringify(all.blocks);
    expect(text).toContain("*DKIM requests* · 15 of 42");
    expect(text).toContain(
      "27 older ones not shown. Narrow it down: `/dkim status open`, `/dkim status failed`, `/dkim status active` or `/dkim status &lt;domain&gt;`.",
    );
    expect(all.text).toBe("DKIM requests: 15 open, 0 recent, 27 not shown");

    const open = statusAnswer(
      { entries, shown: 10, total: 15, filter: { kind: "open" } },
      { now: NOW, command: "/dkim-test" },
    );
    expect(JSON.stringify(open.blocks)).toContain("*DKIM requests* · open · 10 of 15");
    expect(JSON.stringify(open.blocks)).toContain(
      "5 older ones not shown. Narrow it down: `/dkim-test status &lt;domain&gt;`.",
    );

    const domain = statusAnswer(
      {
        entries: entries.slice(0, 1),
        total: 2,
        filter: { kind: "domain", domain: "d0.example.com" },
      },
      { now: NOW },
    );
    expect(JSON.stringify(domain.blocks)).toContain(
      "*DKIM requests* for *d0.example.com* · 1 of 2",
    );
    expect(JSON.stringify(domain.blocks)).toContain("1 older one not shown.");
  });

  it("stays within limits with many requests", () => {
    const entries = Array.from({ length: 500 }, (_, i) => ({
      request: makeRequest({ id: `r${i}`, domain: `${"d".repeat(60)}${i}.example.com` }),
    }));
    const message = statusAnswer(
      { entries, total: entries.length, filter: { kind: "all" } },
      { now: NOW },
    );
    expect(message.blocks.length).toBeLessThanOrEqual(50);
    for (const block of message.blocks) {
      if (block.type === "section") expect(block.text?.text.length).toBeLessThanOrEqual(3000);
    }
    expect(JSON.stringify(message.blocks)).toContain("440 older ones not shown");
  });
});

describe("checkResultMessage", () => {
  it("shows the name, status, the strings with their lengths and the problems", () => {
    const result: DkimCheckResult = {
      name: "s202611._domainkey.example.com",
      status: "wrong",
      matches: false,
      problems: [
        { code: "truncated", severity: "error", message: "The record is cut short." },
        { code: "testing-flag", severity: "warning", message: "The record has t=y." },
      ],
      published: [["v=DKIM1; k=rsa; t=y; ", "p=MIIBIjAN"]],
      summary: "Published, but the key is cut short.",
    };
    const message = checkResultMessage(result);
    const text = JSON.stringify(message.blocks);
    expect(text).toContain("s202611._domainkey.example.com");
    expect(text).toContain("Published, but wrong");
    expect(text).toContain("2 strings (21 + 10 = 31 characters)");
    expect(text).toContain('1. \\"v=DKIM1; k=rsa; t=y; \\"');
    expect(text).toContain(":x: The record is cut short.");
    expect(text).toContain(":warning: The record has t=y.");
    expect(message.text).toContain("Published, but the key is cut short.");
  });

  it("says when nothing is published, and escapes what DNS returns", () => {
    const missing = checkResultMessage({
      name: "s1._domainkey.example.com",
      status: "missing",
      matches: null,
      problems: [],
      published: [],
      summary: "No DKIM record is published yet.",
    });
    expect(JSON.stringify(missing.blocks)).toContain("Nothing is published at this name.");

    const hostile = checkResultMessage({
      name: "s1._domainkey.example.com",
      status: "wrong",
      matches: null,
      problems: [],
      published: [["<!channel> ```", "&".repeat(3000)]],
      summary: "Published, but the record cannot be read.",
    });
    const text = JSON.stringify(hostile.blocks);
    expect(text).not.toContain("<!channel>");
    for (const block of hostile.blocks) {
      if (block.type === "section") expect(block.text?.text.length).toBeLessThanOrEqual(3000);
    }
  });
});

describe("refusals", () => {
  it("say why, in short sentences", () => {
    expect(selfApprovalText()).toContain("someone else must approve");
    expect(
      dnsNotLiveText("No DKIM record is published yet.", "s1._domainkey.example.com"),
    ).toContain("No DKIM record is published yet.");
    expect(keyChangedText()).toContain("Nothing was applied");
    expect(channelNotAllowedText(["C0OPS", "C0MAIL"])).toBe(
      "/dkim works only in <#C0OPS> and <#C0MAIL>.",
    );
    expect(botNotInChannelText()).toContain("/invite @dkim-bot");
    expect(badCommandText('Unknown subcommand "x".')).toBe(
      'Unknown subcommand "x".\nMore: `/dkim help`',
    );
  });

  it.each([
    ["applying", "Already approved by <@U0APPROVER>"],
    ["active", "Already approved by <@U0APPROVER>"],
    ["failed", "Already approved by <@U0APPROVER>"],
    ["rejected", "Already rejected by <@U0APPROVER>"],
    ["cancelled", "Already cancelled by <@U0APPROVER>"],
    ["expired", "expired"],
  ] as [RequestState, string][])("already handled (%s) says who and when", (state, expected) => {
    const text = alreadyHandledText(
      makeRequest({ state, decidedBy: "U0APPROVER", decidedAt: "2026-11-03T11:00:00.000Z" }),
    );
    expect(text).toContain(expected);
    expect(text).toContain("<!date^");
  });

  it("map every service refusal reason to a sentence", () => {
    const request = makeRequest();
    for (const reason of [
      "not-approver",
      "approver-lookup-failed",
      "self-approval",
      "fingerprint-mismatch",
      "dns-not-ready",
      "already-handled",
      "not-requester",
    ] as const) {
      expect(
        refusalText(reason, request, { serviceMessage: "Only <@U0A> can approve." }).length,
      ).toBeGreaterThan(10);
    }
  });
});
