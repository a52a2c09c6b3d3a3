/**
 * Who may act on a request, as sentences: the refusals every use case gives (not an
 * approver, the group lookup failed, already handled by someone else). The rules themselves
 * (DKIM_APPROVERS, groups) are approval-policy.ts's; this turns a "no" into what to tell.
 */
import {
  approverGroups,
  approverUsers,
  checkApprover,
  describeApprovers,
  joinWithOr,
} from "./approval-policy.js";
import type { RequestsContext } from "./context.js";
import { describeHandled } from "./describe-handled.js";
import { ActionRefusedError, type RefusalReason } from "./errors.js";
import type { Actor, DkimRequest } from "./model.js";

export type RefusalCode = "APPROVAL_REFUSED" | "NOT_ALLOWED";

/** What a refusal is about: a request, or a batch of them (its id is logged and kept). */
type Subject = Pick<DkimRequest, "id">;

export function refuse(
  ctx: RequestsContext,
  code: RefusalCode,
  reason: RefusalReason,
  request: Subject,
  message: string,
): ActionRefusedError {
  ctx.logger.info("Refused an action on a DKIM request.", { requestId: request.id, reason });
  return new ActionRefusedError(code, reason, request.id, message);
}

/** For whoever comes second: who handled the request, and how it stands now. */
export function alreadyHandled(
  ctx: RequestsContext,
  code: RefusalCode,
  request: DkimRequest,
): ActionRefusedError {
  return refuse(
    ctx,
    code,
    "already-handled",
    request,
    describeHandled(request, ctx.policy.ttlDays),
  );
}

/**
 * A request belongs to the workspace (and org) it was made in: a click from any other, even
 * with a request id and a valid signature, acts on nothing. A request made before the bot
 * recorded workspaces belongs to the bot's own (auth.test at start).
 */
export function requireSameWorkspace(
  ctx: RequestsContext,
  code: RefusalCode,
  request: Subject & Pick<DkimRequest, "teamId" | "enterpriseId">,
  actor: Actor,
): void {
  if (isSameWorkspace(ctx, request, actor)) return;
  throw refuse(
    ctx,
    code,
    "other-workspace",
    request,
    "This request belongs to another Slack workspace (or organisation), so nothing was done. Act on it from the workspace where it was made.",
  );
}

/** Whether the actor acts from the request's workspace (and org): see requireSameWorkspace. */
export function isSameWorkspace(
  ctx: Pick<RequestsContext, "homeTeamId">,
  request: Pick<DkimRequest, "teamId" | "enterpriseId">,
  actor: Actor,
): boolean {
  if (actor.teamId === undefined) return true;
  const teamId = request.teamId ?? ctx.homeTeamId;
  const sameTeam = teamId === undefined || teamId === actor.teamId;
  const sameOrg = request.teamId === null || (actor.enterpriseId ?? null) === request.enterpriseId;
  return sameTeam && sameOrg;
}

/**
 * Refuses anyone not in DKIM_APPROVERS; `verb` finishes "Only … can <verb>". Resolves with how
 * the actor qualified (their own id, or the group they are in).
 */
export async function requireApprover(
  ctx: RequestsContext,
  code: RefusalCode,
  request: Subject,
  actorId: string,
  verb: string,
  alsoAllowed?: string,
): Promise<string> {
  const { policy } = ctx;
  const verdict = await checkApprover(policy, actorId, ctx.isMemberOfGroup);
  if (verdict.allowed) return verdict.via;
  if (approverUsers(policy).length + approverGroups(policy).length === 0) {
    throw refuse(
      ctx,
      code,
      "not-approver",
      request,
      `Nobody can ${verb}: DKIM_APPROVERS lists no user or user group. Ask whoever runs dkim-bot to set it.`,
    );
  }
  if (verdict.lookupFailedFor.length > 0) {
    const groups = joinWithOr(verdict.lookupFailedFor.map((id) => `<!subteam^${id}>`));
    throw refuse(
      ctx,
      code,
      "approver-lookup-failed",
      request,
      `Could not check whether you are a member of ${groups}, which may ${verb}. Try again in a moment.`,
    );
  }
  const who = alsoAllowed === undefined ? "" : `${alsoAllowed} or `;
  throw refuse(
    ctx,
    code,
    "not-approver",
    request,
    `Only ${who}${describeApprovers(policy)} can ${verb}: ask one of them.`,
  );
}

/**
 * Rejecting is the approvers' (with a reason); a requester who is not one is told to withdraw
 * with Cancel instead (`requesterSentence`), rather than only who may reject.
 */
export async function requireRejecter(
  ctx: RequestsContext,
  subject: Subject & Pick<DkimRequest, "requesterId">,
  actorId: string,
  verb: string,
  requesterSentence: string,
): Promise<string> {
  try {
    return await requireApprover(ctx, "NOT_ALLOWED", subject, actorId, verb);
  } catch (error) {
    if (
      actorId === subject.requesterId &&
      error instanceof ActionRefusedError &&
      error.reason === "not-approver"
    ) {
      throw refuse(ctx, "NOT_ALLOWED", "not-approver", subject, requesterSentence);
    }
    throw error;
  }
}
