/**
 * Which audit events become which replies in a request's thread: pure rules, so the notifier
 * (and later a durable outbox) applies them the same way, and tests read them directly.
 *
 * - The thread says only what is new. The first DNS check of a fresh request ("No DKIM record
 *   is published yet") is already on the card; DNS is news when the record turns live, when
 *   something wrong is published (or a different thing is wrong), and when a record that was
 *   published goes away. A failed lookup says nothing about the record: the card shows it.
 * - The apply is one reply: opened by the approval (or a retry, or the resume after a
 *   restart) and edited as each step completes; its outcome (Active, Failed) is a reply of
 *   its own, since that is what people wait for.
 * - A reply with a button loses it once the button no longer applies (Retry, once the request
 *   is not failed any more; Rotate, once a rotation started or the key is no longer active;
 *   Mark retired, once the key is retired).
 * - After Active, what people must act on (a broken record, an old key, an old record to
 *   remove) is a notice: a reply with its button, also sent to the alert channel.
 */
import type { DkimCheckStatus } from "../dkim/check.js";
import type { AuditEvent, DkimRequest } from "../requests/model.js";

/** What the thread does for one event. */
export interface ReplyPlan {
  /**
   * The reply to post: the record's split form (`record`), a reply of its own (`event`), the
   * failure with its Retry (`failure`), a new apply reply (`apply`), a notice with its button
   * (`notice`), or nothing (`none`).
   */
  post: "none" | "record" | "event" | "failure" | "apply" | "notice";
  /** Also tell the alert channel (DKIM_ALERT_CHANNEL, else the key's channel), mentioning the approvers. */
  alert: boolean;
  /** Redraw the open apply reply with the request's progress first (or open one for a step). */
  fold: boolean;
  /** This run of the apply is over: its reply is not edited again. */
  closeApply: boolean;
}

const NOTHING: ReplyPlan = { post: "none", fold: false, closeApply: false, alert: false };

/**
 * The plan for `event`. `previousDns` is the DNS verdict before this one (null when there was
 * none, or it is not known).
 */
export function planReply(event: AuditEvent, previousDns: DkimCheckStatus | null): ReplyPlan {
  switch (event.kind) {
    case "created":
      return { ...NOTHING, post: "record" };
    case "dns-live":
    case "dns-problem":
      return tellsDnsNews(previousDns, dnsStatusOf(event))
        ? { ...NOTHING, post: "event" }
        : NOTHING;
    case "approved":
    case "retried":
    case "resumed":
      return { ...NOTHING, post: "apply" };
    case "certificate-installed":
    case "selector-enabled":
      return { ...NOTHING, fold: true };
    case "active":
      return { ...NOTHING, post: "event", fold: true, closeApply: true };
    case "failed":
      return { ...NOTHING, post: "failure", fold: true, closeApply: true };
    case "rejected":
    case "cancelled":
    case "expiry-reminder":
    case "expired":
    case "rotation-started":
    case "retiring":
    case "retired":
    case "dns-published":
    case "dns-removed":
    case "dns-revoked":
    case "dns-publish-failed":
      return { ...NOTHING, post: "event" };
    case "monitor-recovered":
      return { ...NOTHING, post: "event", alert: true };
    case "monitor-problem":
    case "rotation-due":
    case "retire-due":
      return { ...NOTHING, post: "notice", alert: true };
  }
}

/**
 * Whether a notice's button still applies: Rotate (a broken record, an old key) while the key
 * is active and no rotation started since; Mark retired while the key is retiring.
 */
export function noticeButtonsApply(
  notice: Pick<AuditEvent, "kind">,
  request: Pick<DkimRequest, "state">,
  rotationStarted: boolean,
): boolean {
  if (notice.kind === "retire-due") return request.state === "retiring";
  return request.state === "active" && !rotationStarted;
}

/** Whether a DNS verdict is worth a reply, given the one before. */
export function tellsDnsNews(previous: DkimCheckStatus | null, next: DkimCheckStatus): boolean {
  switch (next) {
    case "live":
    case "wrong":
      return true;
    case "missing":
      return previous === "live" || previous === "wrong";
    case "lookup-failed":
      return false;
  }
}

const DNS_STATUSES: readonly DkimCheckStatus[] = ["live", "missing", "wrong", "lookup-failed"];

function asDnsStatus(value: unknown): DkimCheckStatus | undefined {
  return DNS_STATUSES.find((status) => status === value);
}

/** The verdict a DNS event carries (`status`), or what its kind implies. */
export function dnsStatusOf(event: AuditEvent): DkimCheckStatus {
  return asDnsStatus(event.details.status) ?? (event.kind === "dns-live" ? "live" : "missing");
}

/**
 * The verdict before a DNS event: the event's own `previous` when the service records it,
 * else what the caller remembers (the last verdict it saw for the request), else unknown.
 */
export function previousDnsOf(
  event: AuditEvent,
  remembered: DkimCheckStatus | undefined,
): DkimCheckStatus | null {
  if ("previous" in event.details) return asDnsStatus(event.details.previous) ?? null;
  return remembered ?? null;
}

/** Whether an event carries a DNS verdict. */
export function isDnsEvent(event: AuditEvent): boolean {
  return event.kind === "dns-live" || event.kind === "dns-problem";
}

/** The failure reply's Retry applies only while the request is failed. */
export function failureButtonsApply(request: Pick<DkimRequest, "state">): boolean {
  return request.state === "failed";
}

/**
 * Events of a batch's request that fold into the batch card (batch-notifier.ts) instead of a
 * reply of their own: everything up to the key signing, and its end. What comes after Active
 * (monitoring, rotation, retirement) is about one domain, and is told in the batch's thread
 * as it is told for a single request.
 */
export function foldsIntoBatch(event: Pick<AuditEvent, "kind">): boolean {
  switch (event.kind) {
    case "created":
    case "dns-live":
    case "dns-problem":
    case "approved":
    case "certificate-installed":
    case "selector-enabled":
    case "active":
    case "failed":
    case "retried":
    case "resumed":
    case "rejected":
    case "cancelled":
    case "expiry-reminder":
    case "expired":
    case "dns-published":
    case "dns-publish-failed":
    case "dns-removed":
      return true;
    default:
      return false;
  }
}
