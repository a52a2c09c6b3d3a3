/**
 * A batch told the way its card promises: the events of its requests (a key made, a record
 * live, a step applied, a failure) are folded into the card, redrawn at most once a second
 * whatever their number, and the thread hears one reply per step (a run's summary, "every
 * record is live", an expiry reminder), never one per domain. thread-rules.ts says which
 * events fold (foldsIntoBatch); the single card's notifier hands those here.
 *
 * The store holds the truth: each redraw reads the batch and its requests, so a redraw that
 * failed (Slack down) or was cut short (a stop) loses nothing; the next one shows it all. An
 * event is marked delivered only once a redraw that includes it reached Slack; what a crash
 * cut short is replayed at the next start and draws the card again. What was told once is
 * recorded in the batch (its `told` and each run's `toldTs`), so a restart does not repeat it.
 */
import type { AppLogger } from "../logger.js";
import { type Batch, type BatchNotice, runningRun, tallyOf } from "../requests/batch.js";
import type { AuditEvent, DkimRequest } from "../requests/model.js";
import { PacerStoppedError } from "./channel-pacer.js";
import type { SlackClient } from "./slack-client.js";
import { batchCard } from "./ui/batch-card.js";
import { allLiveReply, checkedReply, expiryReply, runReply } from "./ui/batch-thread.js";
import type { SlackMessage } from "./ui/format.js";

export interface BatchNotifier {
  /** An event of a batch's request that folds into the card: drawn (and delivered) soon. */
  memberEvent(event: AuditEvent, request: DkimRequest): void;
  /** Something about the batch changed (a run, its card, a request's state): redraw soon. */
  redraw(batchId: string): void;
  /** Resolves once nothing is waiting to be drawn or told (tests). */
  idle(): Promise<void>;
  /** Nothing more is drawn; what was waiting stays undelivered in the store. */
  stop(): void;
}

export interface BatchNotifierOptions {
  /** A paced client (slack-client.ts): the card's channel is shared with every other flow. */
  client: SlackClient;
  dryRun: boolean;
  approvers?: readonly string[] | undefined;
  logger: AppLogger;
  load(batchId: string): Promise<{ batch: Batch; members: DkimRequest[] } | undefined>;
  markDelivered(eventId: number): Promise<void>;
  markTold(
    batchId: string,
    told: { notice: BatchNotice } | { runId: string },
    ref: string,
  ): Promise<void>;
  /** A card is redrawn at most this often (Slack: about one update a second per message). */
  minRedrawMs?: number;
  /** After a failed redraw, the next try comes this much later. */
  retryMs?: number;
}

interface CardState {
  /** Events drawn into the next redraw, then marked delivered. */
  events: Map<number, AuditEvent>;
  timer: NodeJS.Timeout | undefined;
  drawing: Promise<void> | undefined;
  /** A redraw was asked for while one was being drawn: draw again after it. */
  dirty: boolean;
  lastDrawAt: number;
  /** The card as last drawn (JSON): an identical one is not sent again. */
  lastDrawn: string | undefined;
  /** When the batch's requests expire, from an expiry reminder (told once). */
  expiresAt: string | undefined;
}

