/**
 * Reject (an approver, with a reason the requester reads in the thread) and cancel (the
 * requester withdraws, with the card's own Cancel). Both end a pending (or failed) request and
 * erase its key.
 */
import { describeApprovers } from "./approval-policy.js";
import { alreadyHandled, refuse, requireRejecter, requireSameWorkspace } from "./authorization.js";
import type { RequestsContext } from "./context.js";
import { MAX_REJECT_REASON, optionalText } from "./create-input.js";
import { decide } from "./decide.js";
import type { Actor, DkimRequest } from "./model.js";

export interface RejectOrCancel {
  /** `approverVia`: the actor was found to be an approver for this action already (a batch). */
  reject(
    id: string,
    input: Actor & { reason?: string | undefined },
    options?: { approverVia?: string },
  ): Promise<DkimRequest>;
  /**
   * Whether `actor` may reject the request now, asked before Reject's form opens (nobody
   * types a reason only to be refused); the refusal is thrown, as `reject` would throw it.
   */
  mayReject(id: string, actor: Actor): Promise<void>;
  cancel(id: string, input: Actor): Promise<DkimRequest>;
}

export function createRejectOrCancel(ctx: RequestsContext): RejectOrCancel {
  /** Reject is the approvers' (with a reason); the requester withdraws with Cancel. */
  async function checkReject(id: string, actor: Actor, approverVia?: string): Promise<DkimRequest> {
    const request = await ctx.requireRequest(id);
    requireSameWorkspace(ctx, "NOT_ALLOWED", request, actor);
    if (approverVia === undefined) {
      await requireRejecter(
        ctx,
        request,
        actor.actorId,
        "reject this request",
        `Only ${describeApprovers(ctx.policy)} can reject a request. You asked for this one: click Cancel on its card to withdraw it.`,
      );
    }
    if (request.state !== "pending" && request.state !== "failed") {
      throw alreadyHandled(ctx, "NOT_ALLOWED", request);
    }
    return request;
  }

  async function reject(
    id: string,
    input: Actor & { reason?: string | undefined },
    options: { approverVia?: string } = {},
  ): Promise<DkimRequest> {
    const reason = optionalText("reason", input.reason, MAX_REJECT_REASON);
    const request = await checkReject(id, input, options.approverVia);
    return decide(ctx, {
      id,
      to: "rejected",
      from: endableFrom(request),
      actorId: input.actorId,
      refusalCode: "NOT_ALLOWED",
      event: { kind: "rejected", details: { reason } },
      changes: { rejectReason: reason },
    });
  }

  async function cancel(id: string, input: Actor): Promise<DkimRequest> {
    const request = await ctx.requireRequest(id);
    requireSameWorkspace(ctx, "NOT_ALLOWED", request, input);
    if (input.actorId !== request.requesterId) {
      throw refuse(
        ctx,
        "NOT_ALLOWED",
        "not-requester",
        request,
        `Only <@${request.requesterId}>, who asked for this request, can cancel it; an approver can reject it instead.`,
      );
    }
    return decide(ctx, {
      id,
      to: "cancelled",
      from: endableFrom(request),
      actorId: input.actorId,
      refusalCode: "NOT_ALLOWED",
      event: { kind: "cancelled", details: {} },
    });
  }

  return {
    reject,
    mayReject: async (id, actor) => {
      await checkReject(id, actor);
    },
    cancel,
  };
}

/**
 * A failed request can be ended too (its key erased, its selector freed); anything else is
 * moved from "pending", so a request already handled is answered with who handled it.
 */
function endableFrom(request: DkimRequest): "pending" | "failed" {
  return request.state === "failed" ? "failed" : "pending";
}
