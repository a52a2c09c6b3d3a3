import type { AppLogger } from "../logger.js";
import type { AuditEvent, DkimRequest } from "../requests/model.js";
import { recordToPublish } from "../requests/service.js";
import type { SlackClient } from "./slack-client.js";
import { requestMessage } from "./ui/request-message.js";
import { threadEventMessage } from "./ui/thread-event.js";

export interface ThreadNotifier {
  /** Hand to the request service as `onEvent`: posts the event in the thread, refreshes the message. */
  onEvent(event: AuditEvent, request: DkimRequest): void;
  /** Tells events stored but never told (a crash or a Slack outage cut them short), in order. */
  replay(items: ReadonlyArray<{ event: AuditEvent; request: DkimRequest }>): void;
  /** Resolves once everything queued so far has been sent (tests). */
  idle(): Promise<void>;
  /**
   * For a clean shutdown: waits up to `graceMs` for what is queued, then gives the rest back
   * (it stays in the store, undelivered, for the next start or another replica) instead of
   * waiting on a Slack that does not answer.
   */
  stop(graceMs: number): Promise<void>;
}

/** Keeps the store's delivery holds of the events being told, so no other replica tells them. */
export interface DeliveryHolds {
  extend(eventIds: readonly number[]): Promise<void>;
  release(eventIds: readonly number[]): Promise<void>;
  /** How often to extend (shorter than the hold). */
  everyMs: number;
}

/**
 * The audit trail in Slack: every event of a request becomes a reply in its thread, and the
 * request message is redrawn to the request's latest state.
 *
 * Work is queued per request, so replies keep their order. Message updates are coalesced: when
 * several events arrive while one is being sent, the message is redrawn once, from the newest
 * request, which keeps us inside chat.update's rate limit of about one per second per message.
 * A failed Slack call is logged and does not stop the queue: the store holds the truth, and the
 * next event redraws the message anyway. A reply is marked delivered only once Slack took it,
 * so what a crash or an outage cut short is told at the next start (`replay`).
 */
export function createThreadNotifier(options: {
  client: SlackClient;
  dryRun: boolean;
  logger: AppLogger;
  markDelivered: (eventId: number) => Promise<void>;
  holds?: DeliveryHolds;
}): ThreadNotifier {
  const { client, dryRun, logger, markDelivered, holds } = options;
  const queues = new Map<string, Promise<void>>();
  const newest = new Map<string, DkimRequest>();
  /** Events queued or being told by this process: a replay must not queue them twice. */
  const pending = new Set<number>();
  let stopped = false;
  const heartbeat =
    holds === undefined
      ? undefined
      : setInterval(() => {
          holds.extend([...pending]).catch((error: unknown) => {
            logger.event("warn", "Could not extend the delivery holds of thread events", {
              error,
            });
          });
        }, holds.everyMs);
  heartbeat?.unref();

  function enqueue(requestId: string, work: () => Promise<void>): void {
    const previous = queues.get(requestId) ?? Promise.resolve();
    const next = previous.then(work).catch((error: unknown) => {
      logger.event("warn", "Could not post a request's progress to Slack", { requestId, error });
    });
    queues.set(requestId, next);
    void next.then(() => {
      if (queues.get(requestId) === next) queues.delete(requestId);
    });
  }

  async function postReply(event: AuditEvent, request: DkimRequest): Promise<void> {
    if (request.messageTs === null || stopped) return;
    await client.chat.postMessage({
      channel: request.channelId,
      thread_ts: request.messageTs,
      ...threadEventMessage(event, request, { dryRun }),
      unfurl_links: false,
      unfurl_media: false,
    });
    await markDelivered(event.id);
  }

  async function redrawMessage(requestId: string): Promise<void> {
    const request = newest.get(requestId);
    if (request === undefined || request.messageTs === null) return;
    newest.delete(requestId);
    await client.chat.update({
      channel: request.channelId,
      ts: request.messageTs,
      ...requestMessage(request, { dryRun, record: recordToPublish(request) }),
    });
  }

  function onEvent(event: AuditEvent, request: DkimRequest): void {
    if (pending.has(event.id) || stopped) return;
    pending.add(event.id);
    const settle = (): void => {
      pending.delete(event.id);
    };
    // "created" is the request message itself, posted by the command that made it; before the
    // message exists (or when it could not be posted) there is no thread to tell.
    if (event.kind === "created" || request.messageTs === null) {
      enqueue(request.id, () => markDelivered(event.id).finally(settle));
      return;
    }
    const known = newest.get(request.id);
    if (known === undefined || known.updatedAt <= request.updatedAt)
      newest.set(request.id, request);
    enqueue(request.id, () => postReply(event, request).finally(settle));
    enqueue(request.id, () => redrawMessage(request.id));
  }

  return {
    onEvent,
    replay(items) {
      for (const { event, request } of items) onEvent(event, request);
    },
    async idle() {
      while (queues.size > 0) await Promise.all([...queues.values()]);
    },
    async stop(graceMs) {
      const flushed = (async () => {
        while (queues.size > 0) await Promise.all([...queues.values()]);
      })();
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      });
      await Promise.race([flushed, grace]);
      clearTimeout(timer);
      stopped = true;
      if (heartbeat !== undefined) clearInterval(heartbeat);
      if (holds !== undefined && pending.size > 0) {
        await holds.release([...pending]).catch((error: unknown) => {
          logger.event("warn", "Could not give back undelivered thread events", { error });
        });
      }
    },
  };
}
