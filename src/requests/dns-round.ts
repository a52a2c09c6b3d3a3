/**
 * One round of DNS checks over many requests (the DNS watch, monitoring): a bounded number of
 * lookups in flight, and a resolver that answers nothing is found once per round instead of
 * once per request. Without an answer the records are not judged at all (a verdict needs an
 * answer), so the rest of the round waits for the next one.
 */
import type { DkimCheckResult } from "../dkim/check.js";
import { createLimiter } from "../dkim/concurrency-limit.js";

export interface RoundOptions {
  /** Lookups in flight at once. */
  concurrency: number;
  /** Lookups in a row without any answer, before the round stops. */
  giveUpAfter: number;
}

export const DNS_ROUND: RoundOptions = { concurrency: 16, giveUpAfter: 16 };

export interface RoundReport {
  done: number;
  unanswered: number;
  /** Set when the round stopped early: no resolver answered. */
  stoppedEarly: boolean;
  skipped: number;
}

export async function dnsRound<T>(
  items: readonly T[],
  check: (item: T) => Promise<DkimCheckResult | undefined>,
  options: RoundOptions = DNS_ROUND,
): Promise<RoundReport> {
  const limiter = createLimiter(options.concurrency);
  const report: RoundReport = { done: 0, unanswered: 0, stoppedEarly: false, skipped: 0 };
  let failuresInARow = 0;
  await Promise.all(
    items.map((item) =>
      limiter.run(async () => {
        if (report.stoppedEarly) {
          report.skipped++;
          return;
        }
        const result = await check(item);
        report.done++;
        if (result?.status === "lookup-failed") {
          report.unanswered++;
          failuresInARow++;
          if (failuresInARow >= options.giveUpAfter) report.stoppedEarly = true;
        } else {
          failuresInARow = 0;
        }
      }),
    ),
  );
  return report;
}
