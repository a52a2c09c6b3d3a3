import { CodedError } from "../errors.js";
import type { DkimRequest } from "./model.js";
import { recordNameOf } from "./model.js";

/** Why an approve (or reject, cancel, retry) was refused: stable codes for the outer layers. */
export type RefusalReason =
  | "not-approver"
  | "approver-lookup-failed"
  | "self-approval"
  | "fingerprint-mismatch"
  | "dns-not-ready"
  | "already-handled"
  | "not-requester"
  | "other-workspace";

/**
 * A person may not do this to this request (now). `message` is the sentence for them;
 * `reason` says which rule refused. Approvals carry APPROVAL_REFUSED, the other actions
 * NOT_ALLOWED.
 */
export class ActionRefusedError extends CodedError {
  readonly reason: RefusalReason;
  readonly requestId: string;

  constructor(
    code: "APPROVAL_REFUSED" | "NOT_ALLOWED",
    reason: RefusalReason,
    requestId: string,
    message: string,
  ) {
    super(code, message);
    this.reason = reason;
    this.requestId = requestId;
  }
}

/**
 * A second open request for the same domain and selector. The message is plain text (a form's
 * field error cannot show a mention); the Slack layer says who asked from `existing`.
 */
export class RequestConflictError extends CodedError {
  readonly existing: DkimRequest;

  constructor(existing: DkimRequest) {
    super(
      "REQUEST_CONFLICT",
      `Request ${existing.id} for ${recordNameOf(existing)} is still open (${existing.state} since ${existing.createdAt.slice(0, 10)}; see /dkim status ${existing.domain}). Finish, reject or cancel it first, or choose another selector.`,
    );
    this.existing = existing;
  }
}

export function requestNotFound(id: string): CodedError {
  return new CodedError(
    "REQUEST_NOT_FOUND",
    `There is no DKIM request ${id}. Check the id, or see /dkim status.`,
  );
}
