import { describe, expect, it } from "vitest";
import type { DkimCheckResult } from "../../src/dkim/check.js";
import { dnsRound } from "../../src/requests/dns-round.js";
import { dnsResult } from "./support.js";

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe("a round of DNS checks", () => {
  it("keeps at most `concurrency` lookups in flight, and checks every item", async () => {
    let inFlight = 0;
    let peak = 0;
    const report = await dnsRound(
      Array.from({ length: 200 }, (_, i) => i),
      async () => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await tick();
        inFlight--;
        return dnsResult("live");
      },
      { concurrency: 16, giveUpAfter: 16 },
    );
    expect(peak).toBe(16);
    expect(report).toEqual({ done: 200, unanswered: 0, stoppedEarly: false, skipped: 0 });
  });

  it("stops when no resolver answers, instead of waiting out every lookup", async () => {
    let asked = 0;
    const report = await dnsRound(
      Array.from({ length: 1000 }, (_, i) => i),
      async (): Promise<DkimCheckResult> => {
        asked++;
        await tick();
        return dnsResult("lookup-failed");
      },
      { concurrency: 4, giveUpAfter: 8 },
    );
    expect(report.stoppedEarly).toBe(true);
    // The lookups already in flight when it gave up finish; nothing new starts.
    expect(asked).toBeLessThanOrEqual(8 + 4);
    expect(report.skipped).toBe(1000 - asked);
  });

  it("goes on through failures that answers in between show to be the records'", async () => {
    const report = await dnsRound(
      Array.from({ length: 100 }, (_, i) => i),
      async (i) => dnsResult(i % 4 === 0 ? "live" : "lookup-failed"),
      { concurrency: 1, giveUpAfter: 8 },
    );
    expect(report).toMatchObject({ done: 100, unanswered: 75, stoppedEarly: false });
  });

  it("takes its items a page at a time from an async source, with the same bound", async () => {
    let inFlight = 0;
    let peak = 0;
    const pagesRead: number[] = [];
    async function* pages() {
      for (let page = 0; page < 5; page++) {
        await tick();
        pagesRead.push(page);
        yield* Array.from({ length: 40 }, (_, i) => page * 40 + i);
      }
    }
    const seen: number[] = [];
    const report = await dnsRound(
      pages(),
      async (item) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        seen.push(item);
        await tick();
        inFlight--;
        return dnsResult("live");
      },
      { concurrency: 16, giveUpAfter: 16 },
    );
    expect(peak).toBe(16);
    expect(pagesRead).toEqual([0, 1, 2, 3, 4]);
    // Each item once, in the source's order.
    expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(report).toEqual({ done: 200, unanswered: 0, stoppedEarly: false, skipped: 0 });
  });

  it("reads no further pages once no resolver answers", async () => {
    const pagesRead: number[] = [];
    async function* pages() {
      for (let page = 0; page < 100; page++) {
        pagesRead.push(page);
        yield* Array.from({ length: 10 }, (_, i) => page * 10 + i);
      }
    }
    const report = await dnsRound(
      pages(),
      async (): Promise<DkimCheckResult> => {
        await tick();
        return dnsResult("lookup-failed");
      },
      { concurrency: 4, giveUpAfter: 8 },
    );
    expect(report.stoppedEarly).toBe(true);
    expect(report.done).toBeLessThanOrEqual(8 + 4);
    expect(pagesRead.length).toBeLessThanOrEqual(2);
  });
});
