/**
 * The last resort: a promise rejection that nothing handled (a bug in a listener or a library)
 * is logged as one line and the bot goes on serving everyone else; Node would otherwise stop
 * the process, and every request in flight with it. The request guard and each listener's own
 * error handling come first: a line from here is a bug to fix, and the end-to-end tests fail
 * when one appears. An uncaught exception (thrown outside any promise) still stops the process,
 * as Node advises: its state may be broken, and the supervisor starts a fresh one.
 */
import type { AppLogger } from "./logger.js";

export const LAST_RESORT_MESSAGE = "A failure nothing handled was caught; dkim-bot keeps running";

export function keepRunningOnUnhandledRejection(
  logger: AppLogger,
  target: Pick<NodeJS.EventEmitter, "on"> = process,
): void {
  target.on("unhandledRejection", (reason: unknown) => {
    logger.event("error", LAST_RESORT_MESSAGE, { error: reason });
  });
}
