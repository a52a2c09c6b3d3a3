/**
 * The batch thread's replies and the answers to a batch card's clicks, as pure functions: one
 * reply per step, domains grouped by reason, failures in the API's words with Retry failed,
 * the records as files, and everything within Slack's limits.
 */
import { describe, expect, it } from "vitest";
import { splitIntoStrings } from "../../../src/dkim/record.js";
import type { BatchRun } from "../../../src/requests/batch.js";
import { dnsCheckedText, runStartedText } from "../../../src/slack/ui/batch-answers.js";
import {
  batchRejectModal,
  readBatchRejectMetadata,
} from "../../../src/slack/ui/batch-reject-modal.js";
import {
  allLiveReply,
  checkedReply,
  expiryReply,
  listOf,
  recordFiles,
  recordsComment,
  recordsRefusedReplies,
  runReply,
} from "../../../src/slack/ui/batch-thread.js";
import { CALLBACK_IDS, decodeBatchValue, encodeBatchValue } from "../../../src/slack/ui/ids.js";
import { domainsOf } from "../../../src/slack/ui/setup-modal.js";
import { parseCsv } from "../../helpers/csv.js";
import { sampleBatch, sampleMembers } from "./batch-fixtures.js";

const options = { dryRun: false, approvers: ["UAPPROVER1", "SAPPROVERS"] };

function run(overrides: Partial<BatchRun> = {}): BatchRun {
  return {
    id: "r1",
    kind: "approve",
    actorId: "UAPPROVER1",
    via: "UAPPROVER1",
    reason: null,
    at: "2026-12-07T09:20:00.000Z",
    items: [],
    leftOut: [],
    refused: [],
    finishedAt: "2026-12-07T09:21:00.000Z",
    toldTs: null,
    ...overrides,
  };
}

describe("the batch thread", () => {
  it("lists the domains not set up, each with why", () => {
    const batch = sampleBatch(2, {
      invalid: [{ domain: "bad!.example", reason: 'domain "bad!.example": "!" is not allowed' }],
      skipped: [{ domain: "old.example", reason: "old.example already has an active DKIM key" }],
    });
    const reply = JSON.stringify(checkedReply(batch).blocks);
    expect(reply).toContain("2 domains of the 3 asked; the others go on");
    expect(reply).toContain("*Not valid* (1):\\n• *bad!.example*: domain");
    expect(reply).toContain("*Left alone* (1):\\n• *old.example*: old.example already has");
  });

  it("groups domains that share a reason, naming a few and counting the rest", () => {
    const entries = Array.from({ length: 30 }, (_, index) => ({
      domain: `d${index}.example`,
      reason: "record not live yet: No DKIM record is published yet.",
    }));
    const lines = listOf("Left out", entries);
    expect(lines).toEqual([
      "*Left out* (30):",
      expect.stringMatching(
        /^• record not live yet: No DKIM record is published yet\. \(30\): \*d0\.example\*, .* and 22 more$/,
      ),
    ]);
  });

  it("attaches every record as a zone file and a CSV, in the order the domains were given", () => {
    const batch = sampleBatch(3);
    const members = sampleMembers(batch, (index) => ({
      recordValue: `v=DKIM1; k=rsa; p=${"A".repeat(300 + index)}`,
    })).reverse();
    const [zone, csv] = recordFiles(batch, members, new Date("2026-12-07T09:30:00Z"));
    expect(zone?.filename).toBe(`dkim-records-${batch.id}.zone`);
    expect(String(zone?.content)).toMatch(
      /^; DKIM records of dkim-bot batch b7k2m9q4x8zz: 3 TXT records/,
    );
    const rows = parseCsv(String(csv?.content));
    expect(rows.map((row) => row[0])).toEqual([
      "name",
      "s202612._domainkey.a0.batch.example",
      "s202612._domainkey.a1.batch.example",
      "s202612._domainkey.a2.batch.example",
    ]);
    expect(rows[1]?.[3]).toBe(
      splitIntoStrings(members[2]?.recordValue ?? "")
        .map((piece) => `"${piece}"`)
        .join(" "),
    );
    const comment = recordsComment(batch, members, options);
    expect(comment).toContain("*The 3 TXT records of this batch*");
    expect(comment).toContain(
      "<@UREQUESTER>: publish them. <@UAPPROVER1> or <!subteam^SAPPROVERS>",
    );
  });

  it("gives the records as text when Slack refuses the files, in messages within its limits", () => {
    const zone = Array.from(
      { length: 40 },
      (_, index) => `s1._domainkey.d${index}.example.\t3600\tIN\tTXT\t"${"p".repeat(200)}"`,
    ).join("\n");
    const replies = recordsRefusedReplies("missing_scope", zone);
    expect(replies[0]?.text).toContain("files:write");
    expect(replies.length).toBeGreaterThan(3);
    for (const reply of replies) expect(JSON.stringify(reply.blocks).length).toBeLessThan(3300);
    const shown = replies
      .slice(1)
      .map((reply) => JSON.stringify(reply.blocks))
      .join("");
    for (let index = 0; index < 40; index++) expect(shown).toContain(`d${index}.example.`);
  });

  it("mentions the approvers when every record is live, and before expiry", () => {
    expect(allLiveReply(3, options).text).toContain(
      "<@UAPPROVER1> or <!subteam^SAPPROVERS>: you can approve them now with *Approve all live (3)*",
    );
    const reminder = expiryReply(sampleBatch(2), "2026-12-20T09:00:00.000Z", 2, options);
    expect(reminder.text).toContain("2 requests of this batch expire");
    expect(reminder.text).toContain("<@UREQUESTER>");
  });

  it("sums a run up once: results, failures in the API's words, what was left out, Retry failed", () => {
    const batch = sampleBatch(4);
    const members = sampleMembers(batch, (index) =>
      index < 2
        ? { state: "active" }
        : { state: "failed", lastError: 'SpamExperts answered: "No such domain"' },
    );
    const items = members.map((member) => ({
      requestId: member.id,
      domain: member.domain,
      fingerprint: member.fingerprint,
    }));
    const finished = run({
      items,
      leftOut: [{ domain: "late.example", reason: "record not live yet: missing" }],
    });
    const reply = runReply({ ...batch, runs: [finished] }, finished, members, {
      ...options,
      retryButton: true,
    });
    const text = JSON.stringify(reply.blocks);
    expect(reply.text).toBe(
      ":+1: *Approved* by <@UAPPROVER1>: 4 requests, applied at most a few at a time.",
    );
    expect(text).toContain("Now: 2 active · 2 failed.");
    expect(text).toContain("• *a2.batch.example*, *a3.batch.example*\\n> SpamExperts answered");
    expect(text).toContain("*Left out* (1):\\n• *late.example*: record not live yet: missing");
    const button = reply.blocks.find((block) => block.type === "actions");
    expect(JSON.stringify(button)).toContain("Retry failed (2)");
    // Without the button once a later run made it stale.
    const stale = runReply(batch, finished, members, { ...options, retryButton: false });
    expect(stale.blocks.some((block) => block.type === "actions")).toBe(false);
  });

  it("says DRY RUN in a dry run's summary and claims nothing changed on the cluster", () => {
    const batch = sampleBatch(1);
    const members = sampleMembers(batch, () => ({ state: "active" }));
    const items = [
      { requestId: members[0]?.id ?? "", domain: "a0.batch.example", fingerprint: "x" },
    ];
    const reply = runReply(batch, run({ items }), members, {
      dryRun: true,
      retryButton: true,
    });
    expect(JSON.stringify(reply.blocks)).toContain(
      "1 done (DRY RUN: nothing was changed on the cluster)",
    );
    expect(reply.text).toContain("*Approved* (DRY RUN)");
  });

  it("tells reject and cancel with the reason", () => {
    const batch = sampleBatch(2);
    const members = sampleMembers(batch, () => ({ state: "rejected" }));
    const items = members.map((member) => ({
      requestId: member.id,
      domain: member.domain,
      fingerprint: member.fingerprint,
    }));
    const rejected = runReply(
      batch,
      run({ kind: "reject", reason: "wrong cluster", items }),
      members,
      {
        ...options,
        retryButton: false,
      },
    );
    expect(rejected.text).toContain(":no_entry: *Rejected* by <@UAPPROVER1>: 2 requests");
    expect(rejected.text).toContain("> wrong cluster");
  });
});

