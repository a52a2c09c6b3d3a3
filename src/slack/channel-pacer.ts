/**
 * Slack takes about one message per second per channel (chat.postMessage, and chat.update
 * alike; facts.md "Slack platform"). Without pacing, 100 approvals in one channel sent it 70
 * to 115 calls a second (issue 13). Here every call that posts or edits in a channel waits its
 * turn in that channel's queue: a short burst goes at once, then one call a second; a
 * `ratelimited` answer holds the channel for its Retry-After and the same call is sent again
 * (Slack did not take it). Other channels go on meanwhile.
 *
 * On a stop, calls still waiting are given back at once (`PacerStoppedError`): what they were
 * to say is in the store, undelivered, and is told at the next start. A call already sent is
 * left to finish.
 */

export interface ChannelPacer {
  /** Runs `call` when the channel's turn comes; retries it after a rate limit's Retry-After. */
  run<T>(channel: string, call: () => Promise<T>): Promise<T>;
  /** Calls waiting (not yet sent), in every channel. */
  readonly waiting: number;
  /** Channels whose pace is still kept (busy, or resting after a burst). */
  readonly channels: number;
  /** Gives every waiting call back (rejected with PacerStoppedError); nothing new is sent. */
  stop(): void;
}

export interface PacerOptions {
  /** Calls a channel may send at once after a quiet spell. */
  burst?: number;
  /** One more call a channel may send per this long. */
  intervalMs?: number;
  /** Longest Retry-After honoured (a longer one is cut to this, then the call tried again). */
  maxRetryAfterMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export class PacerStoppedError extends Error {
  constructor() {
    super("Slack calls are no longer sent: the bot is stopping.");
  }
}

/** Slack's answer `ratelimited`, as @slack/web-api reports it with rejectRateLimitedCalls. */
export function retryAfterMsOf(error: unknown): number | undefined {
  const { code, retryAfter } = (error ?? {}) as { code?: unknown; retryAfter?: unknown };
  if (code !== "slack_webapi_rate_limited_error") return undefined;
  return typeof retryAfter === "number" && retryAfter >= 0 ? retryAfter * 1000 : 1000;
}

interface Waiting {
  call: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

interface Lane {
  queue: Waiting[];
  /** Tokens left (a call takes one; one comes back per interval, up to `burst`). */
  tokens: number;
  refilledAt: number;
  /** No call before this (a Retry-After). */
  heldUntil: number;
  /** A drain loop serves the lane. */
  running: boolean;
  /** The head of the queue has been sent and not answered yet. */
  inFlight: boolean;
  /** Set while the lane is empty and waits for its burst to be whole before it is forgotten. */
  forgetTimer?: NodeJS.Timeout | undefined;
}

export const DEFAULT_BURST = 3;
export const DEFAULT_INTERVAL_MS = 1000;

export function createChannelPacer(options: PacerOptions = {}): ChannelPacer {
  const burst = options.burst ?? DEFAULT_BURST;
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 120_000;
  const now = options.now ?? Date.now;
  const sleep =
    options.sleep ??
    ((ms: number) =>
      new Promise<void>((resolve) => {
        setTimeout(resolve, ms).unref();
      }));
  const lanes = new Map<string, Lane>();
  let stopped = false;

  function laneOf(channel: string): Lane {
    let lane = lanes.get(channel);
    if (lane === undefined) {
      lane = {
        queue: [],
        tokens: burst,
        refilledAt: now(),
        heldUntil: 0,
        running: false,
        inFlight: false,
      };
      lanes.set(channel, lane);
    }
    return lane;
  }

  function refill(lane: Lane): void {
    const earned = Math.floor((now() - lane.refilledAt) / intervalMs);
    if (earned <= 0) return;
    lane.tokens = Math.min(burst, lane.tokens + earned);
    lane.refilledAt = lane.tokens === burst ? now() : lane.refilledAt + earned * intervalMs;
  }

  /** How long the lane must wait before its next call may go. */
  function waitOf(lane: Lane): number {
    refill(lane);
    const held = Math.max(0, lane.heldUntil - now());
    const forToken = lane.tokens > 0 ? 0 : Math.max(0, lane.refilledAt + intervalMs - now());
    return Math.max(held, forToken);
  }

  /** One call at a time per channel, in order; the lane is forgotten once empty. */
  async function drain(channel: string, lane: Lane): Promise<void> {
    lane.running = true;
    try {
      for (;;) {
        const head = lane.queue[0];
        if (head === undefined) return;
        if (stopped) {
          for (const waiting of lane.queue.splice(0)) waiting.reject(new PacerStoppedError());
          return;
        }
        const wait = waitOf(lane);
        if (wait > 0) {
          await sleep(wait);
          continue;
        }
        lane.tokens -= 1;
        lane.inFlight = true;
        try {
          const value = await head.call();
          lane.queue.shift();
          head.resolve(value);
        } catch (error) {
          const retryAfter = retryAfterMsOf(error);
          if (retryAfter === undefined || stopped) {
            lane.queue.shift();
            head.reject(retryAfter === undefined ? error : new PacerStoppedError());
            continue;
          }
          // Not taken: the same call goes again once the channel may speak.
          lane.heldUntil = now() + Math.min(retryAfter, maxRetryAfterMs);
          lane.tokens = 0;
          lane.refilledAt = lane.heldUntil - intervalMs;
        } finally {
          lane.inFlight = false;
        }
      }
    } finally {
      lane.running = false;
      forgetWhenRested(channel, lane);
    }
  }

  /**
   * An empty lane keeps its count until its burst is whole again: calls that come one after
   * another, each once the last was answered, are paced like a queue of them. Then it is
   * forgotten, so quiet channels cost nothing.
   */
  function forgetWhenRested(channel: string, lane: Lane): void {
    if (lane.queue.length > 0 || lanes.get(channel) !== lane) return;
    refill(lane);
    const restedAt = Math.max(
      lane.heldUntil,
      lane.tokens >= burst ? 0 : lane.refilledAt + (burst - lane.tokens) * intervalMs,
    );
    const rest = restedAt - now();
    if (rest <= 0) {
      lanes.delete(channel);
      return;
    }
    lane.forgetTimer = setTimeout(() => {
      lane.forgetTimer = undefined;
      if (!lane.running) forgetWhenRested(channel, lane);
    }, rest);
    lane.forgetTimer.unref();
  }

  return {
    run<T>(channel: string, call: () => Promise<T>): Promise<T> {
      if (stopped) return Promise.reject(new PacerStoppedError());
      const lane = laneOf(channel);
      const done = new Promise<T>((resolve, reject) => {
        lane.queue.push({ call, resolve: resolve as (value: unknown) => void, reject });
      });
      if (lane.forgetTimer !== undefined) {
        clearTimeout(lane.forgetTimer);
        lane.forgetTimer = undefined;
      }
      if (!lane.running) void drain(channel, lane);
      return done;
    },
    get channels() {
      return lanes.size;
    },
    get waiting() {
      let count = 0;
      for (const lane of lanes.values()) count += lane.queue.length - (lane.inFlight ? 1 : 0);
      return count;
    },
    stop() {
      stopped = true;
      for (const lane of lanes.values()) {
        if (lane.forgetTimer !== undefined) clearTimeout(lane.forgetTimer);
        // A call in flight finishes (or fails) on its own; the rest are given back now.
        const keep = lane.inFlight ? 1 : 0;
        for (const waiting of lane.queue.splice(keep)) waiting.reject(new PacerStoppedError());
      }
    },
  };
}
