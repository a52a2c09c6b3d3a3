import type { Button, KnownBlock, SectionBlock } from "@slack/types";
import { beforeAll, describe, expect, it } from "vitest";
import { generateKeyPair, type KeyBits } from "../../../src/dkim/keys.js";
import { buildRecordValue, splitIntoStrings } from "../../../src/dkim/record.js";
import {
  type DkimRequest,
  REQUEST_STATES,
  type RecordToPublish,
  type RequestState,
  recordNameOf,
} from "../../../src/requests/model.js";
import { ACTION_IDS, BLOCK_IDS, decodeActionValue } from "../../../src/slack/ui/ids.js";
import { requestMessage } from "../../../src/slack/ui/request-message.js";
import { STATE_BADGES } from "../../../src/slack/ui/state-badge.js";
import { sampleRequest } from "../../helpers/sample-request.js";

interface Keyed {
  request: DkimRequest;
  record: RecordToPublish;
}

const keys = new Map<KeyBits, Keyed>();

beforeAll(async () => {
  // Real keys, so the record values have the real lengths (a 4096-bit value is ~740 characters).
  for (const bits of [1024, 2048, 4096] as const) {
    const pair = await generateKeyPair(bits);
    const value = buildRecordValue(pair.publicKeyBase64);
    const request = makeRequest({
      bits,
      publicKeyBase64: pair.publicKeyBase64,
      fingerprint: pair.fingerprint,
      recordValue: value,
    });
    keys.set(bits, {
      request,
      record: { name: recordNameOf(request), value, strings: splitIntoStrings(value) },
    });
  }
});

function keyed(bits: KeyBits = 2048): Keyed {
  const found = keys.get(bits);
  if (found === undefined) throw new Error("keys not generated");
  return found;
}

const makeRequest = sampleRequest;

function render(state: RequestState, overrides: Partial<DkimRequest> = {}, dryRun = false) {
  const { request, record } = keyed();
  return requestMessage({ ...request, state, ...overrides }, { dryRun, record });
}

function buttons(blocks: KnownBlock[]): Button[] {
  return blocks.flatMap((block) =>
    block.type === "actions"
      ? block.elements.filter((element): element is Button => element.type === "button")
      : [],
  );
}

function allText(blocks: KnownBlock[]): string {
  return JSON.stringify(blocks);
}

function sectionTexts(blocks: KnownBlock[]): string[] {
  return blocks
    .filter((block): block is SectionBlock => block.type === "section")
    .flatMap((block) => [block.text?.text ?? "", ...(block.fields ?? []).map((f) => f.text)]);
}

/** Slack's documented limits for what these messages use. */
function expectWithinLimits(blocks: KnownBlock[]): void {
  expect(blocks.length).toBeLessThanOrEqual(50);
  for (const block of blocks) {
    if (block.type === "section") {
      expect(block.text?.text.length ?? 0).toBeLessThanOrEqual(3000);
      expect(block.fields?.length ?? 0).toBeLessThanOrEqual(10);
      for (const f of block.fields ?? []) expect(f.text.length).toBeLessThanOrEqual(2000);
    }
    if (block.type === "context") {
      expect(block.elements.length).toBeLessThanOrEqual(10);
      for (const element of block.elements) {
        if (element.type === "mrkdwn") expect(element.text.length).toBeLessThanOrEqual(2000);
      }
    }
  }
  for (const b of buttons(blocks)) {
    expect(b.text.text.length).toBeLessThanOrEqual(75);
    expect(b.value?.length ?? 0).toBeLessThanOrEqual(2000);
    if (b.confirm !== undefined) {
      expect(b.confirm.text.text.length).toBeLessThanOrEqual(300);
      expect(b.confirm.title?.text.length ?? 0).toBeLessThanOrEqual(100);
    }
  }
}

