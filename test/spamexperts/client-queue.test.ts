/**
 * A call's timeout measures the call, not its wait for a connection (issue 13): a batch of
 * applies puts hundreds of calls on the client at once, and a call that waited its turn must
 * still get its whole timeout once it is sent.
 */
import { setTimeout as delay } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { DkimApi } from "../../src/spamexperts/types.js";
import { type FakeSpamExperts, faults, startFakeSpamExperts } from "../helpers/fake-spamexperts.js";
import { clientMaker, PASSWORD, USERNAME } from "./support.js";

let api: FakeSpamExperts;
// Real waits between retries here: the point is how retries queue.
const maker = clientMaker(() => api, { sleep: (ms) => delay(ms), random: Math.random });
const client = maker.client;

beforeAll(async () => {
  api = await startFakeSpamExperts({ username: USERNAME, password: PASSWORD });
});

afterEach(async () => {
  await maker.closeAll();
  api.reset();
  api.setLatency(0);
});

afterAll(async () => {
  await api.close();
});

interface Tally {
  succeeded: number;
  failed: string[];
  attempts: number;
}

async function burst(se: DkimApi, calls: number): Promise<Tally> {
  const outcomes = await Promise.allSettled(
    Array.from({ length: calls }, (_, index) =>
      se.setDkimSelector(`d${index}.example`, "s1", `d${index}.example`),
    ),
  );
  const tally: Tally = { succeeded: 0, failed: [], attempts: 0 };
  for (const outcome of outcomes) {
    if (outcome.status === "fulfilled") {
      tally.succeeded += 1;
      tally.attempts += outcome.value.attempts;
    } else {
      tally.failed.push(String(outcome.reason));
    }
  }
  return tally;
}

describe("calls waiting for a connection", () => {
  it("serves 400 calls at once against a cluster answering each in 200 ms, none failed", async () => {
    // SPAMEXPERTS_TIMEOUT_MS 2000 and 4 connections: 400 x 200 ms / 4 = 20 s in all, ten
    // times the timeout, so a timeout that counted the wait would fail most of them.
    api.setLatency(200);
    const se = client({ timeoutMs: 2_000, connections: 4 });
    const tally = await burst(se, 400);
    expect(tally.failed.slice(0, 3)).toEqual([]);
    expect(tally.succeeded).toBe(400);
    // Nothing timed out, so nothing was sent twice.
    expect(tally.attempts).toBe(400);
    expect(api.requests).toHaveLength(400);
    expect(api.peakInFlight).toBeLessThanOrEqual(4);
  }, 120_000);

  it("still times out a call that itself takes longer than the timeout, and only that one", async () => {
    // The first 4 calls to arrive hold every connection for 5 s; the 8 behind them wait
    // about 300 ms for a connection, longer than the whole timeout, and must not fail for it.
    api.failNext("api_set_dkim_selector", faults.slow(5_000), 4);
    const se = client({ timeoutMs: 300, maxAttempts: 1, connections: 4 });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 12 }, (_, index) =>
        se.setDkimSelector(`d${index}.example`, "s1", `d${index}.example`),
      ),
    );
    const failed = outcomes.filter((outcome) => outcome.status === "rejected");
    expect(failed).toHaveLength(4);
    for (const outcome of failed) {
      expect(outcome.reason).toMatchObject({ code: "SPAMEXPERTS_TRANSIENT", attempts: 1 });
      expect(String(outcome.reason)).toMatch(/no answer within 300 ms/);
    }
    expect(outcomes.filter((outcome) => outcome.status === "fulfilled")).toHaveLength(8);
  });
});
