/**
 * The batch card as a pure function of the batch and its requests: who asked, how many, where
 * they stand, who acts next, a table within Slack's limits at any size, and exactly the
 * buttons that apply, bound to what the card shows.
 */
import { describe, expect, it } from "vitest";
import { type BatchRun, digestOf } from "../../../src/requests/batch.js";
import type { DkimRequest, StoredDnsCheck } from "../../../src/requests/model.js";
import { BATCH_DRY_RUN_NOTICE, batchCard, rowState } from "../../../src/slack/ui/batch-card.js";
import { LIMITS } from "../../../src/slack/ui/format.js";
import { decodeBatchValue } from "../../../src/slack/ui/ids.js";
import { sampleBatch, sampleMembers } from "./batch-fixtures.js";

const approvers = ["UAPPROVER1", "SAPPROVERS"];
const live: StoredDnsCheck = {
  status: "live",
  problemCode: null,
  summary: "Live and matches the key.",
  checkedAt: "2026-12-07T09:10:00.000Z",
};

function texts(value: unknown): string {
  return JSON.stringify(value);
}

function buttons(message: ReturnType<typeof batchCard>) {
  return message.blocks
    .filter((block) => block.type === "actions")
    .flatMap((block) => ("elements" in block ? block.elements : []))
    .map((element) => element as { text: { text: string }; value: string; action_id: string });
}