describe("requestMessage buttons by state", () => {
  it("pending offers Check DNS, Approve (primary, confirmed) and Reject (danger)", () => {
    const message = render("pending");
    const shown = buttons(message.blocks);
    expect(shown.map((b) => b.action_id)).toEqual([
      ACTION_IDS.checkDns,
      ACTION_IDS.approve,
      ACTION_IDS.reject,
      ACTION_IDS.cancel,
    ]);
    const approve = shown.find((b) => b.action_id === ACTION_IDS.approve);
    expect(approve?.style).toBe("primary");
    expect(approve?.confirm?.text.text).toContain("example.com");
    expect(approve?.confirm?.text.text).toContain(keyed().request.fingerprint);
    expect(shown.find((b) => b.action_id === ACTION_IDS.reject)?.style).toBe("danger");
    const actions = message.blocks.find((block) => block.type === "actions");
    expect(actions?.block_id).toBe(BLOCK_IDS.requestActions);
  });

  it("Approve carries the request id and the fingerprint shown; the others the id alone", () => {
    const shown = buttons(render("pending").blocks);
    const { request } = keyed();
    for (const b of shown) {
      const value = decodeActionValue(b.value);
      expect(value?.requestId).toBe(request.id);
      expect(value?.fingerprint).toBe(
        b.action_id === ACTION_IDS.approve ? request.fingerprint : undefined,
      );
    }
  });

  it("failed offers Retry and Check DNS, and shows the API's own error text", () => {
    const message = render("failed", {
      decidedBy: "U0APPROVER",
      decidedAt: "2026-11-03T11:00:00.000Z",
      lastError: "ERROR: Unknown domain example.com",
      progress: { certificateInstalled: true, enabledUsernames: [] },
    });
    expect(buttons(message.blocks).map((b) => b.action_id)).toEqual([
      ACTION_IDS.retry,
      ACTION_IDS.checkDns,
      ACTION_IDS.reject,
      ACTION_IDS.cancel,
    ]);
    expect(allText(message.blocks)).toContain("> ERROR: Unknown domain example.com");
    expect(allText(message.blocks)).toContain(
      "*Next:* fix the cause, then an approver clicks *Retry*",
    );
  });

  it("applying has no buttons and says it is applying", () => {
    const message = render("applying", { decidedBy: "U0APPROVER" });
    expect(buttons(message.blocks)).toEqual([]);
    expect(message.blocks.some((block) => block.type === "actions")).toBe(false);
    expect(allText(message.blocks)).toContain("Each step is reported in the thread.");
  });

  it("active offers Check DNS and Rotate, and says the outcome, who and when", () => {
    const message = render("active", {
      decidedBy: "U0APPROVER",
      decidedAt: "2026-11-04T09:30:00.000Z",
    });
    expect(buttons(message.blocks).map((b) => b.action_id)).toEqual([
      ACTION_IDS.checkDns,
      ACTION_IDS.rotate,
    ]);
    const text = allText(message.blocks);
    expect(text).toContain("Approved by <@U0APPROVER>");
    expect(text).toContain(`<!date^${Date.parse("2026-11-04T09:30:00.000Z") / 1000}^`);
  });

  it.each([
    ["rejected", "Rejected* by <@U0APPROVER>"],
    ["cancelled", "Cancelled* by <@U0REQUESTER>"],
    ["expired", "Expired*"],
  ] as const)("%s has no buttons and says the outcome, who and when", (state, outcome) => {
    const decidedBy =
      state === "cancelled" ? "U0REQUESTER" : state === "expired" ? "system" : "U0APPROVER";
    const message = render(state, {
      decidedBy,
      decidedAt: "2026-11-04T09:30:00.000Z",
      rejectReason: state === "rejected" ? "Wrong selector, use s202612" : null,
    });
    expect(buttons(message.blocks)).toEqual([]);
    expect(message.blocks.some((block) => block.type === "actions")).toBe(false);
    const text = allText(message.blocks);
    expect(text).toContain(outcome);
    expect(text).toContain(`<!date^${Date.parse("2026-11-04T09:30:00.000Z") / 1000}^`);
    if (state === "rejected") expect(text).toContain("> Wrong selector, use s202612");
  });

  it("every state starts with its badge and the domain, and names the requester once", () => {
    for (const state of REQUEST_STATES) {
      const message = render(state);
      const first = message.blocks[0];
      const text = first?.type === "section" ? (first.text?.text ?? "") : "";
      const badge = STATE_BADGES[state];
      expect(text.startsWith(`${badge.emoji} *${badge.label}* · DKIM for *example.com*`)).toBe(
        true,
      );
      expect(allText(message.blocks).split("<@U0REQUESTER>")).toHaveLength(2);
      // Mentions are mentions, never escaped text.
      expect(allText(message.blocks)).not.toContain("&lt;@");
    }
  });
});

