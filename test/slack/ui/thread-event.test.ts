import type { Button } from "@slack/types";
import { beforeAll, describe, expect, it } from "vitest";
import { generateKeyPair } from "../../../src/dkim/keys.js";
import { buildRecordValue, splitIntoStrings } from "../../../src/dkim/record.js";
import type {
  AuditDetails,
  AuditEvent,
  AuditEventKind,
  DkimRequest,
} from "../../../src/requests/model.js";
import { recordToPublish } from "../../../src/requests/service.js";
import type { SlackMessage } from "../../../src/slack/ui/format.js";
import { ACTION_IDS, BLOCK_IDS, decodeActionValue } from "../../../src/slack/ui/ids.js";
import {
  applyReply,
  eventReply,
  failureReply,
  recordReply,
  stepNote,
} from "../../../src/slack/ui/thread-event.js";
import { sampleRequest } from "../../helpers/sample-request.js";

const AT = "2026-11-03T10:42:00.000Z";

const request: DkimRequest = sampleRequest({
  publicKeyBase64: "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA",
  recordValue: "v=DKIM1; k=rsa; p=MIIB",
  state: "failed",
  decidedBy: "U0APPROVER",
  decidedAt: AT,
  createdAt: AT,
  updatedAt: AT,
});

function event(kind: AuditEventKind, actorId: string, details: AuditDetails = {}): AuditEvent {
  return { id: 1, requestId: request.id, at: AT, actorId, kind, details };
}

const options = { dryRun: false };

/** Every text Slack shows for a reply: the fallback and the blocks. */
function shown(message: SlackMessage): string {
  return [message.text, JSON.stringify(message.blocks)].join("\n");
}

function buttonsOf(message: SlackMessage): Button[] {
  return message.blocks.flatMap((block) =>
    block.type === "actions" ? (block.elements as Button[]) : [],
  );
}

const NO_ACTOR_LINE = /· (dkim-bot|<@\w+>) · <!date/;

describe("the record's split form (the thread's first reply)", () => {
  let withKey: DkimRequest;
  beforeAll(async () => {
    const pair = await generateKeyPair(2048);
    const value = buildRecordValue(pair.publicKeyBase64);
    withKey = {
      ...request,
      state: "pending",
      publicKeyBase64: pair.publicKeyBase64,
      recordValue: value,
    };
  });

  it("gives the value as quoted strings of at most 255, in order, with the provider hint", () => {
    const reply = recordReply(withKey, recordToPublish(withKey));
    if (reply === undefined) throw new Error("a 2048-bit value needs the split form");
    const text = shown(reply);
    const inside = /```([\s\S]*?)```/.exec(reply.blocks.map((b) => JSON.stringify(b)).join(""));
    const strings = [...(inside?.[1] ?? "").matchAll(/\\"([^"\\]*)\\"/g)].map((m) => m[1] ?? "");
    expect(strings).toEqual(splitIntoStrings(withKey.recordValue));
    for (const part of strings) expect(part.length).toBeLessThanOrEqual(255);
    expect(text).toContain("Route 53");
    expect(text).toContain("single TXT value in the request message");
  });

  it("is not posted when the value fits one string, or once the record is no longer shown", async () => {
    const small = await generateKeyPair(1024);
    const value = buildRecordValue(small.publicKeyBase64);
    const short = { ...withKey, publicKeyBase64: small.publicKeyBase64, recordValue: value };
    expect(recordReply(short, recordToPublish(short))).toBeUndefined();
    const rejected = { ...withKey, state: "rejected" as const };
    expect(recordReply(rejected, recordToPublish(rejected))).toBeUndefined();
  });
});