describe("batchCard", () => {
  it("says who asked, how many, what is left out, and who acts next, mentioning the approvers", () => {
    const batch = sampleBatch(3, { invalid: [{ domain: "bad!.example", reason: "not allowed" }] });
    const members = sampleMembers(batch, (index) => ({ lastDnsCheck: index === 2 ? null : live }));
    const card = batchCard(batch, members, { dryRun: false, approvers });
    const [head] = card.blocks;
    expect(texts(head)).toContain("DKIM for 3 domains* (of 4 asked) · asked by <@UREQUESTER>");
    expect(texts(head)).toContain("3 waiting for DNS and approval (2 live)");
    expect(texts(head)).toContain(
      "*Next:* <@UREQUESTER> publishes 1 TXT record (the zone file and the CSV in the thread have them all), then <@UAPPROVER1> or <!subteam^SAPPROVERS> clicks *Approve all live*.",
    );
    expect(texts(card.blocks)).toContain("*Not set up* (1 not valid): *bad!.example*");
    // The notification text names the approvers too: a mention there notifies.
    expect(card.text).toContain("<@UAPPROVER1> or <!subteam^SAPPROVERS>");
  });

  it("shows a row per domain: selector and state, keys still being made included", () => {
    const batch = sampleBatch(3, { state: "making" });
    const members = sampleMembers(batch, () => ({ lastDnsCheck: live })).slice(0, 1);
    const card = batchCard(batch, members, { dryRun: false });
    const table = texts(card.blocks);
    expect(table).toContain("Making keys*: 1 of 3 made");
    expect(table).toMatch(/a0\.batch\.example +s202612 +live/);
    expect(table).toMatch(/a1\.batch\.example +s202612 +key being made/);
  });

  it("offers Approve all live (N) bound to the digest of the live requests, with a confirmation", () => {
    const batch = sampleBatch(3);
    const members = sampleMembers(batch, (index) => ({ lastDnsCheck: index < 2 ? live : null }));
    const shown = buttons(batchCard(batch, members, { dryRun: false, approvers }));
    expect(shown.map((button) => button.text.text)).toEqual([
      "Check DNS",
      "Approve all live (2)",
      "Reject all",
      "Cancel",
    ]);
    const approve = shown[1];
    expect(decodeBatchValue(approve?.value)).toEqual({
      batchId: batch.id,
      digest: digestOf(batch, members.slice(0, 2)),
    });
    expect(texts(approve)).toContain("Approve 2 DKIM keys?");
  });

  it("shows a run's progress instead of the buttons that would start another", () => {
    const batch = sampleBatch(4);
    const members = sampleMembers(
      batch,
      (index) =>
        [{ state: "active" }, { state: "failed" }, { state: "applying" }, { lastDnsCheck: live }][
          index
        ] as Partial<DkimRequest>,
    );
    const run: BatchRun = {
      id: "r1",
      kind: "approve",
      actorId: "UAPPROVER1",
      via: "UAPPROVER1",
      reason: null,
      at: "2026-12-07T09:20:00.000Z",
      items: members.map((member) => ({
        requestId: member.id,
        domain: member.domain,
        fingerprint: member.fingerprint,
      })),
      leftOut: [],
      refused: [],
      finishedAt: null,
      toldTs: null,
    };
    const card = batchCard({ ...batch, runs: [run] }, members, { dryRun: false });
    expect(texts(card.blocks)).toContain(
      "*Applying* (approved by <@UAPPROVER1>): 1 done · 1 failed · 2 to go",
    );
    expect(buttons(card).map((button) => button.text.text)).toEqual(["Check DNS"]);
  });

  it("offers Retry failed (N) once the run is over, and no buttons once nothing is open", () => {
    const batch = sampleBatch(3);
    const failed = sampleMembers(batch, (index) => ({
      state: index === 0 ? "failed" : "active",
      lastError: "No such domain",
    }));
    const shown = buttons(batchCard(batch, failed, { dryRun: false, approvers }));
    expect(shown.map((button) => button.text.text)).toEqual([
      "Retry failed (1)",
      "Reject all",
      "Cancel",
    ]);
    expect(decodeBatchValue(shown[0]?.value)?.digest).toBe(digestOf(batch, failed.slice(0, 1)));
    const done = sampleMembers(batch, () => ({ state: "active" }));
    const card = batchCard(batch, done, { dryRun: false, approvers });
    expect(buttons(card)).toEqual([]);
    expect(texts(card.blocks)).toContain("3 active");
  });

  it("in a dry run says DRY RUN and claims nothing is signed", () => {
    const batch = sampleBatch(2);
    const members = sampleMembers(batch, () => ({ state: "active" }));
    const card = batchCard(batch, members, { dryRun: true, approvers });
    const text = texts(card.blocks);
    expect(text).toContain(BATCH_DRY_RUN_NOTICE.slice(0, 20));
    expect(text).toContain("2 done (DRY RUN: nothing is signed)");
    expect(text).not.toMatch(/\b2 active\b|SpamExperts signs/);
    expect(card.text.startsWith("DRY RUN: ")).toBe(true);
    expect(rowState(members[0], true)).toBe("done (dry run)");
  });

  it("stays within 50 blocks and 3,000 characters a section at 1,000 long domains, summarising the rest", () => {
    const batch = sampleBatch(
      1000,
      {},
      (index) => `${"x".repeat(50)}-${index}.very-long-customer-domain.example`,
    );
    const members = sampleMembers(batch, (index) => ({ lastDnsCheck: index % 2 ? live : null }));
    const card = batchCard(batch, members, { dryRun: false, approvers });
    expect(card.blocks.length).toBeLessThanOrEqual(LIMITS.blocksPerMessage);
    for (const block of card.blocks) {
      if (block.type === "section" && block.text !== undefined) {
        expect(block.text.text.length).toBeLessThanOrEqual(LIMITS.sectionText);
        if (block.text.text.startsWith("```")) expect(block.text.text.endsWith("```")).toBe(true);
      }
    }
    expect(texts(card.blocks)).toMatch(
      /…and \d+ more domains \(\d+ live, \d+ not checked yet\)\. Every row is in the CSV in the thread\./,
    );
    // A hundred ordinary domains are all shown.
    const hundred = sampleBatch(100);
    const shown = batchCard(
      hundred,
      sampleMembers(hundred, () => ({})),
      { dryRun: false },
    );
    expect(texts(shown.blocks)).toContain("a99.batch.example");
    expect(texts(shown.blocks)).not.toContain("more domains");
  });
});
