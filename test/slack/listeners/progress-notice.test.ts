import { describe, expect, it } from "vitest";
import {
  PROGRESS_NOTICE_AFTER_MS,
  type ProgressTimer,
  withProgressNotice,
} from "../../../src/slack/listeners/replies.js";
import { trackWaits, waitOn } from "../../../src/slack/waiting-on.js";

/** A timer that fires only when the test says so. */
function manualTimer() {
  const scheduled: Array<{ ms: number; run: () => void; cancelled: boolean }> = [];
  const timer: ProgressTimer = {
    after(ms, run) {
      const entry = { ms, run, cancelled: false };
      scheduled.push(entry);
      return () => {
        entry.cancelled = true;
      };
    },
  };
  return {
    timer,
    scheduled,
    fire() {
      for (const entry of scheduled) if (!entry.cancelled) entry.run();
    },
  };
}

/** A promise the test settles by hand. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

describe("withProgressNotice", () => {
  it("says nothing when the work ends first, and cancels its timer", async () => {
    const { timer, scheduled } = manualTimer();
    const notices: string[] = [];
    const result = await withProgressNotice(
      async () => "done",
      async () => {
        notices.push("still working");
      },
      { timer },
    );
    expect(result).toBe("done");
    expect(notices).toEqual([]);
    expect(scheduled).toEqual([
      expect.objectContaining({ ms: PROGRESS_NOTICE_AFTER_MS, cancelled: true }),
    ]);
  });

  it("tells while the work runs on, and the outcome comes only after the notice", async () => {
    const { timer, fire, scheduled } = manualTimer();
    const work = deferred<string>();
    const noticeSent = deferred<void>();
    const order: string[] = [];
    const running = withProgressNotice(
      () => work.promise,
      async () => {
        order.push("notice started");
        await noticeSent.promise;
        order.push("notice sent");
      },
      { timer, afterMs: 50 },
    ).then((value) => {
      order.push(`outcome ${value}`);
    });
    expect(scheduled.map((entry) => entry.ms)).toEqual([50]);

    fire();
    // The work ends while the notice is still on its way: its outcome waits for the notice.
    work.resolve("applied");
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(order).toEqual(["notice started"]);
    noticeSent.resolve();
    await running;
    expect(order).toEqual(["notice started", "notice sent", "outcome applied"]);
  });

  it("passes the work's failure on, after the notice, and a failing notice changes nothing", async () => {
    const { timer, fire } = manualTimer();
    const work = deferred<string>();
    const running = withProgressNotice(
      () => work.promise,
      async () => {
        throw new Error("Slack is down too");
      },
      { timer },
    );
    fire();
    work.reject(new Error("SpamExperts said no"));
    await expect(running).rejects.toThrow("SpamExperts said no");
  });
});

describe("trackWaits and waitOn", () => {
  it("names the outside service a tracked action is waiting on, through any async depth", async () => {
    const waits = trackWaits();
    const lookup = deferred<boolean>();
    const seen: Array<string | undefined> = [];
    const deepInTheService = async (): Promise<boolean> => {
      await Promise.resolve();
      return waitOn("Slack", () => lookup.promise);
    };
    const running = waits.run(async () => {
      seen.push(waits.current());
      const member = await deepInTheService();
      seen.push(waits.current());
      return member;
    });
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(waits.current()).toBe("Slack");
    lookup.resolve(true);
    await expect(running).resolves.toBe(true);
    expect(seen).toEqual([undefined, undefined]);
    expect(waits.current()).toBeUndefined();
  });

  it("keeps trackers of concurrent actions apart, and runs untracked calls as they are", async () => {
    const first = trackWaits();
    const second = trackWaits();
    const slack = deferred<void>();
    const running = first.run(() => waitOn("Slack", () => slack.promise));
    await second.run(async () => undefined);
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(first.current()).toBe("Slack");
    expect(second.current()).toBeUndefined();
    slack.resolve();
    await running;
    await expect(waitOn("DNS", async () => 42)).resolves.toBe(42);
  });
});
