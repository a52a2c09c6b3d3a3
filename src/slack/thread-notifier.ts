import type { DkimCheckStatus } from "../dkim/check.js";
import type { AppLogger } from "../logger.js";
import type { AuditEvent, DkimRequest } from "../requests/model.js";
import { recordToPublish } from "../requests/service.js";
import type { BatchNotifier } from "./batch-notifier.js";
import { PacerStoppedError } from "./channel-pacer.js";
import type { SlackClient } from "./slack-client.js";
import {
  createMemoryThreadReplyStore,
  type ThreadReplyRef,
  type ThreadReplyStore,
} from "./thread-replies.js";
import {
  dnsStatusOf,
  failureButtonsApply,
  foldsIntoBatch,
  isDnsEvent,
  noticeButtonsApply,
  planReply,
  previousDnsOf,
} from "./thread-rules.js";
import type { SlackMessage } from "./ui/format.js";
import { requestMessage } from "./ui/request-message.js";
import {
  alertMessage,
  applyReply,
  eventReply,
  failureReply,
  noticeReply,
  recordReply,
  stepNote,
} from "./ui/thread-event.js";

export interface ThreadNotifier {
  /** Hand to the request service as `onEvent`: tells the thread what is new, redraws the card. */
  onEvent(event: AuditEvent, request: DkimRequest): void;
  /**
   * The card is posted and attached (`request.messageTs` is set): the thread opens with the
   * record's split form.
   */
  cardPosted(request: DkimRequest): void;
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

/** Tries at telling one event (each after Slack's client retried on its own) before giving up. */
const MAX_TELL_ATTEMPTS = 3;

function isStep(event: AuditEvent): boolean {
  return event.kind === "certificate-installed" || event.kind === "selector-enabled";
}

export interface ThreadNotifierOptions {
  client: SlackClient;
  dryRun: boolean;
  logger: AppLogger;
  markDelivered: (eventId: number) => Promise<void>;
  /** DKIM_APPROVERS: the card and the "record is live" reply name them. */
  approvers?: readonly string[] | undefined;
  /** Where the replies to edit later are remembered; in memory unless the store backs it. */
  replies?: ThreadReplyStore;
  /** With several replicas: the events this process tells stay its own while it tells them. */
  holds?: DeliveryHolds;
  /** DKIM_ALERT_CHANNEL: monitoring alerts and reminders also go there (else the key's channel). */
  alertChannel?: string | undefined;
  /** A link to a message, for the alert channel's copy of a notice. */
  permalink?: (channel: string, ts: string, threadTs: string | null) => string | undefined;
  /**
   * Requests made in a batch: their events up to Active fold into the batch card
   * (thread-rules.ts foldsIntoBatch), and their card is the batch's.
   */
  batches?: BatchNotifier;
}

/**
 * The audit trail in Slack, told the way a busy person reads it: each event goes through
 * thread-rules.ts, which says whether it is a reply of its own, a step folded into the apply's
 * one reply, or nothing new; the card is redrawn to the request's latest state; and a reply
 * whose button no longer applies is redrawn without it.
 *
 * Work is queued per request, so replies keep their order. Redraws (of the card and of the
 * apply reply) are coalesced: when several events arrive while one is being sent, the message
 * is redrawn once, from the newest request, which keeps us inside chat.update's rate limit of
 * about one per second per message. A failed Slack call is logged and does not stop the queue:
 * the store holds the truth, and the next event redraws anyway. An event is marked delivered
 * only once Slack took what it asked for, so what a crash or an outage cut short is told at
 * the next start (`replay`).
 */
export function createThreadNotifier(options: ThreadNotifierOptions): ThreadNotifier {
  const { client, dryRun, logger, approvers, holds } = options;
  const replies = options.replies ?? createMemoryThreadReplyStore();
  const queues = new Map<string, Promise<void>>();
  /** The newest request seen, by the id of the event that brought it (ids grow with writes). */
  const newest = new Map<string, { request: DkimRequest; version: number }>();
  /** The version the card was last drawn from. */
  const drawn = new Map<string, number>();
  /** Events queued per request that fold into the apply reply and have not been told yet. */
  const pendingFolds = new Map<string, number>();
  /** The last DNS verdict seen per request, for events that do not say the one before. */
  const lastDns = new Map<string, DkimCheckStatus>();
  /** "created" events whose card was not posted yet: told (and delivered) by cardPosted. */
  const awaitingCard = new Map<string, AuditEvent>();
  /** Other events that came before the card: told by cardPosted, after the record. */
  const beforeCard = new Map<
    string,
    Array<{ event: AuditEvent; previousDns: DkimCheckStatus | null }>
  >();
  const replyOptions = { dryRun, approvers };
  /** Events this process has taken to tell and not yet marked: a replay does not take them twice. */
  const pending = new Set<number>();
  /**
   * Events whose reply Slack did not take (after the client's own retries), given back to the
   * store for the recovery cycle to tell again: how often, and the DNS verdict they followed.
   */
  const givenBack = new Map<number, { attempts: number; previousDns: DkimCheckStatus | null }>();
  let stopped = false;
  const heartbeat =
    holds === undefined
      ? undefined
      : setInterval(() => {
          if (pending.size === 0) return;
          holds.extend([...pending]).catch((error: unknown) => {
            logger.event("warn", "Could not extend the delivery holds of thread events", {
              error,
            });
          });
        }, holds.everyMs);
  heartbeat?.unref();

  async function markDelivered(eventId: number): Promise<void> {
    await options.markDelivered(eventId);
    pending.delete(eventId);
  }

  function enqueue(requestId: string, work: () => Promise<void>): void {
    const previous = queues.get(requestId) ?? Promise.resolve();
    const next = previous.then(work).catch((error: unknown) => {
      if (error instanceof StoppedError || error instanceof PacerStoppedError) return;
      logger.event("warn", "Could not post a request's progress to Slack", { requestId, error });
    });
    queues.set(requestId, next);
    void next.then(() => {
      if (queues.get(requestId) !== next) return;
      queues.delete(requestId);
      forgetIfFinal(requestId);
    });
  }

  /** Nothing more will be told about a final request: drop what was kept for it. */
  function forgetIfFinal(requestId: string): void {
    const state = newest.get(requestId)?.request.state;
    if (state === undefined || ["pending", "applying", "failed"].includes(state)) return;
    newest.delete(requestId);
    drawn.delete(requestId);
    lastDns.delete(requestId);
  }

  function remember(request: DkimRequest, version: number): void {
    const known = newest.get(request.id);
    if (known === undefined || known.version <= version)
      newest.set(request.id, { request, version });
  }

  /** The newest request seen, or `fallback`, and its version. */
  function latest(fallback: DkimRequest): { request: DkimRequest; version: number } {
    return newest.get(fallback.id) ?? { request: fallback, version: 0 };
  }

  async function post(
    request: DkimRequest,
    message: SlackMessage,
    how: { broadcast?: boolean } = {},
  ): Promise<string | undefined> {
    // After a stop's grace, what is left stays undelivered in the store for the next start.
    if (stopped) throw new StoppedError();
    if (request.messageTs === null) return undefined;
    const posted = await client.chat.postMessage({
      channel: request.channelId,
      thread_ts: request.messageTs,
      reply_broadcast: how.broadcast === true,
      ...message,
      unfurl_links: false,
      unfurl_media: false,
    });
    return typeof posted.ts === "string" ? posted.ts : undefined;
  }

  async function edit(request: DkimRequest, ts: string, message: SlackMessage): Promise<void> {
    if (stopped) throw new StoppedError();
    await client.chat.update({ channel: request.channelId, ts, ...message });
  }

  async function redrawCard(requestId: string): Promise<void> {
    const current = newest.get(requestId);
    if (current === undefined || current.request.messageTs === null) return;
    // A batch's request has no card of its own: the batch card shows it.
    if (current.request.batchId !== null) {
      options.batches?.redraw(current.request.batchId);
      return;
    }
    if ((drawn.get(requestId) ?? -1) >= current.version) return;
    drawn.set(requestId, current.version);
    const { request } = current;
    await edit(
      request,
      current.request.messageTs,
      requestMessage(request, { dryRun, record: recordToPublish(request), approvers }),
    );
  }

  /**
   * The open apply reply, redrawn to the progress this event brought (or opened, for a step
   * without one). While a later step of the same request is queued, that one draws instead:
   * a burst of 100 steps is one edit or a few, not 100.
   */
  async function foldIntoApply(event: AuditEvent, request: DkimRequest): Promise<void> {
    const later = (pendingFolds.get(request.id) ?? 1) - 1;
    if (later > 0) pendingFolds.set(request.id, later);
    else pendingFolds.delete(request.id);
    const ref = await replies.get(request.id, "apply");
    const note = stepNote(event);
    if (ref === undefined) {
      // No reply to fold into (the bot restarted, or its opener was never told): a step opens one.
      if (isStep(event)) await openApply(event, request, note === undefined ? [] : [note]);
      return;
    }
    const notes = note === undefined ? ref.notes : [...ref.notes, note];
    if (note !== undefined) await replies.set(request.id, "apply", { ...ref, notes });
    if (later > 0 && isStep(event)) return;
    await edit(request, ref.ts, applyReply(ref.event, request, replyOptions, notes));
  }

  async function openApply(opener: AuditEvent, request: DkimRequest, notes: string[]) {
    // A run cut short (a restart) ends its reply before the next run opens its own.
    const open = await replies.get(request.id, "apply");
    if (open !== undefined) {
      await edit(
        request,
        open.ts,
        applyReply(open.event, request, replyOptions, open.notes, { cutShort: true }),
      );
    }
    const ts = await post(request, applyReply(opener, request, replyOptions, notes));
    if (ts !== undefined) await replies.set(request.id, "apply", { ts, event: opener, notes });
  }

  /** The failure reply's Retry goes once the request is not failed any more. */
  async function dropStaleButtons(event: AuditEvent, request: DkimRequest): Promise<void> {
    const current = latest(request).request;
    const notice = await replies.get(request.id, "notice");
    if (
      notice !== undefined &&
      !noticeButtonsApply(notice.event, current, event.kind === "rotation-started")
    ) {
      await dropNoticeButtons(current, notice);
    }
    if (failureButtonsApply(current)) return;
    const ref: ThreadReplyRef | undefined = await replies.get(request.id, "failure");
    if (ref === undefined) return;
    await edit(
      current,
      ref.ts,
      failureReply(ref.event, current, { ...replyOptions, resolvedBy: event }),
    );
    await replies.delete(request.id, "failure");
  }

  async function dropNoticeButtons(request: DkimRequest, notice: ThreadReplyRef): Promise<void> {
    await edit(
      request,
      notice.ts,
      noticeReply(notice.event, request, { ...replyOptions, buttons: false }),
    );
    await replies.delete(request.id, "notice");
  }

  /**
   * A notice is a thread reply with its button; the alert channel hears it too. When that is
   * the key's own channel, the reply is broadcast to it (one message, two places); another
   * channel gets its own copy with a link to the thread.
   */
  async function postNotice(
    event: AuditEvent,
    request: DkimRequest,
    alert: boolean,
  ): Promise<void> {
    const buttons =
      event.kind === "monitor-recovered" ? false : noticeButtonsApply(event, request, false);
    const reply =
      event.kind === "monitor-recovered"
        ? eventReply(event, request, replyOptions)
        : noticeReply(event, request, { ...replyOptions, buttons });
    const alertChannel = options.alertChannel ?? request.channelId;
    const broadcast = alert && alertChannel === request.channelId;
    // The newest notice carries the button; an older one of the same request gives it up.
    const older = buttons ? await replies.get(request.id, "notice") : undefined;
    if (older !== undefined) await dropNoticeButtons(request, older);
    const ts = await post(request, reply, { broadcast });
    if (ts !== undefined && buttons)
      await replies.set(request.id, "notice", { ts, event, notes: [] });
    if (alert && !broadcast) {
      if (stopped) throw new StoppedError();
      await client.chat.postMessage({
        channel: alertChannel,
        ...alertMessage(event, request, {
          ...replyOptions,
          buttons,
          permalink:
            ts === undefined
              ? undefined
              : options.permalink?.(request.channelId, ts, request.messageTs),
        }),
        unfurl_links: false,
        unfurl_media: false,
      });
    }
  }

  async function tell(
    event: AuditEvent,
    request: DkimRequest,
    previousDns: DkimCheckStatus | null,
  ) {
    const plan = planReply(event, previousDns);
    if (plan.fold) await foldIntoApply(event, request);
    switch (plan.post) {
      case "record": {
        const reply = recordReply(request, recordToPublish(request));
        if (reply !== undefined) await post(request, reply);
        break;
      }
      case "event":
        if (plan.alert) await postNotice(event, request, true);
        else await post(request, eventReply(event, request, replyOptions));
        break;
      case "failure": {
        const ts = await post(request, failureReply(event, request, replyOptions));
        if (ts !== undefined && failureButtonsApply(request)) {
          await replies.set(request.id, "failure", { ts, event, notes: [] });
        }
        break;
      }
      case "apply":
        await openApply(event, request, []);
        break;
      case "notice":
        await postNotice(event, request, plan.alert);
        break;
      case "none":
        break;
    }

    if (plan.closeApply) await replies.delete(request.id, "apply");
    await dropStaleButtons(event, request);
    await markDelivered(event.id);
  }

  function onEvent(event: AuditEvent, request: DkimRequest): void {
    if (pending.has(event.id) || stopped) return;
    if (request.batchId !== null && options.batches !== undefined && foldsIntoBatch(event)) {
      options.batches.memberEvent(event, request);
      return;
    }
    pending.add(event.id);
    remember(request, event.id);
    let previousDns: DkimCheckStatus | null = null;
    const retry = givenBack.get(event.id);
    if (retry !== undefined) {
      previousDns = retry.previousDns;
    } else if (isDnsEvent(event)) {
      previousDns = previousDnsOf(event, lastDns.get(request.id));
      lastDns.set(request.id, dnsStatusOf(event));
    }
    if (request.messageTs === null) {
      // "created" comes before its card exists: cardPosted tells it, and whatever else came
      // meanwhile (a record the bot published, a DNS check) after it, in order. A request
      // that ended without a card (it could not be posted) has no thread to go to.
      if (event.kind === "created") {
        awaitingCard.set(request.id, event);
        return;
      }
      if (isOpenOrSigning(request)) {
        const waiting = beforeCard.get(request.id) ?? [];
        waiting.push({ event, previousDns });
        beforeCard.set(request.id, waiting);
        return;
      }
      const created = awaitingCard.get(request.id);
      awaitingCard.delete(request.id);
      const early = beforeCard.get(request.id) ?? [];
      beforeCard.delete(request.id);
      enqueue(request.id, async () => {
        if (created !== undefined) await markDelivered(created.id);
        for (const each of early) await markDelivered(each.event.id);
        await markDelivered(event.id);
      });
      return;
    }
    if (planReply(event, previousDns).fold) {
      pendingFolds.set(request.id, (pendingFolds.get(request.id) ?? 0) + 1);
    }
    enqueue(request.id, () => tellOrGiveBack(event, request, previousDns));
    enqueue(request.id, () => redrawCard(request.id));
  }

  /**
   * A reply Slack did not take is not lost until the next start: its event leaves this
   * process's hands (and its delivery hold), so the recovery cycle takes it again from the
   * store. A reply Slack keeps refusing (a channel archived, the bot removed) is given up
   * after a few tries, with a log line: the store's audit trail still holds the event.
   */
  async function tellOrGiveBack(
    event: AuditEvent,
    request: DkimRequest,
    previousDns: DkimCheckStatus | null,
  ): Promise<void> {
    try {
      await tell(event, request, previousDns);
      givenBack.delete(event.id);
    } catch (error) {
      if (error instanceof StoppedError || error instanceof PacerStoppedError) throw error;
      const attempts = (givenBack.get(event.id)?.attempts ?? 0) + 1;
      if (attempts >= MAX_TELL_ATTEMPTS) {
        givenBack.delete(event.id);
        logger.event("warn", "Gave up telling a request's event in Slack", {
          requestId: request.id,
          event: event.kind,
          attempts,
          error,
        });
        await markDelivered(event.id);
        return;
      }
      givenBack.set(event.id, { attempts, previousDns });
      pending.delete(event.id);
      await holds?.release([event.id]).catch(() => undefined);
      throw error;
    }
  }

  function cardPosted(request: DkimRequest): void {
    const known = newest.get(request.id);
    if (known === undefined || known.request.messageTs === null) {
      newest.set(request.id, { request, version: known?.version ?? 0 });
    }
    const created = awaitingCard.get(request.id);
    awaitingCard.delete(request.id);
    const early = beforeCard.get(request.id) ?? [];
    beforeCard.delete(request.id);
    enqueue(request.id, async () => {
      const reply = recordReply(request, recordToPublish(request));
      if (reply !== undefined) await post(request, reply);
      if (created !== undefined) await markDelivered(created.id);
    });
    // What happened before the card existed is told now, in its thread, in order.
    for (const { event, previousDns } of early) {
      const known = latest(request).request;
      const withCard = { ...known, messageTs: request.messageTs, channelId: request.channelId };
      enqueue(request.id, () => tell(event, withCard, previousDns));
    }
    if (early.length > 0) enqueue(request.id, () => redrawCard(request.id));
  }

  return {
    onEvent,
    cardPosted,
    replay(items) {
      for (const { event, request } of items) {
        // A card never posted by the process that made the request will not be posted now.
        // (A batch's card is posted by the batch's own recovery: its events wait for it.)
        if (event.kind === "created" && request.messageTs === null && request.batchId === null) {
          enqueue(request.id, () => markDelivered(event.id));
        } else {
          onEvent(event, request);
        }
      }
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

/** A request whose card may still come: its early events wait for it. */
function isOpenOrSigning(request: Pick<DkimRequest, "state">): boolean {
  return ["pending", "applying", "failed", "active", "retiring"].includes(request.state);
}

/** Thrown into the queue once stopped, so nothing after it is marked delivered. */
class StoppedError extends Error {
  constructor() {
    super("the notifier has stopped");
  }
}
