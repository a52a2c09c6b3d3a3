/**
 * Reject (an approver, with a reason the requester reads in the thread) and cancel (the
 * requester withdraws). Both end a pending request and erase its key.
 */
import { refuse, requireApprover, requireSameWorkspace } from "./authorization.js";
import type { RequestsContext } from "./context.js";
import { MAX_REJECT_REASON, optionalText } from "./create-input.js";
import { decide } from "./decide.js";
import type { Actor, DkimRequest } from "./model.js";

export interface RejectOrCancel {
  reject(id: string, input: Actor & { reason?: string | undefined }): Promise<DkimRequest>;
  cancel(id: string, input: Actor): Promise<DkimRequest>;
}

export function createRejectOrCancel(ctx: RequestsContext): RejectOrCancel {
  async function reject(
    id: string,
    input: Actor & { reason?: string | undefined },
  ): Promise<DkimRequest> {
    const reason = optionalText("reason", input.reason, MAX_REJECT_REASON);
    const request = await ctx.requireRequest(id);
    requireSameWorkspace(ctx, "NOT_ALLOWED", request, input);
    // The requester may withdraw their own request this way too: the request message has
    // Reject but no Cancel button, and the event records who it was.
    if (input.actorId !== request.requesterId) {
      await requireApprover(
        ctx,
        "NOT_ALLOWED",
        request,
        input.actorId,
        "reject this request",
        `<@${request.requesterId}> (who asked for it)`,
      );
    }
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

  return { reject, cancel };
}

/**
 * A failed request can be ended too (its key erased, its selector freed); anything else is
 * moved from "pending", so a request already handled is answered with who handled it.
 */
function endableFrom(request: DkimRequest): "pending" | "failed" {
  return request.state === "failed" ? "failed" : "pending";
}
