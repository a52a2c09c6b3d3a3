import type { DkimRequest } from "./model.js";

/** "2026-11-26 13:20 UTC": plain text, as requests/ knows nothing of Slack's date tokens. */
export function formatTime(iso: string | null): string {
  if (iso === null) return "an unknown time";
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** The sentence for someone who acts on a request that is no longer waiting for them. */
export function describeHandled(request: DkimRequest, ttlDays: number): string {
  const by = request.decidedBy === null ? "someone" : `<@${request.decidedBy}>`;
  const when = formatTime(request.decidedAt);
  switch (request.state) {
    case "pending":
      return "This request is still waiting for approval: there is nothing to retry.";
    case "applying":
      return `Already approved by ${by} at ${when}; it is being applied now.`;
    case "active":
      return `Already approved by ${by} at ${when} and applied: DKIM is active.`;
    case "failed":
      return `Already approved by ${by} at ${when}, but applying it failed (${request.lastError ?? "no details"}). An approver can retry it.`;
    case "rejected":
      return `Already rejected by ${by} at ${when}${request.rejectReason === null ? "" : ` (${request.rejectReason})`}.`;
    case "cancelled":
      return `Already cancelled by ${by} at ${when}.`;
    case "expired":
      return `This request expired at ${when}: nobody approved it within ${ttlDays} days. Create a new request.`;
    case "retiring":
      return `This key was replaced by a newer one on ${formatTime(request.updatedAt)}; its record stays published until ${formatTime(request.retireAfter)}, then it is retired.`;
    case "retired":
      return `This key was retired on ${formatTime(request.retiredAt)}: nothing more to do.`;
  }
}
