import type {
  AuditDetails,
  AuditEvent,
  AuditEventKind,
  DkimRequest,
  NewAuditEvent,
  RequestState,
  StoredDnsCheck,
} from "./model.js";

/** The fields that change after creation (state changes only through `transition`). */
export type RequestChanges = Partial<
  Pick<
    DkimRequest,
    | "channelId"
    | "messageTs"
    | "progress"
    | "lastDnsCheck"
    | "decidedBy"
    | "decidedAt"
    | "rejectReason"
    | "lastError"
  >
>;

/** The event written with a change; the store adds the id, the request id and the time. */
export interface EventInput {
  actorId: string;
  kind: AuditEventKind;
  details: AuditDetails;
}

export interface TransitionArgs {
  id: string;
  from: RequestState;
  to: RequestState;
  /** ISO 8601: becomes `updatedAt` and the event's time. */
  at: string;
  changes?: RequestChanges;
  event: EventInput;
}

export interface UpdateArgs {
  id: string;
  /** Apply only while the request is still in this state (the same guard as a transition). */
  whileState: RequestState;
  /**
   * Apply only while the stored DNS verdict is still this one (null: none yet), so two DNS
   * checks racing record one change, and it is told once.
   */
  whileLastDnsCheck?: StoredDnsCheck | null;
  at: string;
  changes: RequestChanges;
  /** Written in the same transaction when given. */
  event?: EventInput;
}

export interface StoredChange {
  request: DkimRequest;
  event: AuditEvent | null;
}

export interface RequestFilter {
  states?: readonly RequestState[];
  domain?: string;
  /** ISO 8601: only requests created strictly before. */
  createdBefore?: string;
  /** Newest first when limited; otherwise oldest first. */
  limit?: number;
}

/**
 * Where requests, their sealed private keys and the audit trail live. Synchronous on
 * purpose: every method is one SQLite statement or transaction, and `transition` is the
 * single place where "who wins" is decided, so nothing may interleave inside it.
 */
export interface RequestStore {
  /**
   * Seals `privateKeyPem` (the request id is the additional data) and writes request, key
   * and event in one transaction. Throws RequestConflictError when another request for the
   * same domain and selector is open.
   */
  insert(request: DkimRequest, privateKeyPem: string, event: EventInput): AuditEvent;
  get(id: string): DkimRequest | undefined;
  /** The open (pending, applying, failed) request for this domain and selector, if any. */
  findOpen(domain: string, selector: string): DkimRequest | undefined;
  list(filter?: RequestFilter): DkimRequest[];
  /**
   * One conditional update (`... WHERE id = ? AND state = ?`) plus its event, atomically.
   * Undefined when the request was not in `from` any more (someone else moved it): the
   * caller lost the race. Erases the sealed key when `to` is a state without one.
   */
  transition(args: TransitionArgs): StoredChange | undefined;
  /** A change without a state move (progress, DNS check, message reference), conditional likewise. */
  update(args: UpdateArgs): StoredChange | undefined;
  /** An event that changes nothing else (e.g. "resumed"). */
  appendEvent(event: NewAuditEvent): AuditEvent;
  /** The unsealed private key, or undefined once erased. Only the apply step asks for it. */
  readPrivateKey(id: string): string | undefined;
  /** Oldest first. */
  listEvents(requestId: string): AuditEvent[];
  /** Every event of every request for the domain, oldest first. */
  listEventsByDomain(domain: string): AuditEvent[];
  /** Events not yet told in Slack (posting was cut short by a crash or a Slack outage), oldest first. */
  listUndeliveredEvents(): AuditEvent[];
  markEventDelivered(eventId: number, at: string): void;
  close(): void;
}
