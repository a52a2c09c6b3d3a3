/**
 * A person's decision on a pending (or, to end it, a failed) request: one atomic move out of `pending` that records
 * who decided and when. Whoever comes second (another click, another replica) is told who
 * handled it. Approve, reject and cancel all end here.
 */
import { alreadyHandled, type RefusalCode } from "./authorization.js";
import type { RequestsContext } from "./context.js";
import type { DkimRequest } from "./model.js";
import type { EventInput, Lease, RequestChanges } from "./store.js";

export async function decide(
  ctx: RequestsContext,
  decision: {
    id: string;
    to: "applying" | "rejected" | "cancelled";
    /** The state the decider saw (default pending); a failed request may be rejected or cancelled. */
    from?: "pending" | "failed";
    actorId: string;
    refusalCode: RefusalCode;
    event: Omit<EventInput, "actorId">;
    changes?: RequestChanges;
    /** Approve: this replica runs the apply it starts. */
    applyLease?: Lease;
  },
): Promise<DkimRequest> {
  const at = ctx.now();
  const change = await ctx.store.transition({
    id: decision.id,
    from: decision.from ?? "pending",
    to: decision.to,
    at,
    changes: { decidedBy: decision.actorId, decidedAt: at, ...decision.changes },
    event: { actorId: decision.actorId, ...decision.event },
    ...(decision.applyLease === undefined ? {} : { applyLease: decision.applyLease }),
  });
  if (change === undefined) {
    throw alreadyHandled(ctx, decision.refusalCode, await ctx.requireRequest(decision.id));
  }
  return ctx.emitChange(change);
}
