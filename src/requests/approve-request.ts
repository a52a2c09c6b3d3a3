/**
 * Approve: an approver (not the requester, unless DKIM_ALLOW_SELF_APPROVAL) approves the key
 * they were shown; with DKIM_REQUIRE_DNS the record must be live and match first. The
 * approval starts the apply on this replica.
 */
import { isLiveAndMatching } from "../dkim/check.js";
import type { Applier } from "./apply-request.js";
import { alreadyHandled, refuse, requireApprover, requireSameWorkspace } from "./authorization.js";
import type { RequestsContext } from "./context.js";
import { decide } from "./decide.js";
import type { DnsChecks } from "./dns-checks.js";
import { type Actor, type DkimRequest, recordNameOf } from "./model.js";

/**
 * `approverVia`: the actor was found to be an approver for this very action already (a batch
 * asks Slack once per click, not once per request): how they qualified.
 */
export type Approve = (
  id: string,
  input: Actor & { fingerprintShown: string },
  options?: { approverVia?: string },
) => Promise<DkimRequest>;

/** "Only … can approve DKIM requests": the words of every approval refusal. */
export const APPROVE_VERB = "approve DKIM requests";

export function createApprove(ctx: RequestsContext, dns: DnsChecks, applier: Applier): Approve {
  const { policy } = ctx;
  return async function approve(id, input, options = {}) {
    const request = await ctx.requireRequest(id);
    requireSameWorkspace(ctx, "APPROVAL_REFUSED", request, input);
    const via =
      options.approverVia ??
      (await requireApprover(ctx, "APPROVAL_REFUSED", request, input.actorId, APPROVE_VERB));
    if (request.state !== "pending") throw alreadyHandled(ctx, "APPROVAL_REFUSED", request);
    if (input.actorId === request.requesterId && !policy.allowSelfApproval) {
      throw refuse(
        ctx,
        "APPROVAL_REFUSED",
        "self-approval",
        request,
        "You asked for this request, so another approver must approve it (DKIM_ALLOW_SELF_APPROVAL is off).",
      );
    }
    if (input.fingerprintShown.trim() !== request.fingerprint) {
      throw refuse(
        ctx,
        "APPROVAL_REFUSED",
        "fingerprint-mismatch",
        request,
        `The key you were shown (${input.fingerprintShown.trim() || "none"}) is not this request's key (${request.fingerprint}). Look at the request message again and approve from there.`,
      );
    }
    let dnsSummary: string | null = null;
    if (policy.requireDns) {
      const { result } = await dns.check(request);
      if (!isLiveAndMatching(result)) {
        throw refuse(
          ctx,
          "APPROVAL_REFUSED",
          "dns-not-ready",
          request,
          `The DNS record ${recordNameOf(request)} is not ready: ${result.summary} Approve again once it is live and matches the key (Check DNS shows its state).`,
        );
      }
      dnsSummary = result.summary;
    }
    await decide(ctx, {
      id,
      to: "applying",
      actorId: input.actorId,
      refusalCode: "APPROVAL_REFUSED",
      event: {
        kind: "approved",
        details: { fingerprint: request.fingerprint, via, dns: dnsSummary },
      },
      applyLease: ctx.applyLease(),
    });
    return applier.apply(id);
  };
}
