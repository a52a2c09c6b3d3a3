/**
 * The one mechanism behind every periodic job (the DNS watch, recovery, and later monitoring,
 * reminders, retirement): a cycle, then a pause of about `periodMs` (give or take 20 %, so
 * replicas do not run in step), then the next. Cycles of one job never overlap in a process;
 * an `exclusive` job also takes a lease in the store, so only one replica runs each cycle,
 * and a cycle that overruns its period keeps its lease alive and is not started again
 * elsewhere. A failing cycle is logged and tried again next time; it never rejects. Timers
 * do not keep the process alive.
 */
import { type RequestsLogger, silentLogger } from "./logger.js";
import { describeFailure } from "./redact.js";
import type { RequestStore } from "./store.js";

export interface PeriodicJob {
  /** Also the lease's name (`job:<name>`). */
  name: string;
  periodMs: number;
  cycle(): Promise<void>;
}

export interface PeriodicOptions {
  logger?: RequestsLogger;
  /** 0..1 (default Math.random). */
  random?: () => number;
  /** Exclusive across replicas: the store holding the leases. */
  leases?: Pick<RequestStore, "owner" | "tryAcquireLease" | "leaseUntil">;
  /** How long a running cycle's lease lasts between heartbeats (default 30 s). */
  leaseMs?: number;
  /** Real time (default Date.now). */
  clock?: () => number;
  /**
   * The first cycle: at once (true), after one period (false, the default), or when it is due
   * ("when-due": its lease says when the last cycle, on any replica or before a restart, wants
   * the next; at once when there was none). A job that runs once a day must not wait a day
   * after every restart, nor run again at each one.
   */
  runAtStart?: boolean | "when-due";
}

export interface Periodic {
  /** One cycle now (or the one already running). */
  runOnce(): Promise<void>;
  /** No more cycles; resolves once the running one, if any, has finished. */
  stop(): Promise<void>;
}

export function startPeriodic(job: PeriodicJob, options: PeriodicOptions = {}): Periodic {
  const logger = options.logger ?? silentLogger;
  const random = options.random ?? Math.random;
  const clock = options.clock ?? Date.now;
  const leaseMs = options.leaseMs ?? 30_000;
  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  /** This replica ran the last cycle: the next is not due before this (ms). */
  let nextDueAt = 0;

  const iso = (ms: number): string => new Date(ms).toISOString();

  /** Takes the job's lease for a cycle; false when another replica holds it. */
  async function takeLease(): Promise<boolean> {
    const leases = options.leases;
    if (leases === undefined) return true;
    const now = clock();
    // The lease is still ours from the cycle that just ended: the store would say yes.
    if (now < nextDueAt) return false;
    return leases.tryAcquireLease(
      `job:${job.name}`,
      { owner: leases.owner, until: iso(now + Math.max(leaseMs, job.periodMs)) },
      iso(now),
    );
  }

  async function cycle(): Promise<void> {
    const started = clock();
    let heartbeat: NodeJS.Timeout | undefined;
    try {
      if (!(await takeLease())) return;
      const leases = options.leases;
      if (leases !== undefined) {
        // An overrunning cycle stays this replica's: nobody else starts the next one meanwhile.
        heartbeat = setInterval(() => {
          const now = clock();
          leases
            .tryAcquireLease(
              `job:${job.name}`,
              { owner: leases.owner, until: iso(now + leaseMs) },
              iso(now),
            )
            .catch(() => {});
        }, leaseMs / 3);
        heartbeat.unref();
      }
      await job.cycle();
      if (leases !== undefined) {
        // The next cycle, on whichever replica, comes about one period after this one began.
        const now = clock();
        const until = Math.max(now + 1, started + job.periodMs * 0.8);
        nextDueAt = until;
        await leases.tryAcquireLease(
          `job:${job.name}`,
          { owner: leases.owner, until: iso(until) },
          iso(now),
        );
      }
    } catch (error) {
      logger.warn(`The ${job.name} cycle failed; it runs again later.`, {
        error: describeFailure(error),
      });
    } finally {
      if (heartbeat !== undefined) clearInterval(heartbeat);
    }
  }

  function schedule(): void {
    if (stopped) return;
    const jitter = 0.8 + 0.4 * random();
    timer = setTimeout(() => void runOnce(), Math.max(50, job.periodMs * jitter));
    timer.unref();
  }

  function runOnce(): Promise<void> {
    if (stopped) return Promise.resolve();
    if (running !== undefined) return running;
    if (timer !== undefined) clearTimeout(timer);
    running = cycle().finally(() => {
      running = undefined;
      schedule();
    });
    return running;
  }

  if (options.runAtStart === true) void runOnce();
  else if (options.runAtStart === "when-due" && options.leases !== undefined) {
    void options.leases.leaseUntil(`job:${job.name}`).then(
      (until) => {
        if (stopped) return;
        const wait = until === undefined ? 0 : Date.parse(until) - clock();
        if (wait <= 0) {
          void runOnce();
          return;
        }
        timer = setTimeout(() => void runOnce(), wait);
        timer.unref();
      },
      () => schedule(),
    );
  } else schedule();

  return {
    runOnce,
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await running;
    },
  };
}
