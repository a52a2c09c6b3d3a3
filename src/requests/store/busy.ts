/**
 * Waiting for a lock held by another connection, without blocking the event loop: a busy
 * write is retried after short, growing pauses until a deadline, then given up with a
 * sentence. SQLite answers SQLITE_BUSY at once (busy_timeout is a few ms); PostgreSQL gives up
 * a statement after lock_timeout. Either way the transaction was rolled back, so running the
 * whole unit again is safe.
 */
import { setTimeout as delay } from "node:timers/promises";
import { CodedError } from "../../errors.js";

/** A person is waiting on most writes (an ack within 3 s): give up well before that. */
export const DEFAULT_BUSY_DEADLINE_MS = 2000;

export class StoreBusyError extends CodedError {
  constructor(waitedMs: number, options?: { cause?: unknown }) {
    super(
      "STORE_BUSY",
      `The bot's database stayed locked by another connection for ${(waitedMs / 1000).toFixed(1)} s, so nothing was changed. Try again in a minute; if it keeps happening, look for a long-running job on the database.`,
      options,
    );
  }
}

export function isBusyError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return false;
  // SQLite: SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT, SQLITE_LOCKED...; PostgreSQL: lock_not_available,
  // serialization_failure, deadlock_detected, and a statement cancelled by lock/statement timeout.
  return (
    code.startsWith("SQLITE_BUSY") ||
    code.startsWith("SQLITE_LOCKED") ||
    code === "55P03" ||
    code === "40001" ||
    code === "40P01" ||
    code === "57014"
  );
}

/**
 * A write the database refused for lack of room or a broken disk, as a sentence: what it
 * means and what to do. Nothing was changed (the transaction was rolled back).
 */
export class StoreUnavailableError extends CodedError {
  constructor(code: string, options?: { cause?: unknown }) {
    super(
      "STORE_UNAVAILABLE",
      code === "SQLITE_FULL" || code === "53100"
        ? `The bot's database could not be written: the disk is full (${code}). Nothing was changed; free some space where the database lives, then try again.`
        : `The bot's database could not be written (${code}). Nothing was changed; the operator should look at the disk and the database log.`,
      options,
    );
  }
}

/** SQLITE_FULL, SQLITE_IOERR*, PostgreSQL's disk_full (53100) and I/O errors (58030). */
export function asStoreUnavailable(error: unknown): StoreUnavailableError | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return undefined;
  if (
    code === "SQLITE_FULL" ||
    code.startsWith("SQLITE_IOERR") ||
    code === "53100" ||
    code === "58030"
  ) {
    return new StoreUnavailableError(code, { cause: error });
  }
  return undefined;
}

export async function retryWhileBusy<T>(
  unit: () => Promise<T>,
  deadlineMs: number = DEFAULT_BUSY_DEADLINE_MS,
): Promise<T> {
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      return await unit();
    } catch (error) {
      if (!isBusyError(error)) throw asStoreUnavailable(error) ?? error;
      const waited = Date.now() - started;
      if (waited >= deadlineMs) throw new StoreBusyError(waited, { cause: error });
      // 5, 10, 20, 40, 80, then 100 ms, with jitter so two waiters do not retry in step.
      const pause = Math.min(100, 5 * 2 ** attempt) * (0.5 + Math.random());
      await delay(Math.min(pause, Math.max(1, deadlineMs - waited)));
    }
  }
}
