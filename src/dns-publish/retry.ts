/**
 * Transient failures (timeouts, SERVFAIL, HTTP 5xx, network) are retried inside the adapters,
 * a few times with exponential backoff and full jitter; anything else fails at once.
 */
import { setTimeout as delay } from "node:timers/promises";
import { DnsPublishError } from "./errors.js";

export interface RetryPolicy {
  /** Attempts per operation, the first included. */
  attempts: number;
  /** First backoff ceiling; it doubles with each retry. */
  baseDelayMs: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 500 };
const MAX_DELAY_MS = 10_000;

export async function withRetries<T>(policy: RetryPolicy, operation: () => Promise<T>): Promise<T> {
  const sleep = policy.sleep ?? ((ms: number) => delay(ms));
  const random = policy.random ?? Math.random;
  const attempts = Math.max(1, policy.attempts);
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await operation();
    } catch (error) {
      if (!(error instanceof DnsPublishError) || !error.transient) throw error;
      if (attempt >= attempts) throw error.afterAttempts(attempt);
      const ceiling = Math.min(MAX_DELAY_MS, policy.baseDelayMs * 2 ** (attempt - 1));
      await sleep(Math.floor(random() * ceiling));
    }
  }
}
