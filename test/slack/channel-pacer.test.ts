/**
 * The per-channel queue in front of every post and edit: a burst, then one call a second per
 * channel; Retry-After holds one channel and the call is sent again; a stop gives the backlog
 * back at once. On a clock of its own, so the spacing is checked exactly, without waiting.
 */
import { webApi } from "@slack/bolt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type ChannelPacer,
  createChannelPacer,
  PacerStoppedError,
} from "../../src/slack/channel-pacer.js";
import { createPacedClient } from "../../src/slack/slack-client.js";
import { type FakeSlack, startFakeSlack } from "../helpers/fake-slack.js";

/** A clock that moves only when the pacer sleeps. */
function fakeClock() {
  let now = 0;
  return {
    now: () => now,
    sleep: async (ms: number) => {
      now += ms;
      await Promise.resolve();
    },
  };
}

function rateLimited(retryAfter: number): Error {
  return Object.assign(new Error("ratelimited"), {
    code: "slack_webapi_rate_limited_error",
    retryAfter,
  });
}

describe("createChannelPacer", () => {
  it("lets a burst go, then one call a second, per channel", async () => {
    const clock = fakeClock();
    const pacer = createChannelPacer({ burst: 3, intervalMs: 1000, ...clock });
    const sent: Array<[string, number]> = [];
    const call = (channel: string) =>
      pacer.run(channel, async () => {
        sent.push([channel, clock.now()]);
        return channel;
      });
    const results = await Promise.all([...Array.from({ length: 6 }, () => call("C1")), call("C2")]);
    expect(results.filter((result) => result === "C1")).toHaveLength(6);
    expect(sent.filter(([channel]) => channel === "C1").map(([, at]) => at)).toEqual([
      0, 0, 0, 1000, 2000, 3000,
    ]);
    // Another channel is not held up by the first one's backlog.
    expect(sent.find(([channel]) => channel === "C2")?.[1]).toBe(0);
  });

  it("paces calls made one after another (each once the last was answered) like a queue of them", async () => {
    const clock = fakeClock();
    const pacer = createChannelPacer({ burst: 3, intervalMs: 1000, ...clock });
    const sent: number[] = [];
    for (let i = 0; i < 6; i++) {
      await pacer.run("C1", async () => {
        sent.push(clock.now());
      });
    }
    expect(sent).toEqual([0, 0, 0, 1000, 2000, 3000]);
    pacer.stop();
  });

  it("forgets a quiet channel once its burst is whole again", async () => {
    const pacer = createChannelPacer({ burst: 2, intervalMs: 10 });
    for (let i = 0; i < 3; i++) await pacer.run("C1", async () => undefined);
    expect(pacer.channels).toBe(1);
    const deadline = Date.now() + 5000;
    while (pacer.channels > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(pacer.channels).toBe(0);
    pacer.stop();
  });

  it("holds the channel for Retry-After and sends the same call again", async () => {
    const clock = fakeClock();
    const pacer = createChannelPacer({ burst: 3, intervalMs: 1000, ...clock });
    const attempts: number[] = [];
    let limited = true;
    const first = pacer.run("C1", async () => {
      attempts.push(clock.now());
      if (limited) {
        limited = false;
        throw rateLimited(30);
      }
      return "posted";
    });
    const second = pacer.run("C1", async () => clock.now());
    expect(await first).toBe("posted");
    expect(attempts).toEqual([0, 30_000]);
    // Nothing was sent to the channel during the hold.
    expect(await second).toBeGreaterThanOrEqual(31_000);
  });

  it("passes other failures to the caller and goes on with the next call", async () => {
    const pacer = createChannelPacer({ ...fakeClock() });
    await expect(
      pacer.run("C1", async () => {
        throw new Error("not_in_channel");
      }),
    ).rejects.toThrow("not_in_channel");
    expect(await pacer.run("C1", async () => "next")).toBe("next");
  });

  it("gives the backlog back at once on stop, and lets the call in flight finish", async () => {
    const clock = fakeClock();
    const pacer: ChannelPacer = createChannelPacer({ burst: 1, intervalMs: 1000, ...clock });
    let answer: (value: string) => void = () => {};
    const inFlight = pacer.run("C1", () => new Promise<string>((resolve) => (answer = resolve)));
    const waiting = [pacer.run("C1", async () => "late"), pacer.run("C1", async () => "later")];
    await Promise.resolve();
    expect(pacer.waiting).toBe(2);
    pacer.stop();
    for (const each of waiting) await expect(each).rejects.toBeInstanceOf(PacerStoppedError);
    answer("done");
    expect(await inFlight).toBe("done");
    await expect(pacer.run("C2", async () => "new")).rejects.toBeInstanceOf(PacerStoppedError);
  });
});

describe("a paced Web API client against fake Slack", () => {
  let fake: FakeSlack;
  beforeAll(async () => {
    fake = await startFakeSlack();
  });
  afterEach(() => fake.reset());
  afterAll(() => fake.close());

  it("answers Slack's ratelimited by waiting out Retry-After in that channel only", async () => {
    const pacer = createChannelPacer({ burst: 5, intervalMs: 10 });
    const client = createPacedClient(
      "xoxb-paced",
      { slackApiUrl: fake.apiUrl, logLevel: webApi.LogLevel.ERROR, retryConfig: { retries: 0 } },
      pacer,
    );
    fake.rateLimit("chat.update", 1);
    const posted = await client.chat.postMessage({ channel: "C1", text: "card" });
    const [updated, other] = await Promise.all([
      client.chat.update({ channel: "C1", ts: posted.ts ?? "", text: "redrawn" }),
      client.chat.postMessage({ channel: "C2", text: "elsewhere" }),
    ]);
    expect(updated.ok).toBe(true);
    expect(other.ok).toBe(true);
    const updates = fake.calls("chat.update");
    expect(updates.map((call) => call.status)).toEqual([429, 200]);
    // The retry came after the Retry-After; the other channel did not wait for it.
    const [limited, retried] = updates;
    expect((retried?.at.getTime() ?? 0) - (limited?.at.getTime() ?? 0)).toBeGreaterThanOrEqual(
      1000,
    );
    const elsewhere = fake.calls("chat.postMessage").find((call) => call.params.channel === "C2");
    expect(elsewhere?.at.getTime()).toBeLessThan(retried?.at.getTime() ?? 0);
    expect(fake.message("C1", posted.ts ?? "")?.text).toBe("redrawn");
  });
});
