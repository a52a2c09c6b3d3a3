/**
 * What an action run for a person is waiting on right now, so that a "Still working" notice can
 * name it (Slack, SpamExperts, DNS). The action runs inside `trackWaits`; the Slack layer's own
 * calls to outside services mark themselves with `waitOn` (the group lookup does), and
 * AsyncLocalStorage carries the tracker through the request service to them without either
 * knowing of the other. Outside a tracked action, `waitOn` just runs the call.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { WaitingOn } from "./ui/refusal.js";

export interface WaitTracker {
  /** Runs `work` with this tracker; calls marked with `waitOn` inside it are seen. */
  run<T>(work: () => Promise<T>): Promise<T>;
  /** The outside service of the newest marked call still in flight, if any. */
  current(): WaitingOn | undefined;
}

interface Tracked {
  inFlight: WaitingOn[];
}

const tracking = new AsyncLocalStorage<Tracked>();

export function trackWaits(): WaitTracker {
  const tracked: Tracked = { inFlight: [] };
  return {
    run: (work) => tracking.run(tracked, work),
    current: () => tracked.inFlight.at(-1),
  };
}

export async function waitOn<T>(what: WaitingOn, call: () => Promise<T>): Promise<T> {
  const tracked = tracking.getStore();
  if (tracked === undefined) return call();
  tracked.inFlight.push(what);
  try {
    return await call();
  } finally {
    const at = tracked.inFlight.lastIndexOf(what);
    if (at !== -1) tracked.inFlight.splice(at, 1);
  }
}
