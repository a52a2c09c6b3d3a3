import type { RequestsLogger } from "./logger.js";
import type { RequestService } from "./service.js";

export interface DnsWatcherOptions {
  service: Pick<RequestService, "checkPending" | "expire">;
  intervalSeconds: number;
  logger: RequestsLogger;
  /** 0..1; spreads the polls of several replicas (and of many requests) over time. */
  random?: () => number;
}

export interface DnsWatcher {
  /** One round now: check the DNS of pending requests, then expire the old ones. */
  runOnce(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Polls pending requests' DNS every DKIM_DNS_POLL_SECONDS, give or take 20 % so replicas do
 * not poll in step. The service posts in the thread only when a request's DNS status changes,
 * so polling often is cheap. A round never overlaps the next, and stop() waits for it.
 */
export function startDnsWatcher(options: DnsWatcherOptions): DnsWatcher {
  const random = options.random ?? Math.random;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;

  async function round(): Promise<void> {
    try {
      await options.service.checkPending();
      await options.service.expire();
    } catch (error) {
      options.logger.error("The DNS watcher's round failed; it will try again", {
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  function schedule(): void {
    if (stopped) return;
    const jitter = 0.8 + 0.4 * random();
    timer = setTimeout(
      () => {
        running = round().finally(schedule);
      },
      options.intervalSeconds * 1000 * jitter,
    );
    timer.unref();
  }

  schedule();
  return {
    runOnce: () => {
      running = running.then(round);
      return running;
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await running;
    },
  };
}
