import { describe, expect, it } from "vitest";
import { REQUEST_STATES, type RequestState } from "../../src/requests/model.js";
import {
  allowedTransitions,
  assertTransition,
  canTransition,
  isFinalState,
  isOpenState,
  keepsPrivateKey,
} from "../../src/requests/state-machine.js";

/** design.md "Request states", written out as the full list of allowed moves. */
const DESIGN: ReadonlyArray<[RequestState, RequestState]> = [
  ["pending", "applying"],
  ["applying", "active"],
  ["applying", "failed"],
  ["failed", "applying"],
  ["pending", "rejected"],
  ["pending", "cancelled"],
  ["pending", "expired"],
  ["failed", "rejected"],
  ["failed", "cancelled"],
  ["failed", "expired"],
  ["active", "retiring"],
  ["retiring", "retired"],
];

describe("request state machine", () => {
  it("allows exactly the moves of the design, and no other pair of states", () => {
    for (const from of REQUEST_STATES) {
      for (const to of REQUEST_STATES) {
        const allowed = DESIGN.some(([a, b]) => a === from && b === to);
        expect(canTransition(from, to), `${from} -> ${to}`).toBe(allowed);
      }
    }
  });

  it("lists the next states of each state", () => {
    expect(allowedTransitions("pending")).toEqual(["applying", "rejected", "cancelled", "expired"]);
    expect(allowedTransitions("failed")).toEqual(["applying", "rejected", "cancelled", "expired"]);
    expect(allowedTransitions("active")).toEqual(["retiring"]);
    expect(allowedTransitions("retiring")).toEqual(["retired"]);
  });

  it("treats rejected, cancelled, expired and retired as final", () => {
    const final = REQUEST_STATES.filter(isFinalState);
    expect(final).toEqual(["rejected", "cancelled", "expired", "retired"]);
  });

  it("holds the domain and selector while pending, applying or failed", () => {
    expect(REQUEST_STATES.filter(isOpenState)).toEqual(["pending", "applying", "failed"]);
  });

  it("keeps the private key only while it may still be installed", () => {
    expect(REQUEST_STATES.filter(keepsPrivateKey)).toEqual(["pending", "applying", "failed"]);
  });

  it("throws on a move the design does not allow", () => {
    expect(() => assertTransition("active", "applying")).toThrow(
      "A request cannot go from active to applying.",
    );
    expect(() => assertTransition("pending", "active")).toThrow();
    expect(() => assertTransition("failed", "applying")).not.toThrow();
  });
});
