/**
 * One round of DNS checks over many requests (the DNS watch, monitoring): a bounded number of
 * lookups in flight, and a resolver that answers nothing is found once per round instead of
 * once per request. Without an answer the records are not judged at all (a verdict needs an
 * answer), so the rest of the round waits for the next one.
 *
 * The items may come as a list or a page at a time (an async iterable, e.g. a fleet's keys
 * read from the store in pages, so no single read holds the event loop for the whole fleet):
 * `concurrency` workers each take the next item when their last check is done.
 */
import type { DkimCheckResult } from "../dkim/check.js";

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
  /** Items left unchecked after an early stop (a list's; an async source is not read further). */
  skipped: number;
}

export async function dnsRound<T>(
  items: Iterable<T> | AsyncIterable<T>,
  check: (item: T) => Promise<DkimCheckResult | undefined>,
  options: RoundOptions = DNS_ROUND,
): Promise<RoundReport> {
  const report: RoundReport = { done: 0, unanswered: 0, stoppedEarly: false, skipped: 0 };
  let failuresInARow = 0;
  const source: Iterator<T> | AsyncIterator<T> =
    Symbol.asyncIterator in items
      ? items[Symbol.asyncIterator]()
      : (items as Iterable<T>)[Symbol.iterator]();

  async function worker(): Promise<void> {
    for (;;) {
      if (report.stoppedEarly) return;
      // An async generator queues concurrent next() calls: each worker gets its own item.
      const next = await source.next();
      if (next.done === true) return;
      if (report.stoppedEarly) {
        report.skipped++;
        return;
      }
      const result = await check(next.value);
      report.done++;
      if (result?.status === "lookup-failed") {
        report.unanswered++;
        failuresInARow++;
        if (failuresInARow >= options.giveUpAfter) report.stoppedEarly = true;
      } else {
        failuresInARow = 0;
      }
    }
  }

  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, () => worker()));
  if (report.stoppedEarly && !(Symbol.asyncIterator in items)) {
    // What the workers never took from the list.
    const list = source as Iterator<T>;
    while (list.next().done !== true) report.skipped++;
  }
  return report;
}
