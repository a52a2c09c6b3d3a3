/**
 * Expiry: a pending request nobody approved within DKIM_REQUEST_TTL_DAYS ends, its key erased;
 * so does a failed one nobody retried within as long after its failure.
 */
import type { RequestsContext } from "./context.js";
import { type DkimRequest, SYSTEM_ACTOR } from "./model.js";

const DAY_MS = 24 * 60 * 60 * 1000;

export function createExpiry(ctx: RequestsContext): () => Promise<DkimRequest[]> {
  return async function expire() {
    const at = ctx.clock();
    const cutoff = new Date(at.getTime() - ctx.policy.ttlDays * DAY_MS).toISOString();
    const expired: DkimRequest[] = [];
    const pending = await ctx.store.list({ states: ["pending"], createdBefore: cutoff });
    const failed = (await ctx.store.list({ states: ["failed"] })).filter(
      (request) => request.updatedAt < cutoff,
    );
    for (const request of [...pending, ...failed]) {
      const change = await ctx.store.transition({
        id: request.id,
        from: request.state,
        to: "expired",
        at: at.toISOString(),
        changes: { decidedBy: SYSTEM_ACTOR, decidedAt: at.toISOString() },
        event: {
          actorId: SYSTEM_ACTOR,
          kind: "expired",
          details: { ttlDays: ctx.policy.ttlDays },
        },
      });
      if (change !== undefined) expired.push(ctx.emitChange(change));
    }
    return expired;
  };
}
