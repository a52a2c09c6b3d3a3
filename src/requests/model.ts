import type { DkimCheckStatus } from "../dkim/check.js";
import type { KeyBits } from "../dkim/keys.js";

/** See design.md "Request states"; the allowed moves live in state-machine.ts. */
export type RequestState =
  | "pending"
  | "applying"
  | "active"
  | "failed"
  | "rejected"
  | "cancelled"
  | "expired"
  | "retiring"
  | "retired";

export const REQUEST_STATES: readonly RequestState[] = [
  "pending",
  "applying",
  "active",
  "failed",
  "rejected",
  "cancelled",
  "expired",
  "retiring",
  "retired",
];

/** How far an apply got: a retry or a restart resumes from here instead of starting over. */
export interface ApplyProgress {
  certificateInstalled: boolean;
  /** Outgoing usernames for which `api_set_dkim_selector` has succeeded, in the order done. */
  enabledUsernames: string[];
}

/** The last DNS verdict stored for a request (the full result is not kept: it is re-checked). */
export interface StoredDnsCheck {
  status: DkimCheckStatus;
  /** Code of the first problem reported (error or warning), null when there was none. */
  problemCode: string | null;
  summary: string;
  /** ISO 8601. */
  checkedAt: string;
}

/**
 * One DKIM setup request. Timestamps are ISO 8601 strings; absent values are null (not
 * undefined) so a request reads back from the store exactly as it was written.
 * The private key is not part of the model: the store keeps it sealed beside the row.
 */
export interface DkimRequest {
  /** Random, short, URL-safe (lower-case letters and digits). */
  id: string;
  domain: string;
  selector: string;
  bits: KeyBits;
  /** Outgoing usernames to enable signing for; [domain] for domain-level authentication. */
  usernames: string[];
  /** The record carries `t=y`. */
  testing: boolean;
  reason: string | null;
  ticket: string | null;
  requesterId: string;
  /**
   * The workspace (and Enterprise Grid org) the request was made in: actions from any other
   * are refused. Null for requests made before the bot recorded it (the bot's own workspace).
   */
  teamId: string | null;
  enterpriseId: string | null;
  /** Opaque references to where the request message lives (set once it is posted). */
  channelId: string;
  messageTs: string | null;
  publicKeyBase64: string;
  fingerprint: string;
  /** The TXT value to publish at `<selector>._domainkey.<domain>`. */
  recordValue: string;
  state: RequestState;
  progress: ApplyProgress;
  lastDnsCheck: StoredDnsCheck | null;
  /** Who approved, rejected or cancelled it ("system" for expiry), and when. */
  decidedBy: string | null;
  decidedAt: string | null;
  rejectReason: string | null;
  /** A rotation: the active request this one replaces (the old key goes retiring when this one turns active). */
  rotationOf: RequestRef | null;
  /** Retiring or retired: the request whose key replaced this one. */
  replacedBy: RequestRef | null;
  /** When SpamExperts started signing with this key: its age counts from here. */
  activatedAt: string | null;
  /** Retiring: the old record may go after this (DKIM_ROTATION_OVERLAP_DAYS after the switch). */
  retireAfter: string | null;
  /** Retired: when, and by whom ("system" when DNS showed the record gone or revoked). */
  retiredAt: string | null;
  retiredBy: string | null;
  /**
   * The record is the bot's to write (DKIM_DNS_PUBLISH_ZONES): the zone, and where it stands
   * ("published", "removed", "revoked", or "failed:<reason>"). Null: published by hand.
   */
  publication: { zone: string; state: string } | null;
  /** The API's own text (or another plain explanation) of the last failed apply; never secrets. */
  lastError: string | null;
  /**
   * The batch it was made in (several domains, one card: requests/batch.ts), or null. Its
   * `messageTs` is then the batch card's, and its thread the batch's.
   */
  batchId: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Another request of the same domain, as a card names it. */
export interface RequestRef {
  id: string;
  selector: string;
}

export type AuditEventKind =
  | "created"
  | "dns-live"
  | "dns-problem"
  | "approved"
  | "certificate-installed"
  | "selector-enabled"
  | "active"
  | "failed"
  | "retried"
  | "rejected"
  | "cancelled"
  | "expired"
  | "resumed"
  /** Rotation: the new request was made (on the old one: a rotation is under way). */
  | "rotation-started"
  /** This key was replaced by a newer one of the domain; its record stays for the overlap. */
  | "retiring"
  /** The overlap is over: the old record should go (remove it, or publish the revoked value). */
  | "retire-due"
  | "retired"
  /** Monitoring of an active or retiring key: its record broke, and later came back. */
  | "monitor-problem"
  | "monitor-recovered"
  /** The key is older than DKIM_ROTATE_AFTER_DAYS (told again every 30 days while it stays). */
  | "rotation-due"
  /** DNS publishing: the bot wrote the record, removed it, revoked it, or could not. */
  | "dns-published"
  | "dns-removed"
  | "dns-revoked"
  | "dns-publish-failed"

  /** A pending request expires soon (48 hours before DKIM_REQUEST_TTL_DAYS ends); told once. */
  | "expiry-reminder";

/** Small, flat, JSON-safe facts about an event: API text, DNS summary, reason. Never secrets. */
export type AuditDetails = Record<string, string | number | boolean | null | readonly string[]>;

/** The actor of events nobody clicked for (expiry, resume at start-up, the DNS watcher). */
export const SYSTEM_ACTOR = "system";

export interface AuditEvent {
  /** Increases with every event written to the store: the order of the audit trail. */
  id: number;
  requestId: string;
  /** ISO 8601. */
  at: string;
  /** A Slack user id, or "system". */
  actorId: string;
  kind: AuditEventKind;
  details: AuditDetails;
}

/** An event before the store gives it an id. */
export type NewAuditEvent = Omit<AuditEvent, "id">;

/** The DNS record as the UI shows it to the person who publishes it. */
export interface RecordToPublish {
  /** `<selector>._domainkey.<domain>` */
  name: string;
  value: string;
  /** The value cut into quoted-string sized pieces (at most 255 characters each), in order. */
  strings: string[];
}

export function recordNameOf(request: Pick<DkimRequest, "domain" | "selector">): string {
  return `${request.selector}._domainkey.${request.domain}`;
}

/**
 * Who acts, and from where: the workspace (and Enterprise Grid org) Slack says the click or
 * command came from. Absent where no Slack is involved (the CLI, tests of the rules).
 */
export interface Actor {
  actorId: string;
  teamId?: string | undefined;
  enterpriseId?: string | undefined;
}

/** What a person typed for a setup, as recorded at the ack (checked again when processed). */
export interface SetupInput {
  domain: string;
  selector?: string | undefined;
  bits?: number | undefined;
  usernames?: string[] | undefined;
  testing?: boolean | undefined;
  reason?: string | undefined;
  /** `/dkim rotate`: a new key replacing the domain's active one. */
  rotation?: boolean | undefined;
}

/**
 * An acked `/dkim setup` (or `/dkim rotate`), recorded before the ack so that no stop or crash loses it: queued
 * until its key is made and its request stored (created), or refused with a sentence; removed
 * once the person has seen the card or the refusal.
 */
export interface QueuedSetup {
  id: string;
  receivedAt: string;
  requesterId: string;
  channelId: string;
  teamId: string | null;
  enterpriseId: string | null;
  input: SetupInput;
  /** Slack's response_url of the command (valid 30 minutes), when there was one. */
  responseUrl: string | null;
  state: "queued" | "created" | "refused";
  requestId: string | null;
  /** The refusal, said to the person (refused). */
  outcome: string | null;
}