export function createBatchNotifier(options: BatchNotifierOptions): BatchNotifier {
  const { client, logger } = options;
  const minRedrawMs = options.minRedrawMs ?? 1000;
  const retryMs = options.retryMs ?? 5000;
  const replyOptions = { dryRun: options.dryRun, approvers: options.approvers };
  const cards = new Map<string, CardState>();
  /**
   * When cards forgotten (nothing left to draw) were last drawn, for minRedrawMs: a card's
   * next event must not redraw it sooner because its state was forgotten in between (issue
   * 16: a batch's apply redrew its card as each request came back, not once a second).
   */
  const drawnLately = new Map<string, number>();
  /** Run replies redrawn without their Retry failed button (a later run made it stale). */
  const buttonsDropped = new Set<string>();
  let stopped = false;

  function stateOf(batchId: string): CardState {
    let state = cards.get(batchId);
    if (state === undefined) {
      state = {
        events: new Map(),
        timer: undefined,
        drawing: undefined,
        dirty: false,
        lastDrawAt: drawnLately.get(batchId) ?? 0,
        lastDrawn: undefined,
        expiresAt: undefined,
      };
      cards.set(batchId, state);
    }
    return state;
  }

  function schedule(batchId: string, delayMs?: number): void {
    if (stopped) return;
    const state = stateOf(batchId);
    state.dirty = true;
    if (state.timer !== undefined || state.drawing !== undefined) return;
    const wait = delayMs ?? Math.max(0, state.lastDrawAt + minRedrawMs - Date.now());
    state.timer = setTimeout(() => {
      state.timer = undefined;
      state.drawing = draw(batchId, state).finally(() => {
        state.drawing = undefined;
        if (state.dirty) schedule(batchId);
        else if (state.events.size === 0 && state.timer === undefined) forget(batchId, state);
      });
    }, wait);
    state.timer.unref();
  }

  function forget(batchId: string, state: CardState): void {
    cards.delete(batchId);
    const now = Date.now();
    for (const [id, at] of drawnLately) {
      if (at + minRedrawMs <= now) drawnLately.delete(id);
    }
    if (state.lastDrawAt + minRedrawMs > now) drawnLately.set(batchId, state.lastDrawAt);
  }

  async function draw(batchId: string, state: CardState): Promise<void> {
    state.dirty = false;
    const events = [...state.events.values()];
    try {
      const loaded = await options.load(batchId);
      if (loaded === undefined) {
        // The batch is gone (another database?): nothing to draw the events into.
        for (const event of events) await delivered(state, event);
        return;
      }
      const { batch, members } = loaded;
      // No card yet: its events wait; posting it draws the card and delivers them.
      if (batch.messageTs === null) return;
      const card = batchCard(batch, members, replyOptions);
      const drawn = JSON.stringify(card);
      if (drawn !== state.lastDrawn) {
        state.lastDrawAt = Date.now();
        await edit(batch, batch.messageTs, card);
        state.lastDrawn = drawn;
      }
      for (const event of events) await delivered(state, event);
      await tellNews(batch, members, state);
    } catch (error) {
      if (stopped || error instanceof PacerStoppedError) return;
      logger.event("warn", "Could not redraw a batch card; trying again", { batchId, error });
      state.dirty = false;
      schedule(batchId, retryMs);
    }
  }

  async function delivered(state: CardState, event: AuditEvent): Promise<void> {
    await options.markDelivered(event.id);
    state.events.delete(event.id);
  }

  async function edit(batch: Batch, ts: string, message: SlackMessage): Promise<void> {
    if (stopped) throw new PacerStoppedError();
    await client.chat.update({ channel: batch.channelId, ts, ...message });
  }

  async function post(batch: Batch, message: SlackMessage): Promise<string | undefined> {
    if (stopped) throw new PacerStoppedError();
    const posted = await client.chat.postMessage({
      channel: batch.channelId,
      ...(batch.messageTs === null ? {} : { thread_ts: batch.messageTs }),
      ...message,
      unfurl_links: false,
      unfurl_media: false,
    });
    return typeof posted.ts === "string" ? posted.ts : undefined;
  }

  /** The thread's once-only replies and run summaries, in order, each recorded once told. */
  async function tellNews(batch: Batch, members: DkimRequest[], state: CardState) {
    if (batch.told.checked === undefined && batch.invalid.length + batch.skipped.length > 0) {
      const ts = await post(batch, checkedReply(batch));
      if (ts !== undefined) await options.markTold(batch.id, { notice: "checked" }, ts);
    }
    const lastRun = batch.runs.at(-1);
    for (const run of batch.runs) {
      if (run.finishedAt === null || run.toldTs !== null) continue;
      const retryButton = run === lastRun && (run.kind === "approve" || run.kind === "retry");
      const ts = await post(batch, runReply(batch, run, members, { ...replyOptions, retryButton }));
      if (ts !== undefined) await options.markTold(batch.id, { runId: run.id }, ts);
    }
    // The Retry failed of an earlier run's summary goes once a later run was started.
    const earlier = batch.runs
      .slice(0, -1)
      .filter((run) => run.toldTs !== null && (run.kind === "approve" || run.kind === "retry"))
      .at(-1);
    if (earlier?.toldTs != null && !buttonsDropped.has(earlier.id)) {
      await edit(
        batch,
        earlier.toldTs,
        runReply(batch, earlier, members, { ...replyOptions, retryButton: false }),
      );
      buttonsDropped.add(earlier.id);
    }
    const tally = tallyOf(batch, members);
    if (
      batch.told["all-live"] === undefined &&
      tally.making === 0 &&
      tally.pending > 0 &&
      tally.live === tally.pending &&
      runningRun(batch) === undefined
    ) {
      const ts = await post(batch, allLiveReply(tally.live, replyOptions));
      if (ts !== undefined) await options.markTold(batch.id, { notice: "all-live" }, ts);
    }
    if (state.expiresAt !== undefined && batch.told.expiry === undefined && tally.pending > 0) {
      const ts = await post(
        batch,
        expiryReply(batch, state.expiresAt, tally.pending, replyOptions),
      );
      if (ts !== undefined) await options.markTold(batch.id, { notice: "expiry" }, ts);
    }
  }

  return {
    memberEvent(event, request) {
      if (request.batchId === null || stopped) return;
      const state = stateOf(request.batchId);
      state.events.set(event.id, event);
      if (event.kind === "expiry-reminder" && typeof event.details.expiresAt === "string") {
        state.expiresAt = event.details.expiresAt;
      }
      schedule(request.batchId);
    },
    redraw(batchId) {
      schedule(batchId);
    },
    async idle() {
      for (;;) {
        const busy = [...cards.values()].filter(
          (state) => state.timer !== undefined || state.drawing !== undefined,
        );
        if (busy.length === 0) return;
        await Promise.all(
          busy.map((state) => state.drawing ?? new Promise((resolve) => setTimeout(resolve, 20))),
        );
      }
    },
    stop() {
      stopped = true;
      for (const state of cards.values()) {
        if (state.timer !== undefined) clearTimeout(state.timer);
        state.timer = undefined;
      }
    },
  };
}