describe("eventReply", () => {
  it.each(["dns-live", "dns-problem", "active", "rejected", "cancelled", "expired"] as const)(
    "%s has no actor-and-time line under Slack's own",
    (kind) => {
      const text = shown(eventReply(event(kind, "U0PERSON"), request, options));
      expect(text).not.toMatch(NO_ACTOR_LINE);
      expect(text).not.toContain("&lt;@");
      expect(text).not.toContain("dkim-bot");
    },
  );

  it("names the person where one acted", () => {
    expect(eventReply(event("rejected", "U0APPROVER"), request, options).text).toContain(
      "*Rejected* by <@U0APPROVER>",
    );
    expect(eventReply(event("cancelled", "U0REQUESTER"), request, options).text).toContain(
      "*Cancelled* by <@U0REQUESTER>",
    );
  });

  it("tells the approvers when the record is live, while the request waits for them", () => {
    const live = event("dns-live", "system", { summary: "Live and matches the key." });
    const pending = { ...request, state: "pending" as const };
    const withApprovers = { dryRun: false, approvers: ["U0BOB", "S0MAILADM"] };
    expect(eventReply(live, pending, withApprovers).text).toBe(
      ":white_check_mark: *DNS record is live* and matches the key.\n<@U0BOB> or <!subteam^S0MAILADM>: you can approve it now.",
    );
    expect(eventReply(live, { ...request, state: "active" }, withApprovers).text).toBe(
      ":white_check_mark: *DNS record is live* and matches the key.",
    );
  });

  it("mentions the approvers only the first time the record is live (once per request)", () => {
    const pending = { ...request, state: "pending" as const };
    const withApprovers = { dryRun: false, approvers: ["U0BOB", "S0MAILADM"] };
    const first = event("dns-live", "system", {
      summary: "Live and matches the key.",
      firstLive: true,
    });
    const again = event("dns-live", "system", {
      summary: "Live and matches the key.",
      firstLive: false,
    });
    expect(eventReply(first, pending, withApprovers).text).toContain("<@U0BOB>");
    const back = eventReply(again, pending, withApprovers);
    expect(shown(back)).not.toContain("<@U0BOB>");
    expect(shown(back)).not.toContain("subteam");
    expect(back.text).toContain("*DNS record is live*");
  });

  it("with more than five approvers, mentions the groups and counts the rest", () => {
    const live = event("dns-live", "system", { summary: "Live and matches the key." });
    const pending = { ...request, state: "pending" as const };
    const approvers = ["U01", "U02", "S0MAILADM", "U03", "U04", "S0SECOPS", "U05"];
    expect(eventReply(live, pending, { dryRun: false, approvers }).text).toContain(
      "\n<!subteam^S0MAILADM>, <!subteam^S0SECOPS> and 5 more: you can approve it now.",
    );
  });

  it("reminds of the expiry, mentioning the requester and the approvers", () => {
    const reminder = event("expiry-reminder", "system", {
      expiresAt: "2026-11-17T10:42:00.000Z",
      ttlDays: 14,
    });
    const pending = { ...request, state: "pending" as const, requesterId: "U0REQUESTER" };
    const withApprovers = { dryRun: false, approvers: ["U0BOB", "S0MAILADM"] };
    const text = eventReply(reminder, pending, withApprovers).text;
    expect(text).toContain(
      ":alarm_clock: *Expires <!date^1794912120^{date_short_pretty} {time}|2026-11-17 10:42 UTC>* (DKIM_REQUEST_TTL_DAYS is 14) unless it is approved",
    );
    expect(text).toContain(
      "<@U0REQUESTER>: publish the TXT record shown on the card (or Cancel if it is no longer needed). <@U0BOB> or <!subteam^S0MAILADM>: approve it once DNS is live.",
    );
    const live = {
      ...pending,
      lastDnsCheck: {
        status: "live" as const,
        problemCode: null,
        summary: "Live and matches the key.",
        checkedAt: AT,
      },
    };
    expect(eventReply(reminder, live, withApprovers).text).toContain(
      "<@U0BOB> or <!subteam^S0MAILADM>: the TXT record is live, so it waits only for you (approve or reject it). Asked by <@U0REQUESTER>.",
    );
  });

  it("gives the DNS problem's sentence, and says when a published record is gone", () => {
    const wrong = eventReply(
      event("dns-problem", "system", {
        status: "wrong",
        summary: "Published, but the key is cut short.",
        message: "The record is cut short: p= has 200 of 392 characters.",
      }),
      request,
      options,
    );
    expect(wrong.text).toBe(
      ":warning: *DNS record is not right yet*: The record is cut short: p= has 200 of 392 characters.",
    );
    const gone = eventReply(
      event("dns-problem", "system", {
        status: "missing",
        message: "Nothing is published at this name yet: publish the TXT record, then check again.",
      }),
      request,
      options,
    );
    expect(gone.text).toMatch(/^:warning: \*DNS record is gone\*: Nothing is published/);
  });

  it("says Active plainly, and in a dry run that nothing was changed", () => {
    const active = { ...request, state: "active" as const, usernames: ["a@x", "b@x"] };
    expect(eventReply(event("active", "system"), active, options).text).toBe(
      ":white_check_mark: *Active*: SpamExperts signs mail for *example.com* with selector `s202611` (2 outgoing users). The bot's copy of the private key is erased.",
    );
    const dry = eventReply(event("active", "system", { dryRun: true }), active, options).text;
    expect(dry).toContain("*Active* (DRY RUN): the key would now be installed");
    expect(dry).not.toContain("SpamExperts signs");
  });

  it("shows the reject reason, escaped", () => {
    const text = eventReply(
      event("rejected", "U0APPROVER", { reason: "Wrong selector <!channel>" }),
      request,
      options,
    ).text;
    expect(text).toContain("> Wrong selector &lt;!channel&gt;");
    expect(text).not.toContain("<!channel>");
  });

  it("says how long an expired request could wait", () => {
    expect(
      eventReply(event("expired", "system", { ttlDays: 14 }), request, options).text,
    ).toContain("nobody approved it within 14 days");
  });
});

