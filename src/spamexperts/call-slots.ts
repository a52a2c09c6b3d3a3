/**
 * The client's own queue in front of its connections. undici queues a request that finds every
 * connection busy, but the request's timeout is already running there, so under a batch a call
 * timed out for waiting behind others, and its retry queued again behind the same calls
 * (issue 13). Here a call waits without a clock until a slot is free, and only then is sent
 * and timed; a retry waits ahead of calls not yet tried, so a call that already waited once
 * is not sent to the back again.
 */

export type SlotPriority = "retry" | "new";

export interface CallSlots {
  /** Runs `task` once a slot is free; the slot is held until the task settles. */
  run<T>(priority: SlotPriority, task: () => Promise<T>): Promise<T>;
  /** Tasks running now. */
  readonly active: number;
  /** Tasks waiting for a slot. */
  readonly waiting: number;
  /** Settles once nothing runs or waits. */
  idle(): Promise<void>;
}

/** A first-in first-out list with O(1) take, for queues of tens of thousands of waiters. */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  take(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.head += 1;
    // Compact now and then so a long-lived queue does not keep every item it ever held.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

export function createCallSlots(limit: number): CallSlots {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`call slots: the limit must be a positive integer, not ${limit}`);
  }
  const retries = new Fifo<() => void>();
  const fresh = new Fifo<() => void>();
  let active = 0;
  let idleWaiters: Array<() => void> = [];

  function release(): void {
    const next = retries.take() ?? fresh.take();
    if (next !== undefined) {
      // The slot passes straight to the next task: `active` stays as it is.
      next();
      return;
    }
    active -= 1;
    if (active === 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  function acquire(priority: SlotPriority): Promise<void> {
    if (active < limit) {
      active += 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      (priority === "retry" ? retries : fresh).push(resolve);
    });
  }

  return {
    async run(priority, task) {
      await acquire(priority);
      try {
        return await task();
      } finally {
        release();
      }
    },
    get active() {
      return active;
    },
    get waiting() {
      return retries.length + fresh.length;
    },
    idle() {
      if (active === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
  };
}
