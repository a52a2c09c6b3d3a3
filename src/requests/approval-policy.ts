/** Who may approve: the rules of DKIM_APPROVERS, DKIM_ALLOW_SELF_APPROVAL and DKIM_REQUIRE_DNS. */
export interface ApprovalPolicy {
  /** Slack user IDs (U…, W…) and user-group IDs (S…). */
  approvers: readonly string[];
  allowSelfApproval: boolean;
  requireDns: boolean;
  /** A pending request expires after this many days. */
  ttlDays: number;
}

/** Whether a user is in a Slack user group (the Slack layer answers from usergroups.users.list). */
export type MembershipLookup = (userId: string, groupId: string) => Promise<boolean>;

export type ApproverVerdict =
  | { allowed: true; via: string }
  | { allowed: false; lookupFailedFor: string[] };

const USER_ID = /^[UW][A-Z0-9]+$/;
const GROUP_ID = /^S[A-Z0-9]+$/;

export function approverUsers(policy: Pick<ApprovalPolicy, "approvers">): string[] {
  return policy.approvers.map((entry) => entry.trim()).filter((entry) => USER_ID.test(entry));
}

export function approverGroups(policy: Pick<ApprovalPolicy, "approvers">): string[] {
  return policy.approvers.map((entry) => entry.trim()).filter((entry) => GROUP_ID.test(entry));
}

/**
 * Listed users first (no lookup needed), then groups one by one. A failing group lookup does
 * not make anyone an approver, but it is reported so the refusal can say "try again" rather
 * than "you are not allowed" to someone who may well be.
 */
export async function checkApprover(
  policy: Pick<ApprovalPolicy, "approvers">,
  actorId: string,
  isMemberOfGroup: MembershipLookup,
): Promise<ApproverVerdict> {
  if (approverUsers(policy).includes(actorId)) return { allowed: true, via: actorId };
  const lookupFailedFor: string[] = [];
  for (const group of approverGroups(policy)) {
    try {
      if (await isMemberOfGroup(actorId, group)) return { allowed: true, via: group };
    } catch {
      lookupFailedFor.push(group);
    }
  }
  return { allowed: false, lookupFailedFor };
}

/** "<@U1>, <@U2> or members of <!subteam^S1>", in Slack's mention syntax. */
export function describeApprovers(policy: Pick<ApprovalPolicy, "approvers">): string {
  const people = approverUsers(policy).map((id) => `<@${id}>`);
  const groups = approverGroups(policy).map((id) => `<!subteam^${id}>`);
  const parts = [...people];
  if (groups.length > 0) parts.push(`members of ${joinWithOr(groups)}`);
  return parts.length === 0 ? "nobody (DKIM_APPROVERS lists no one)" : joinWithOr(parts);
}

export function joinWithOr(items: readonly string[]): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`;
}