describe("requestMessage content", () => {
  it("shows selector, key size, fingerprint, outgoing users and DNS status", () => {
    const message = render("pending", {
      usernames: ["mailer@example.com", "news@example.com"],
      lastDnsCheck: {
        status: "wrong",
        problemCode: "truncated",
        summary: "Published, but the key is cut short.",
        checkedAt: "2026-11-03T10:42:00.000Z",
      },
    });
    const fields = sectionTexts(message.blocks).join("\n");
    expect(fields).toContain("`s202611._domainkey`");
    expect(fields).toContain("2048-bit RSA");
    expect(fields).toContain(`\`${keyed().request.fingerprint}\``);
    expect(fields).toContain("`mailer@example.com` and `news@example.com`");
    expect(fields).toContain("Published, but the key is cut short.");
    expect(fields).toContain("10:42 UTC");
  });

  it("says DNS is not checked yet, and what comes next and who does it", () => {
    const text = sectionTexts(render("pending").blocks).join("\n");
    expect(text).toContain("No record seen yet");
    expect(text).toContain(
      "*Next:* <@U0REQUESTER> publishes the TXT record below, then an approver clicks *Approve*.",
    );
    expect(text).toContain("*signs for* the domain itself");
  });

  it("names the approvers who act next", () => {
    const { request, record } = keyed();
    const approvers = ["U0BOB", "S0MAILADM"];
    const pending = requestMessage(request, { dryRun: false, record, approvers });
    expect(sectionTexts(pending.blocks).join("\n")).toContain(
      "then <@U0BOB> or <!subteam^S0MAILADM> clicks *Approve*.",
    );
    const live = requestMessage(
      {
        ...request,
        lastDnsCheck: {
          status: "live",
          problemCode: null,
          summary: "Live and matches the key.",
          checkedAt: "2026-11-03T10:42:00.000Z",
        },
      },
      { dryRun: false, record, approvers },
    );
    expect(sectionTexts(live.blocks).join("\n")).toContain(
      "*Next:* the TXT record is live: <@U0BOB> or <!subteam^S0MAILADM> clicks *Approve*.",
    );
    const failed = requestMessage(
      { ...request, state: "failed" },
      { dryRun: false, record, approvers },
    );
    expect(sectionTexts(failed.blocks).join("\n")).toContain(
      "*Next:* fix the cause, then <@U0BOB> or <!subteam^S0MAILADM> clicks *Retry*",
    );
  });

  it("gives a plain fallback text for notifications", () => {
    expect(render("pending").text).toBe(
      "DKIM setup for example.com requested by <@U0REQUESTER>: publish the TXT record, then approve",
    );
    expect(render("active").text).toContain("active");
  });

  it("mentions the approvers in the fallback text too (mobile notifications read only that)", () => {
    const { request, record } = keyed();
    const approvers = ["U0BOB", "S0MAILADM"];
    expect(requestMessage(request, { dryRun: false, record, approvers }).text).toBe(
      "DKIM setup for example.com requested by <@U0REQUESTER>: publish the TXT record, then approval by <@U0BOB> or <!subteam^S0MAILADM>",
    );
  });

  it("with more than five approvers, mentions the groups and 'and N more'", () => {
    const { request, record } = keyed();
    const approvers = ["U01", "S0MAILADM", "U02", "U03", "U04", "U05", "S0SECOPS", "W06"];
    const message = requestMessage(request, { dryRun: false, record, approvers });
    const text = sectionTexts(message.blocks).join("\n");
    expect(text).toContain(
      "then one of <!subteam^S0MAILADM>, <!subteam^S0SECOPS> and 6 more clicks *Approve*.",
    );
    expect(text).not.toContain("<@U01>");
    expect(message.text).toContain(
      "approval by <!subteam^S0MAILADM>, <!subteam^S0SECOPS> and 6 more",
    );
    // Without a group, the first five users are mentioned, so somebody is notified.
    const users = ["U01", "U02", "U03", "U04", "U05", "U06", "U07"];
    const plain = sectionTexts(
      requestMessage(request, { dryRun: false, record, approvers: users }).blocks,
    ).join("\n");
    expect(plain).toContain(
      "then one of <@U01>, <@U02>, <@U03>, <@U04>, <@U05> and 2 more clicks *Approve*.",
    );
    // Exactly five: all named, as before.
    const five = sectionTexts(
      requestMessage(request, { dryRun: false, record, approvers: users.slice(0, 5) }).blocks,
    ).join("\n");
    expect(five).toContain("then <@U01>, <@U02>, <@U03>, <@U04> or <@U05> clicks *Approve*.");
  });

  it.each([1024, 2048, 4096] as const)(
    "a %i-bit record appears once, with its name both ways",
    (bits) => {
      const { request, record } = keyed(bits);
      const message = requestMessage(request, { dryRun: false, record });
      const texts = sectionTexts(message.blocks);
      expect(texts.some((t) => t.includes(`\`\`\`${record.name}\`\`\``))).toBe(true);
      expect(texts.some((t) => t.includes("```s202611._domainkey```"))).toBe(true);
      expect(texts.some((t) => t.includes("*If the panel adds* `example.com`"))).toBe(true);
      // The key once: the value in one block, no split copy of it on the card.
      const body = request.publicKeyBase64.slice(40, 80);
      expect(allText(message.blocks).split(body)).toHaveLength(2);
      expect(texts.some((t) => t.includes(`\`\`\`${record.value}\`\`\``))).toBe(true);
      // A value longer than one string points to the split form in the thread.
      expect(allText(message.blocks).includes("Route 53")).toBe(record.value.length > 255);
      expectWithinLimits(message.blocks);
    },
  );

  it("keeps the open card short: a few lines at 820 px before the record", () => {
    const { request, record } = keyed(2048);
    for (const overrides of [
      {},
      { usernames: Array.from({ length: 100 }, (_, i) => `user${i}@example.com`) },
      { reason: "OPS-1234: new mail platform for the example.com brand", ticket: "OPS-1234" },
    ]) {
      const message = requestMessage(
        { ...request, ...overrides },
        { dryRun: true, record, approvers: ["U0BOB", "S0MAILADM"] },
      );
      const recordAt = message.blocks.findIndex((block) =>
        JSON.stringify(block).includes("*DNS name*"),
      );
      expect(recordAt).toBeGreaterThan(0);
      // Before the record was told once and moved the split form out: 10 and 29 lines.
      expect(linesAt820(message.blocks.slice(0, recordAt))).toBeLessThanOrEqual(6);
      expect(linesAt820(message.blocks)).toBeLessThanOrEqual(18);
    }
  });

  it("in a dry run, claims nothing was signed", () => {
    const active = render("active", { decidedBy: "U0APPROVER" }, true);
    const text = allText(active.blocks);
    expect(text).toContain("*DRY RUN*: the key would now be installed");
    expect(text).not.toMatch(/SpamExperts signs/);
    expect(active.text).toContain("would now be active");
  });

  it("marks DRY RUN only in a dry run", () => {
    const dry = render("pending", {}, true);
    expect(allText(dry.blocks)).toContain(
      "*DRY RUN*: no SpamExperts cluster is configured; Approve shows the calls it would make and changes nothing.",
    );
    expect(dry.text.startsWith("DRY RUN")).toBe(true);
    const approve = buttons(dry.blocks).find((b) => b.action_id === ACTION_IDS.approve);
    expect(approve?.confirm?.text.text).toContain("DRY RUN");

    const real = render("pending", {}, false);
    expect(allText(real.blocks)).not.toContain("DRY RUN");
    expect(real.text).not.toContain("DRY RUN");
  });

  it("stays within Block Kit limits with a 4096-bit key, many users and long texts", () => {
    const { request, record } = keyed(4096);
    const long = "x".repeat(5000);
    for (const state of REQUEST_STATES) {
      const message = requestMessage(
        {
          ...request,
          state,
          domain: `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(57)}.com`,
          usernames: Array.from(
            { length: 300 },
            (_, i) => `user${i}@${"m".repeat(40)}.example.com`,
          ),
          reason: long,
          ticket: long,
          lastError: long,
          rejectReason: long,
          decidedBy: "U0APPROVER",
          decidedAt: "2026-11-04T09:30:00.000Z",
          lastDnsCheck: {
            status: "wrong",
            problemCode: "different-key",
            summary: long,
            checkedAt: "2026-11-03T10:42:00.000Z",
          },
        },
        { dryRun: true, record },
      );
      expectWithinLimits(message.blocks);
      expect(allText(message.blocks)).not.toContain("x".repeat(1600));
    }
  });

  it("escapes text from people so it cannot ping or link", () => {
    const message = render("rejected", {
      decidedBy: "U0APPROVER",
      rejectReason: "<!channel> see <https://evil.example|here> & more",
    });
    const text = allText(message.blocks);
    expect(text).not.toContain("<!channel>");
    expect(text).toContain("&lt;!channel&gt;");
  });

  it("shows the record only while its key is in use", () => {
    const { record } = keyed();
    for (const state of ["rejected", "cancelled", "expired"] as const) {
      expect(allText(render(state).blocks)).not.toContain(record.value);
    }
    expect(allText(render("active").blocks)).toContain(record.value);
  });
});

