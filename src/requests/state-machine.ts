import type { RequestState } from "./model.js";

/**
 * design.md "Request states":
 *   pending -> applying -> active; applying -> failed -> applying (retry);
 *   pending -> rejected | cancelled | expired.
 * Nothing else moves. active, rejected, cancelled and expired are final.
 */
const ALLOWED: Readonly<Record<RequestState, readonly RequestState[]>> = {
  pending: ["applying", "rejected", "cancelled", "expired"],
  applying: ["active", "failed"],
  failed: ["applying"],
  active: [],
  rejected: [],
  cancelled: [],
  expired: [],
};

/** States that hold a domain+selector: a second request for the same pair is refused. */
export const OPEN_STATES: readonly RequestState[] = ["pending", "applying", "failed"];

/** States in which the sealed private key has been erased (it is no longer needed). */
export const KEY_ERASED_STATES: readonly RequestState[] = [
  "active",
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
