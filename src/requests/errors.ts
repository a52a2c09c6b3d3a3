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
  | "other-workspace"
  /** A batch card's button was clicked after the card changed (another set of requests now). */
  | "batch-changed"
  /** A batch is busy with another run (approve all, retry failed, reject all, cancel). */
  | "batch-busy";

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

/**
 * A selector the domain uses (active, or retiring: its record must stay as it is). Reusing it
 * would publish another key at the very name verifiers check mail signed with the old one.
 */
export class SelectorInUseError extends CodedError {
  readonly existing: DkimRequest;

  constructor(existing: DkimRequest) {
    super(
      "REQUEST_CONFLICT",
      `Selector ${existing.selector} is in use for ${existing.domain} (${existing.state} key, request ${existing.id}): a new key there would break the signatures it verifies. Choose another selector= (or leave it out for a new one).`,
    );
    this.existing = existing;
  }
}

/** A setup of a domain that already signs with a key of the bot: that is a rotation. */
export class DomainActiveError extends CodedError {
  readonly active: DkimRequest;

  constructor(active: DkimRequest, ageDays: number) {
    super(
      "REQUEST_CONFLICT",
      `${active.domain} already has an active DKIM key (selector ${active.selector}, active for ${ageDays === 1 ? "1 day" : `${ageDays} days`}): to replace it, use /dkim rotate ${active.domain}.`,
    );
    this.active = active;
  }
}

/** A rotation asked for a domain without an active key, or while one is under way. */
export class RotationRefusedError extends CodedError {
  constructor(message: string) {
    super("REQUEST_CONFLICT", message);
  }
}

export function requestNotFound(id: string): CodedError {
  return new CodedError(
    "REQUEST_NOT_FOUND",
    `There is no DKIM request ${id}. Check the id, or see /dkim status.`,
  );
}
