/**
 * The reminder before expiry: a pending request nobody approved is told once, ahead of the end
 * of its DKIM_REQUEST_TTL_DAYS, that it is about to expire, so the requester and the approvers
 * (the Slack layer mentions them) can still act. At expiry itself, expire-requests.ts.
 *
 * Each call is one idempotent cycle, run by the scheduler on one replica at a time. What was
 * told is an event in the store, written only while the request is still pending, so a
 * restart neither repeats a reminder nor skips one that is due.
 */
import type { RequestsContext } from "./context.js";
import { type DkimRequest, SYSTEM_ACTOR } from "./model.js";

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

/** How long before expiry the reminder comes, when the TTL leaves room for it. */
export const REMIND_BEFORE_EXPIRY_HOURS = 48;

/**
 * 48 hours before expiry; a TTL shorter than twice that (under 4 days) is reminded halfway
 * through instead, so a reminder never comes at, or right after, the request's creation.
 */
export function reminderLeadMs(ttlDays: number): number {
  return Math.min(REMIND_BEFORE_EXPIRY_HOURS * HOUR_MS, (ttlDays * DAY_MS) / 2);
}

export function createExpiryReminder(ctx: RequestsContext): () => Promise<DkimRequest[]> {
  return async function remindExpiring() {
    const now = ctx.clock().getTime();
    const { ttlDays } = ctx.policy;
    const ttlMs = ttlDays * DAY_MS;
    // Created before this, a pending request is within the lead time of its expiry.
    const dueBefore = new Date(now - ttlMs + reminderLeadMs(ttlDays)).toISOString();
    const reminded: DkimRequest[] = [];
    for (const request of await ctx.store.list({ states: ["pending"], createdBefore: dueBefore })) {
      const expiresAt = Date.parse(request.createdAt) + ttlMs;
      // Past its time, expiry (not a reminder) is what comes next.
      if (expiresAt <= now) continue;
      const events = await ctx.store.listEvents(request.id);
      if (events.some((event) => event.kind === "expiry-reminder")) continue;
      const at = ctx.now();
      const change = await ctx.store.update({
        id: request.id,
        // Approved, rejected or cancelled meanwhile: nothing to remind of.
        whileState: "pending",
        at,
        changes: {},
        event: {
          actorId: SYSTEM_ACTOR,
          kind: "expiry-reminder",
          details: { expiresAt: new Date(expiresAt).toISOString(), ttlDays },
        },
      });
      if (change !== undefined) reminded.push(ctx.emitChange(change));
    }
    return reminded;
  };
}
