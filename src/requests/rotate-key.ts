/**
 * Rotation: a new key for a domain that signs with one of the bot's keys now, with a new
 * selector (never one the domain used), the active key's outgoing users, and the same
 * approval, DNS gate and apply as a setup. When the new key turns active, the old one goes
 * retiring (apply-request.ts), and is retired after the overlap (lifecycle.ts).
 */
import { normaliseDomain } from "../dkim/names.js";
import type { RequestsContext } from "./context.js";
import type { CreateRequestInput } from "./create-input.js";
import type { CreatedRequest, RequestCreation } from "./create-request.js";
import { RotationRefusedError } from "./errors.js";
import { SYSTEM_ACTOR } from "./model.js";
import { isOpenState } from "./state-machine.js";

/** What a person gives for a rotation: the domain, and optionally the selector and key size. */
export type RotateInput = Omit<CreateRequestInput, "usernames" | "testing">;

export function createRotation(
  ctx: RequestsContext,
  creation: RequestCreation,
): (input: RotateInput, options?: { setupId?: string }) => Promise<CreatedRequest> {
  return async function rotate(input, options = {}) {
    const domain = normaliseDomain(input.domain);
    const history = await ctx.store.list({ domain });
    const active = history.find((each) => each.state === "active");
    if (active === undefined) {
      const retiring = history.find((each) => each.state === "retiring");
      throw new RotationRefusedError(
        retiring === undefined
          ? `${domain} has no active DKIM key of the bot to rotate: set one up with /dkim setup ${domain}.`
          : `${domain} has no active key to rotate right now (selector ${retiring.selector} is retiring and its successor is not active): see /dkim status ${domain}.`,
      );
    }
    const underWay = history.find(
      (each) => each.rotationOf?.id === active.id && isOpenState(each.state),
    );
    if (underWay !== undefined) {
      throw new RotationRefusedError(
        `A rotation of ${domain} is under way already (selector ${underWay.selector}, ${underWay.state}, request ${underWay.id}): finish, reject or cancel it first.`,
      );
    }
    const created = await creation.create(
      { ...input, domain, usernames: active.usernames, testing: active.testing },
      { ...options, rotationOf: active },
    );
    // The old key's thread hears that its successor is on the way.
    const event = await ctx.store.appendEvent({
      requestId: active.id,
      at: ctx.now(),
      actorId: input.requesterId === "" ? SYSTEM_ACTOR : input.requesterId,
      kind: "rotation-started",
      details: { selector: created.request.selector, requestId: created.request.id },
    });
    ctx.emit(event, active);
    return created;
  };
}
