import { type RequestsLogger, silentLogger } from "./logger.js";
import { describeFailure } from "./redact.js";
import { type Periodic, type PeriodicOptions, startPeriodic } from "./scheduler.js";
import type { RequestService } from "./service.js";

export interface DnsWatcherOptions {
  service: Pick<RequestService, "checkPending" | "expire"> &
    Partial<Pick<RequestService, "publication">>;
  /** DKIM_DNS_POLL_SECONDS: pause between the end of one round and the start of the next. */
  intervalSeconds: number;
  logger?: RequestsLogger;
  /** 0..1; spreads the polls of several replicas over time (default Math.random). */
  random?: () => number;
  /** With several replicas: one of them runs each round. */
  leases?: PeriodicOptions["leases"];
  leaseMs?: number;
}

export type DnsWatcher = Periodic;

/**
 * Re-checks the DNS of pending requests every DKIM_DNS_POLL_SECONDS (the service tells the
 * thread only about changes, so polling is cheap), and expires requests older than the TTL.
 * A periodic job (scheduler.ts): rounds never overlap, and one replica runs each.
 */
export function startDnsWatcher(options: DnsWatcherOptions): DnsWatcher {
  const logger = options.logger ?? silentLogger;
  return startPeriodic(
    {
      name: "dns-watch",
      periodMs: Math.max(0.05, options.intervalSeconds) * 1000,
      async cycle() {
        // The records the bot writes, where DNS does not say yet what their state asks (a
        // failed or transient write tried again).
        try {
          await options.service.publication?.reconcileAll();
        } catch (error) {
          logger.warn("Publishing DKIM records failed; it runs again later.", {
            error: describeFailure(error),
          });
        }
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
            logger.info("Expired pending requests.", {
              requestIds: expired.map((each) => each.id),
            });
          }
        } catch (error) {
          logger.warn("Expiring old requests failed; it runs again later.", {
            error: describeFailure(error),
          });
        }
      },
    },
    {
      logger,
      ...(options.random === undefined ? {} : { random: options.random }),
      ...(options.leases === undefined ? {} : { leases: options.leases }),
      ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
    },
  );
}
