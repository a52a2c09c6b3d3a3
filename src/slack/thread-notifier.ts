import type { AppLogger } from "../logger.js";
import type { AuditEvent, DkimRequest } from "../requests/model.js";
import { recordToPublish } from "../requests/service.js";
import type { SlackClient } from "./slack-client.js";
import { requestMessage } from "./ui/request-message.js";
import { threadEventMessage } from "./ui/thread-event.js";

export interface ThreadNotifier {
  /** Hand to the request service as `onEvent`: posts the event in the thread, refreshes the message. */
  onEvent(event: AuditEvent, request: DkimRequest): void;
  /** Resolves once everything queued so far has been sent (tests, shutdown). */
  idle(): Promise<void>;
}

/**
 * The audit trail in Slack: every event of a request becomes a reply in its thread, and the
 * request message is redrawn to the request's latest state.
 *
 * Work is queued per request, so replies keep their order. Message updates are coalesced: when
 * several events arrive while one is being sent, the message is redrawn once, from the newest
 * request, which keeps us inside chat.update's rate limit of about one per second per message.
 * A failed Slack call is logged and does not stop the queue: the store holds the truth, and the
 * next event redraws the message anyway.
 */
export function createThreadNotifier(options: {
  client: SlackClient;
  dryRun: boolean;
  logger: AppLogger;
}): ThreadNotifier {
  const { client, dryRun, logger } = options;
  const queues = new Map<string, Promise<void>>();
  const newest = new Map<string, DkimRequest>();

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
    if (request.messageTs === null) return;
    await client.chat.postMessage({
      channel: request.channelId,
      thread_ts: request.messageTs,
      ...threadEventMessage(event, request, { dryRun }),
      unfurl_links: false,
      unfurl_media: false,
    });
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

  return {
    onEvent(event, request) {
      // "created" is the request message itself, posted by the command that made it.
      if (event.kind === "created" || request.messageTs === null) return;
      const known = newest.get(request.id);
      if (known === undefined || known.updatedAt <= request.updatedAt)
        newest.set(request.id, request);
      enqueue(request.id, () => postReply(event, request));
      enqueue(request.id, () => redrawMessage(request.id));
    },
    async idle() {
      while (queues.size > 0) await Promise.all([...queues.values()]);
    },
  };
}