/**
 * About how many lines Slack shows for these blocks at 820 px: mrkdwn reduced to what is seen
 * (a mention is a name, a date a few words, an emoji one character), wrapped at about 100
 * characters per line, fields side by side at half that.
 */
function linesAt820(blocks: KnownBlock[]): number {
  const visible = (text: string) =>
    text
      .replace(/<@[A-Z0-9]+>/g, "@someone")
      .replace(/<!subteam\^[A-Z0-9]+>/g, "@mail-admins")
      .replace(/<!date\^[^>]*>/g, "Nov 3rd 10:42 AM")
      .replace(/:[a-z0-9_+-]+:/g, "E")
      .replace(/[*`]/g, "");
  const wrapped = (text: string, width: number) =>
    visible(text)
      .split("\n")
      .reduce((sum, line) => sum + Math.max(1, Math.ceil(line.length / width)), 0);
  let lines = 0;
  for (const block of blocks) {
    if (block.type === "section") {
      if (block.text !== undefined) lines += wrapped(block.text.text, 100);
      const fields = (block.fields ?? []).map((f) => wrapped(f.text, 48));
      for (let at = 0; at < fields.length; at += 2) {
        lines += Math.max(fields[at] ?? 0, fields[at + 1] ?? 0);
      }
    } else if (block.type === "context") {
      // Context text is smaller: about 120 characters a line.
      for (const element of block.elements) {
        if (element.type === "mrkdwn") lines += wrapped(element.text, 120);
      }
    } else if (block.type === "actions") {
      lines += 2;
    }
  }
  return lines;
}