describe("answers to a batch card's clicks", () => {
  it("says what a click started and what it left out", () => {
    const started = runStartedText({
      batch: sampleBatch(3),
      run: run({
        finishedAt: null,
        items: [{ requestId: "m1", domain: "a.example", fingerprint: "x" }],
        leftOut: [{ domain: "b.example", reason: "record not live yet: missing" }],
      }),
    });
    expect(started).toBe(
      "Approving 1 request of this batch, a few at a time: the card shows the progress, and its thread gets the summary.\n*Left out* (1):\n• *b.example*: record not live yet: missing",
    );
  });

  it("tallies a batch's DNS check", () => {
    const text = dnsCheckedText({
      checked: 3,
      counts: { live: 1, missing: 1, wrong: 1, "lookup-failed": 0 },
      problems: [{ domain: "w.example", reason: "The record holds a different key." }],
      stoppedEarly: false,
    });
    expect(text).toBe(
      "Checked 3 records: 1 live and matching, 1 not published yet, 1 wrong.\n*Wrong* (1):\n• *w.example*: The record holds a different key.",
    );
  });
});

describe("batch ids and forms", () => {
  it("round-trips a batch button's value and refuses anything else", () => {
    const value = { batchId: "b7k2m9q4x8zz", digest: "AbCdEfGhIjKlMnOpQrSt_-" };
    expect(decodeBatchValue(encodeBatchValue(value))).toEqual(value);
    expect(decodeBatchValue("b7k2m9q4x8zz")).toEqual({ batchId: "b7k2m9q4x8zz" });
    for (const bad of ["", "B7K", "b7|short", "b7|AbCdEfGhIjKlMnOpQrSt_-|x", 42]) {
      expect(decodeBatchValue(bad)).toBeUndefined();
    }
  });

  it("asks Reject all's reason in a form that names the batch", () => {
    const view = batchRejectModal({ id: "b7k2m9q4x8zz", channelId: "CDKIMOPS" }, 5);
    expect(view.callback_id).toBe(CALLBACK_IDS.batchRejectForm);
    expect(JSON.stringify(view.blocks)).toContain("Reject the 5 open requests of this batch?");
    expect(readBatchRejectMetadata(view.private_metadata)).toEqual({
      batchId: "b7k2m9q4x8zz",
      channelId: "CDKIMOPS",
    });
    expect(readBatchRejectMetadata('{"batchId":"../x","channelId":"C1"}')).toBeUndefined();
  });

  it("reads several domains from the setup form's domain field", () => {
    expect(domainsOf("a.example\nb.example, c.example\n\n d.example ")).toEqual([
      "a.example",
      "b.example",
      "c.example",
      "d.example",
    ]);
    expect(domainsOf(" a.example, ")).toEqual(["a.example"]);
  });
});
