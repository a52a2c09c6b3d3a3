import type { RequestState } from "./model.js";

/**
 * design.md "Request states":
 *   pending -> applying -> active -> retiring -> retired;
 *   applying -> failed -> applying (retry);
 *   pending | failed -> rejected | cancelled | expired.
 * Nothing else moves. rejected, cancelled, expired and retired are final.
 */
const ALLOWED: Readonly<Record<RequestState, readonly RequestState[]>> = {
  pending: ["applying", "rejected", "cancelled", "expired"],
  applying: ["active", "failed"],
  failed: ["applying", "rejected", "cancelled", "expired"],
  active: ["retiring"],
  retiring: ["retired"],
  rejected: [],
  cancelled: [],
  expired: [],
  retired: [],
};

/** States that hold a domain+selector: a second request for the same pair is refused. */
export const OPEN_STATES: readonly RequestState[] = ["pending", "applying", "failed"];

/** States whose selector is in use for the domain: a new request may not take it. */
export const SELECTOR_IN_USE_STATES: readonly RequestState[] = [
  ...OPEN_STATES,
  "active",
  "retiring",
];

/** States whose record is (or must stay) published: monitoring checks them. */
export const MONITORED_STATES: readonly RequestState[] = ["active", "retiring"];

/** States in which the sealed private key has been erased (it is no longer needed). */
export const KEY_ERASED_STATES: readonly RequestState[] = [
  "active",
  "retiring",
  "retired",
  "rejected",
  "cancelled",
  "expired",
];

export function canTransition(from: RequestState, to: RequestState): boolean {
  return ALLOWED[from].includes(to);
}

export function allowedTransitions(from: RequestState): readonly RequestState[] {
  return ALLOWED[from];
}

export function isOpenState(state: RequestState): boolean {
  return OPEN_STATES.includes(state);
}

export function isFinalState(state: RequestState): boolean {
  return ALLOWED[state].length === 0;
}

export function keepsPrivateKey(state: RequestState): boolean {
  return !KEY_ERASED_STATES.includes(state);
}

/** A programming error, not a user error: the service only asks for moves the design allows. */
export function assertTransition(from: RequestState, to: RequestState): void {
  if (!canTransition(from, to)) {
    throw new Error(`A request cannot go from ${from} to ${to}.`);
  }
}
