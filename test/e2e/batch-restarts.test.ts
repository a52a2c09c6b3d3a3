/**
 * An acked batch is a promise: a stop or a crash right after the ack, while its keys are being
 * made, or in the middle of its apply loses nothing; the next start finishes it, posts one card
 * and applies each domain once.
 */
import { describe, expect, it } from "vitest";
import { faults } from "../helpers/fake-spamexperts.js";
import {
  attachedRecords,
  BATCH_ACTIONS,
  batchCards,
  bulkSetUp,
  clickCard,
  publishRows,
  replyTextsOf,
  waitForBatchReply,
  waitForCard,
} from "./batch-flows.js";
import { answersAt, apiCallsFor, CERTIFICATE, eventually, SELECTOR, statusLines } from "./flows.js";
import { CHANNEL, useBot } from "./harness.js";

const ENV = { SPAMEXPERTS_TIMEOUT_MS: "20000" };
const harness = useBot(ENV);

describe("a restart in the middle of a batch", () => {
  it.each([
    ["SIGKILL", "kill"],
    ["SIGTERM", "stop"],
  ] as const)("finishes a batch whose keys were being made at a %s", async (_signal, how) => {
    const domains = Array.from({ length: 6 }, (_, index) => `${how}-${index}.restart.example`);
    const before = batchCards(harness).length;
    // Big keys, so the stop comes while they are being made.
    const ack = await harness.command(`setup ${domains.join(" ")} bits=4096`);
    expect(ack.status).toBe(200);
    if (how === "kill") await harness.bot.kill();
    else expect(await harness.bot.stop()).toBe(0);
    await harness.startBot(ENV);

    const card = await harness.slack.waitUntil(
      () => batchCards(harness)[before],
      "the batch card after the restart",
      120_000,
    );
    const batch = { channel: CHANNEL, ts: card.ts, posted: structuredClone(card) };
    const { rows } = await attachedRecords(harness, batch, 240_000);
    expect(rows.map((row) => row[0]?.split("._domainkey.")[1]).sort()).toEqual([...domains].sort());
    // One card, one request per domain, whatever the stop cut short.
    expect(batchCards(harness)).toHaveLength(before + 1);
    for (const domain of domains) expect(await statusLines(harness, domain)).toHaveLength(1);
  });

  it("resumes an apply cut short by a crash (SIGKILL), and applies each domain once", async () => {
    const domains = ["crash-a.batch.example", "crash-b.batch.example", "crash-c.batch.example"];
    const batch = await bulkSetUp(harness, domains);
    const { rows } = await attachedRecords(harness, batch);
    publishRows(harness, rows);
    await waitForCard(harness, batch, /Check DNS/);
    await clickCard(harness, batch, BATCH_ACTIONS.batchCheckDns);
    await waitForCard(harness, batch, /Approve all live \(3\)/);

    // Every selector call hangs: the crash comes after the certificates were installed.
    harness.spamExperts.failNext(SELECTOR, faults.slow(60_000), 3);
    const approve = await clickCard(harness, batch, BATCH_ACTIONS.batchApproveLive);
    expect((await answersAt(harness, approve, 1))[0]).toContain("Approving 3 requests");
    await eventually(
      () => domains.every((domain) => apiCallsFor(harness, domain).includes(SELECTOR)),
      "the selector calls of the three domains to reach SpamExperts",
      30_000,
    );
    await harness.bot.kill();

    await harness.startBot(ENV);
    await waitForCard(harness, batch, /3 active/, 60_000);
    const summary = await waitForBatchReply(harness, batch, /\*Approved\* by/);
    expect(JSON.stringify(summary.blocks)).toContain("Now: 3 active.");
    for (const domain of domains) {
      // The certificate is not installed again; the selector call in flight is made again.
      expect(apiCallsFor(harness, domain)).toEqual([CERTIFICATE, SELECTOR, SELECTOR]);
    }
    // Told once, after the restart.
    expect(
      replyTextsOf(harness, batch).filter((text) => /\*Approved\* by/.test(text)),
    ).toHaveLength(1);
  });

  it("stops without waiting on a rate-limited backlog, and tells it at the next start", async () => {
    const domains = ["stop-a.batch.example", "stop-b.batch.example", "stop-c.batch.example"];
    const batch = await bulkSetUp(harness, domains);
    const { rows } = await attachedRecords(harness, batch);
    publishRows(harness, rows);
    await waitForCard(harness, batch, /Check DNS/);
    await clickCard(harness, batch, BATCH_ACTIONS.batchCheckDns);
    await waitForCard(harness, batch, /Approve all live \(3\)/);
    // From now on Slack holds every post and edit back for a minute.
    harness.slack.rateLimit("chat.update", 60, 1000);
    harness.slack.rateLimit("chat.postMessage", 60, 1000);
    await clickCard(harness, batch, BATCH_ACTIONS.batchApproveLive);
    await eventually(
      () => domains.every((domain) => apiCallsFor(harness, domain).length === 2),
      "every domain applied",
    );
    // A clean stop, without waiting out the minute: what is not told stays in the store.
    const stopping = harness.bot;
    expect(await stopping.stop()).toBe(0);
    expect(stopping.lines.some((line) => line.includes('"msg":"Stopped"'))).toBe(true);

    harness.slack.clearFaults();
    await harness.startBot(ENV);
    await waitForCard(harness, batch, /3 active/, 60_000);
    await waitForBatchReply(harness, batch, /\*Approved\* by/, 60_000);
    for (const domain of domains) expect(apiCallsFor(harness, domain)).toHaveLength(2);
  });
});