describe("applyReply: one reply for every step of the apply", () => {
  const users = Array.from({ length: 100 }, (_, i) => `user${i}@example.com`);

  it("opens with who approved, and shows the steps as they complete", () => {
    const opener = event("approved", "U0APPROVER");
    const start = applyReply(opener, { ...request, state: "applying" }, options);
    expect(start.text).toBe(
      ":+1: *Approved* by <@U0APPROVER>\n:hourglass_flowing_sand: Installing the certificate…",
    );
    const halfway = applyReply(
      opener,
      {
        ...request,
        state: "applying",
        usernames: ["a@example.com", "b@example.com"],
        progress: { certificateInstalled: true, enabledUsernames: ["a@example.com"] },
      },
      options,
    );
    expect(halfway.text).toBe(
      [
        ":+1: *Approved* by <@U0APPROVER>",
        ":heavy_check_mark: Certificate installed",
        ":heavy_check_mark: Signing enabled for 1 of 2 outgoing users: `a@example.com`",
        ":hourglass_flowing_sand: Enabling signing for `b@example.com`…",
      ].join("\n"),
    );
  });

  it("stays short with 100 outgoing users", () => {
    const done = applyReply(
      event("approved", "U0APPROVER"),
      {
        ...request,
        state: "active",
        usernames: users,
        progress: { certificateInstalled: true, enabledUsernames: users },
      },
      options,
    );
    expect(done.text.split("\n")).toHaveLength(3);
    expect(done.text).toContain(
      "Signing enabled for 100 of 100 outgoing users: `user0@example.com`",
    );
    expect(done.text).toMatch(/and \d+ more$/);
    expect(done.text.length).toBeLessThan(800);
  });

  it("says where a failed run stopped", () => {
    const text = applyReply(
      event("retried", "U0APPROVER"),
      { ...request, progress: { certificateInstalled: true, enabledUsernames: [] } },
      options,
    ).text;
    expect(text).toBe(
      [
        ":repeat: *Retry* by <@U0APPROVER>: going on from the step that failed.",
        ":heavy_check_mark: Certificate installed",
        ":x: Stopped: the failure is below.",
      ].join("\n"),
    );
  });

  it("ends a run cut short by a restart without a step still under way", () => {
    const text = applyReply(
      event("approved", "U0APPROVER"),
      {
        ...request,
        state: "applying",
        progress: { certificateInstalled: true, enabledUsernames: [] },
      },
      options,
      [],
      { cutShort: true },
    ).text;
    expect(text).toBe(
      [
        ":+1: *Approved* by <@U0APPROVER>",
        ":heavy_check_mark: Certificate installed",
        ":arrows_counterclockwise: Cut short by a restart: it goes on below.",
      ].join("\n"),
    );
  });

  it("in a dry run shows the calls it would have made, the certificate described, a few of many", () => {
    const text = applyReply(
      event("approved", "U0APPROVER"),
      {
        ...request,
        state: "active",
        usernames: users,
        progress: { certificateInstalled: true, enabledUsernames: users },
      },
      { dryRun: true },
    ).text;
    expect(text).toContain("DRY RUN: nothing is changed. Would have called:");
    expect(text).toContain(
      `api_set_dkim_certificate(domain=example.com, certificate=[redacted: 2048-bit RSA private key, ${request.fingerprint}], selector=s202611)`,
    );
    expect(text).toContain(
      "api_set_dkim_selector(domain=example.com, selector=s202611, username=user0@example.com)",
    );
    expect(text).not.toContain("username=user3@example.com");
    expect(text).toContain("…and 97 more `api_set_dkim_selector` calls");
  });

  it("quotes what the API said on a step that succeeded, a few remarks at most", () => {
    const note = stepNote(
      event("selector-enabled", "system", {
        call: "api_set_dkim_selector",
        username: "mailer@example.com",
        text: "Warning: the TXT record was not found <yet>",
      }),
    );
    expect(note).toBe(
      "`api_set_dkim_selector` for `mailer@example.com` said:\n> Warning: the TXT record was not found &lt;yet&gt;",
    );
    expect(stepNote(event("selector-enabled", "system", { text: "" }))).toBeUndefined();
    expect(stepNote(event("approved", "U0A", { text: "x" }))).toBeUndefined();
    const notes = Array.from({ length: 5 }, (_, i) => `note ${i}`);
    const text = applyReply(event("approved", "U0A"), request, options, notes).text;
    expect(text).toContain("note 2");
    expect(text).not.toContain("note 3");
    expect(text).toContain("…and 2 more remarks");
  });
});

