import { type RequestsLogger, silentLogger } from "./logger.js";
import { describeFailure } from "./redact.js";
import type { RequestService } from "./service.js";

export interface DnsWatcherOptions {
  service: Pick<RequestService, "checkPending" | "expire">;
  /** DKIM_DNS_POLL_SECONDS: pause between the end of one round and the start of the next. */
  intervalSeconds: number;
  logger?: RequestsLogger;
  /** 0..1; spreads the polls of several replicas over time (default Math.random). */
  random?: () => number;
}

export interface DnsWatcher {
  /** One round now (or the round already running): DNS of pending requests, then expiry. */
  runOnce(): Promise<void>;
  /** No more rounds; resolves once the running round, if any, has finished. */
  stop(): Promise<void>;
}

/**
 * Re-checks the DNS of pending requests every DKIM_DNS_POLL_SECONDS, give or take 20 % so
 * replicas do not poll in step (the service tells the thread only about changes, so polling
 * is cheap), and expires requests older than the TTL. Rounds never overlap: the next is
 * scheduled when one ends, and the timer does not keep the process alive. A failing round is
 * logged and tried again next time; it never rejects.
 */
export function startDnsWatcher(options: DnsWatcherOptions): DnsWatcher {
  const logger = options.logger ?? silentLogger;
  const random = options.random ?? Math.random;
  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  async function round(): Promise<void> {
    try {
      await options.service.checkPending();
    } catch (error) {
      logger.warn("The DNS check of pending requests failed; it runs again later.", {
        error: describeFailure(error),
      });
    }
    // Separately: a DNS outage must not keep old requests (and their keys) from expiring.
    try {
      const expired = await options.service.expire();
      if (expired.length > 0) {
        logger.info("Expired pending requests.", { requestIds: expired.map((each) => each.id) });
      }
    } catch (error) {
      logger.warn("Expiring old requests failed; it runs again later.", {
        error: describeFailure(error),
      });
    }
  }

  function schedule(): void {
    if (stopped) return;
    const jitter = 0.8 + 0.4 * random();
    timer = setTimeout(
      () => {
        void runOnce();
      },
      Math.max(0.05, options.intervalSeconds) * 1000 * jitter,
    );
    timer.unref();
  }

  function runOnce(): Promise<void> {
    if (stopped) return Promise.resolve();
    if (running !== undefined) return running;
    if (timer !== undefined) clearTimeout(timer);
    running = round().finally(() => {
      running = undefined;
      schedule();
    });
    return running;
  }

  schedule();

  return {
    runOnce,
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await running;
    },
  };
}
