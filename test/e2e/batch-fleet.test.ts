/**
 * A batch of 100 domains end to end, against a SpamExperts stand-in that answers in 200 ms and
 * a Slack that rate-limits the card's updates and fails some posts: the records attached and
 * loaded by named-checkzone, at most DKIM_APPLY_CONCURRENCY calls at the cluster at once, every
 * domain applied once, the card's updates delayed but none lost, at most about one call a
 * second to the channel sustained, and a thread of a few replies, none per domain.
 */
import { describe, expect, it } from "vitest";
import type { RecordedCall } from "../helpers/fake-slack.js";
import { checkZoneFragment, namedCheckzoneAvailability } from "../helpers/named-checkzone.js";
import {
  attachedRecords,
  BATCH_ACTIONS,
  bulkSetUp,
  buttonLabel,
  clickCard,
  publishRows,
  replyTextsOf,
  waitForBatchReply,
  waitForCard,
} from "./batch-flows.js";
import { answersAt, apiCallsFor } from "./flows.js";
import { CHANNEL, useBot } from "./harness.js";

const harness = useBot({ DKIM_APPLY_CONCURRENCY: "4", DKIM_SLACK_PACE_MS: "1000" });
const zoneCheck = namedCheckzoneAvailability();
const POSTS = new Set(["chat.postMessage", "chat.update", "files.completeUploadExternal"]);

/** Calls that post or edit in `channel`, oldest first. */
function channelCalls(channel: string): RecordedCall[] {
  return harness.slack
    .calls()
    .filter(
      (call) =>
        POSTS.has(call.method) && (call.params.channel ?? call.params.channel_id) === channel,
    );
}

describe("a batch of 100 domains", () => {
  it("applies each once, paces Slack, waits out Retry-After and loses no update", async () => {
    const domains = Array.from({ length: 100 }, (_, index) => `fleet-${index}.example`);
    const batch = await bulkSetUp(harness, domains, { separator: "\n" });
    const { zone, rows } = await attachedRecords(harness, batch);
    expect(rows).toHaveLength(100);
    if (zoneCheck.available || process.env.CI === "true") {
      const loaded = checkZoneFragment(zone.bytes?.toString("utf8") ?? "");
      expect(loaded.ok, loaded.output).toBe(true);
      expect(loaded.txt.size).toBe(100);
    }
    publishRows(harness, rows);
    await waitForCard(harness, batch, /Check DNS/);
    const checked = await clickCard(harness, batch, BATCH_ACTIONS.batchCheckDns);
    expect((await answersAt(harness, checked, 1, 60_000))[0]).toContain(
      "Checked 100 records: 100 live and matching",
    );
    await waitForCard(harness, batch, /Approve all live \(100\)/);
    expect(buttonLabel(harness, batch, BATCH_ACTIONS.batchApproveLive)).toBe(
      "Approve all live (100)",
    );

    // The cluster answers in 200 ms; Slack rate-limits the card's next updates and fails a
    // few posts outright for a while.
    harness.spamExperts.reset();
    harness.spamExperts.setLatency(200);
    harness.slack.rateLimit("chat.update", 2, 3);
    harness.slack.fail("chat.postMessage", { kind: "http", status: 500 }, 2);
    const started = channelCalls(CHANNEL).length;
    const approve = await clickCard(harness, batch, BATCH_ACTIONS.batchApproveLive);
    expect((await answersAt(harness, approve, 1))[0]).toContain("Approving 100 requests");

    await waitForCard(harness, batch, /100 active/, 180_000);
    const summary = await waitForBatchReply(harness, batch, /\*Approved\* by/, 60_000);
    expect(JSON.stringify(summary.blocks)).toContain("Now: 100 active.");
    harness.spamExperts.setLatency(0);

    // Each domain applied once, never more than DKIM_APPLY_CONCURRENCY calls at once.
    for (const domain of domains) {
      expect(apiCallsFor(harness, domain)).toEqual([
        "api_set_dkim_certificate",
        "api_set_dkim_selector",
      ]);
    }
    expect(harness.spamExperts.peakInFlight).toBeLessThanOrEqual(4);

    // Slack: the rate-limited updates were sent again after their Retry-After, and nothing
    // reached the channel meanwhile.
    const calls = channelCalls(CHANNEL).slice(started);
    const limited = calls.filter((call) => call.status === 429);
    expect(limited).toHaveLength(3);
    for (const call of limited) {
      const next = calls.find((other) => other.seq > call.seq);
      expect(next, "a call after the rate limit").toBeDefined();
      expect((next?.at.getTime() ?? 0) - call.at.getTime()).toBeGreaterThanOrEqual(2000);
    }
    // About one call a second sustained: a burst of 3, then one a second, in any 10 s window.
    for (const first of calls) {
      const inWindow = calls.filter(
        (call) =>
          call.at.getTime() >= first.at.getTime() &&
          call.at.getTime() < first.at.getTime() + 10_000,
      );
      expect(inWindow.length, `calls from ${first.at.toISOString()}`).toBeLessThanOrEqual(14);
    }

    // A thread of a few replies: the records, every record live, the summary. None per domain.
    const thread = replyTextsOf(harness, batch);
    expect(thread.length).toBeLessThanOrEqual(4);
    expect(thread.some((text) => /fleet-17\.example/.test(text) && /\*Active\*/.test(text))).toBe(
      false,
    );
  });
});