describe("failureReply", () => {
  const failed = event("failed", "system", {
    call: "api_set_dkim_selector",
    username: "mailer@example.com",
    error:
      'SpamExperts rejected api_set_dkim_selector for example.com (HTTP 200): "ERROR: Unknown user"; fix what it says and try again.',
    apiText: "ERROR: Unknown user",
  });

  it("says which step failed, in the API's words once, with Retry while the request is failed", () => {
    const reply = failureReply(failed, request, options);
    expect(reply.text).toContain("*Failed* at `api_set_dkim_selector` for `mailer@example.com`:");
    expect(reply.text.split("ERROR: Unknown user")).toHaveLength(2);
    expect(reply.text).toContain("click *Retry*");
    expect(reply.text).not.toMatch(NO_ACTOR_LINE);
    const actions = reply.blocks.find((block) => block.type === "actions");
    expect(actions?.block_id).toBe(BLOCK_IDS.failedActions);
    const [retry] = buttonsOf(reply);
    expect(retry?.action_id).toBe(ACTION_IDS.retry);
    expect(decodeActionValue(retry?.value)).toEqual({ requestId: request.id });
  });

  it("loses its button once the request is not failed, and says how it went on", () => {
    const retried = event("retried", "U0BOB");
    const reply = failureReply(
      failed,
      { ...request, state: "applying" },
      {
        ...options,
        resolvedBy: retried,
      },
    );
    expect(buttonsOf(reply)).toEqual([]);
    expect(reply.text).toContain(":repeat: Retried by <@U0BOB>: see below.");
    expect(reply.text).not.toContain("click *Retry*");
    const later = failureReply(failed, { ...request, state: "active" }, options);
    expect(buttonsOf(later)).toEqual([]);
  });

  it("names the step from the service's `step` when there is no call", () => {
    for (const [step, expected] of [
      ["certificate", "*Failed* at installing the certificate:"],
      ["selector for mailer@example.com", "*Failed* at enabling signing for `mailer@example.com`:"],
    ] as const) {
      expect(failureReply(event("failed", "system", { step }), request, options).text).toContain(
        expected,
      );
    }
  });

  it("never shows key material, even if a detail carried some by mistake", () => {
    const text = failureReply(
      event("failed", "system", {
        apiText: "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
      }),
      request,
      options,
    ).text;
    expect(text).not.toContain("BEGIN RSA");
    expect(text).not.toContain("MIIEowIBAAKCAQEA");
  });
});
