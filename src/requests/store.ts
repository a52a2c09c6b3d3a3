import type { DkimCheckStatus } from "../dkim/check.js";
import type { Batch, BatchChanges } from "./batch.js";
import type {
  AuditDetails,
  AuditEvent,
  AuditEventKind,
  DkimRequest,
  NewAuditEvent,
  QueuedSetup,
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
    | "replacedBy"
    | "activatedAt"
    | "retireAfter"
    | "retiredAt"
    | "retiredBy"
    | "publication"
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
  /** Move only while this replica holds the apply lease (a replica that lost it stops). */
  whileApplyLease?: Lease;
  /**
   * The apply lease after the move: set when a replica starts applying (pending or failed ->
   * applying), null to clear it. Left as it is when absent.
   */
  applyLease?: Lease | null;
  /**
   * Other requests' moves made first, in the same transaction, where they still apply (each
   * its own conditional update; one that no longer matches is skipped): a rotation's old key
   * goes retiring in the very write that makes the new one active, so the domain never has
   * two active keys, nor none, even for an instant.
   */
  before?: readonly TransitionArgs[];
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
  /** Apply only while this replica holds the apply lease; the lease is then extended to `until`. */
  whileApplyLease?: Lease;
}

/** A DNS verdict that tells nothing new (no event), stored with others in one write. */
export interface VerdictWrite {
  id: string;
  /** Stored only while the request is still in this state and its verdict still this one. */
  whileState: RequestState;
  whileLastDnsCheck: StoredDnsCheck | null;
  lastDnsCheck: StoredDnsCheck;
  at: string;
}

export interface StoredChange {
  request: DkimRequest;
  event: AuditEvent | null;
  /** The `before` moves that applied. */
  alsoChanged?: StoredChange[];
}

/** Where a page of `listPage` ends: its last request's creation time and id. */
export interface PageCursor {
  createdAt: string;
  id: string;
}

export interface RequestFilter {
  states?: readonly RequestState[];
  domain?: string;
  /** ISO 8601: only requests created strictly before. */
  createdBefore?: string;
  /** Newest first when limited; otherwise oldest first. */
  limit?: number;
  /** Only the requests of this batch, in name order (as its card lists them). */
  batchId?: string;
  /**
   * Only requests whose record the bot writes and whose DNS is not yet as their state asks
   * (dns-publication.ts): published while open or active, revoked once retired or due, removed
   * once ended. A retiring key is listed while its record is still up (its overlap may be over).
   */
  publicationDue?: boolean;
}

/**
 * One list of App Home (home-queries.ts), each read through an index:
 * - `waiting-approval`: pending, its record live, oldest first (optionally not this person's);
 * - `requested-by`: this person's open requests, newest first;
 * - `monitor-problems`: active and retiring keys whose last verdict is not live, oldest first;
 * - `rotation-due`: active keys activated before the time, no rotation under way, oldest first.
 */
export type HomeSection =
  | { kind: "waiting-approval"; notRequestedBy?: string }
  | { kind: "requested-by"; requesterId: string }
  | { kind: "monitor-problems" }
  | {
      kind: "rotation-due";
      activatedBefore: string;
      /** Leaves out keys with a "rotation-due" event after this time (reminded since). */
      notRemindedSince?: string;
    };

/**
 * What decides a domain's state, of one of its current keys (an open request: pending,
 * applying, failed; or the active key). `/dkim domains` reads this for every key of the fleet.
 */
export interface KeyKind {
  state: "pending" | "applying" | "failed" | "active";
  channelId: string;
  teamId: string | null;
  enterpriseId: string | null;
  /** The last DNS verdict (the DNS watch's, or monitoring's once active), if any yet. */
  dnsStatus: DkimCheckStatus | null;
  /** An open request that replaces the domain's active key (`/dkim rotate`). */
  rotation: boolean;
}

/**
 * Current keys alike in all that decides a domain's state, and the domain of each: a fleet's
 * keys come as a few such groups (by channel, state and verdict), not a row per key.
 */
export interface KeyGroup extends KeyKind {
  /** One entry per key, in no order (a domain with two such keys is named twice). */
  domains: string[];
}

/** A current key with what a line of `/dkim domains` (or its CSV) shows of it. */
export interface CurrentKey extends KeyKind {
  id: string;
  domain: string;
  selector: string;
  messageTs: string | null;
  createdAt: string;
  /** Active: when SpamExperts started signing with it (its age counts from here). */
  activatedAt: string | null;
  dnsCheckedAt: string | null;
}

/** Where the next page of current keys starts: after this domain and id. */
export interface KeyCursor {
  domain: string;
  id: string;
}

/** A claim held by one replica until a time (ISO 8601): an apply, a scheduler cycle. */
export interface Lease {
  owner: string;
  until: string;
}

/**
 * Where requests, their sealed private keys and the audit trail live: SQLite or PostgreSQL
 * behind one interface. Every method is one statement or one transaction; `transition` and
 * `update` are conditional (`... WHERE id = ? AND state = ?`), which is where "who wins" is
 * decided between clicks, retries, schedulers and replicas. A write that cannot get the
 * database's lock in time rejects with StoreBusyError (code STORE_BUSY) and changes nothing.
 */
export interface RequestStore {
  /** "SQLite database /data/dkim-bot.sqlite" or "PostgreSQL database dkim on db:5432", for messages. */
  readonly description: string;
  /** This replica, as it appears in leases and delivery holds. */
  readonly owner: string;
  /**
   * Seals `privateKeyPem` (the request id is the additional data) and writes request, key
   * and event in one transaction. Rejects with RequestConflictError when another request for
   * the same domain and selector is open.
   */
  insert(
    request: DkimRequest,
    privateKeyPem: string,
    event: EventInput,
    options?: { setupId?: string },
  ): Promise<AuditEvent>;
  get(id: string): Promise<DkimRequest | undefined>;
  /** The open (pending, applying, failed) request for this domain and selector, if any. */
  findOpen(domain: string, selector: string): Promise<DkimRequest | undefined>;
  list(filter?: RequestFilter): Promise<DkimRequest[]>;
  /**
   * The requests in `state` in creation order, at most `limit`, after `after` (a request of
   * the previous page): a fleet read a page at a time, each page through the state index,
   * so no single read holds the event loop for the whole fleet (monitoring).
   */
  listPage(
    state: RequestState,
    after: PageCursor | undefined,
    limit: number,
  ): Promise<DkimRequest[]>;
  /**
   * How many requests match `filter`, per channel, counting at most `cap` of them (it reads
   * that many rows at most): `capped` says the count stopped there.
   */
  countByChannel(
    filter: RequestFilter,
    cap: number,
  ): Promise<{ counts: Map<string, number>; capped: boolean }>;
  /**
   * One conditional update plus its event, atomically. Undefined when the request was not in
   * `from` any more (someone else moved it): the caller lost the race. Erases the sealed key
   * when `to` is a state without one.
   */
  transition(args: TransitionArgs): Promise<StoredChange | undefined>;
  /** A change without a state move (progress, DNS check, message reference), conditional likewise. */
  update(args: UpdateArgs): Promise<StoredChange | undefined>;
  /**
   * Stores many verdicts in one transaction, each under the same guards as `update` (state
   * and verdict unchanged meanwhile; one that lost the race is left as the winner wrote it),
   * counting the requests generation once. Monitoring's unchanged verdicts: one write per
   * key cost a transaction each (10,000 a cycle). Resolves to how many were stored.
   */
  recordVerdicts(writes: readonly VerdictWrite[]): Promise<number>;
  /** An event that changes nothing else (e.g. "resumed"). */
  appendEvent(event: NewAuditEvent): Promise<AuditEvent>;
  /** The unsealed private key, or undefined once erased. Only the apply step asks for it. */
  readPrivateKey(id: string): Promise<string | undefined>;
  /** Oldest first. */
  listEvents(requestId: string): Promise<AuditEvent[]>;
  /** Every event of every request for the domain, oldest first. */
  listEventsByDomain(domain: string): Promise<AuditEvent[]>;

  // --- App Home: indexed reads that cost the same at any size of the history ---------------

  /** At most `limit` requests of the section, in its order. */
  listHomeSection(section: HomeSection, limit: number): Promise<DkimRequest[]>;
  /** How many requests the section holds in all. */
  countHomeSection(section: HomeSection): Promise<number>;
  /** How many requests are in each of `states` (0 for none). */
  countByState(states: readonly RequestState[]): Promise<Record<RequestState, number>>;

  // --- /dkim domains: pages in name order through an index, whatever the history's size ---

  /**
   * The current keys (open requests and active keys) of the domains from `from` on (from the
   * first when undefined), about `keys` of them and whole domains only, as groups; `next` is
   * where the following call starts, undefined after the last domain. Finished requests are
   * never read. A store whose database works off the event loop may answer more at once.
   */
  listKeyGroups(
    from: string | undefined,
    keys: number,
  ): Promise<{ groups: KeyGroup[]; next: string | undefined }>;
  /** At most `limit` current keys after `after`, in (domain, id) order, every column (the CSV). */
  listCurrentKeys(after: KeyCursor | undefined, limit: number): Promise<CurrentKey[]>;
  /** The current keys of these domains (a page's), every column, in (domain, id) order. */
  getCurrentKeysOf(domains: readonly string[]): Promise<CurrentKey[]>;
  /**
   * A token that changes with every write of a request (insert, transition, update), on any
   * replica, in the same transaction as the write: what was read under one token is still
   * what the store holds while the token stays the same.
   */
  requestsGeneration(): Promise<string>;
  /**
   * The domains of the requests written after `generation` (a token requestsGeneration gave),
   * each once: what to read again of a fleet read under that token, once the token moved.
   * Undefined when more than `limit` requests were written (read everything again instead).
   * Read after the new token, it names at least every domain written up to that token.
   */
  listDomainsWrittenSince(generation: string, limit: number): Promise<string[] | undefined>;
  /** At most `limit` domains the bot has any request for, after `after`, each once, in name order. */
  listRequestDomains(after: string | undefined, limit: number): Promise<string[]>;

  // --- telling the thread, once, whichever replica wrote the event -----------------------

  /** Events not yet told in Slack, oldest first (whoever holds them). */
  listUndeliveredEvents(): Promise<AuditEvent[]>;
  /**
   * Takes up to `limit` undelivered events that nobody else holds (every event is held by the
   * replica that wrote it for a while, so that one tells it), oldest first, for `holdMs` of
   * real time.
   */
  claimUndeliveredEvents(holdMs: number, limit: number): Promise<AuditEvent[]>;
  /** Still telling these (Slack is slow): keep them this replica's for `holdMs` more. */
  extendEventHolds(eventIds: readonly number[], holdMs: number): Promise<void>;
  /** Not telling these after all (a stop): any replica may take them at once. */
  releaseEventHolds(eventIds: readonly number[]): Promise<void>;
  markEventDelivered(eventId: number, at: string): Promise<void>;

  // --- applies: one replica runs a request's apply ---------------------------------------

  /**
   * The apply of an `applying` request for `lease.owner`, while nobody else holds it (the
   * lease is free, expired, or already this owner's), extended to `lease.until`. Undefined
   * when another replica holds it or the request is not applying.
   */
  claimApply(id: string, lease: Lease, now: string): Promise<DkimRequest | undefined>;
  /** `applying` requests whose apply nobody holds now (a replica died or gave up), oldest first. */
  listUnclaimedApplies(now: string): Promise<DkimRequest[]>;
  releaseApply(id: string, owner: string): Promise<void>;

  // --- setups recorded at the ack (setup_intake) ------------------------------------------

  /** Records an acked setup, held by `hold.owner` (the replica that will make its key). */
  enqueueSetup(setup: QueuedSetup, hold: Lease): Promise<void>;
  getSetup(id: string): Promise<QueuedSetup | undefined>;
  /**
   * Setups nobody holds (their replica stopped or died before it was done with them), taken
   * for `lease.owner`, oldest first.
   */
  claimUnfinishedSetups(lease: Lease, now: string, limit: number): Promise<QueuedSetup[]>;
  /** The setup's input was refused (`outcome` is the sentence): nothing to make. */
  refuseSetup(id: string, outcome: string): Promise<void>;
  /** The person has seen the card or the refusal: the setup is forgotten. */
  forgetSetup(id: string): Promise<void>;

  // --- what the Slack layer keeps of replies it edits later (opaque JSON to the store) ----

  getReplyRef(requestId: string, slot: string): Promise<string | undefined>;
  setReplyRef(requestId: string, slot: string, ref: string): Promise<void>;
  deleteReplyRef(requestId: string, slot: string): Promise<void>;

  // --- batches: several domains, one card (requests/batch.ts) ----------------------------

  /** Records a batch, held by `hold.owner` (the replica that goes on with it). */
  insertBatch(batch: Batch, hold: Lease): Promise<void>;
  getBatch(id: string): Promise<Batch | undefined>;
  /**
   * Applies `changes` to the batch as read at `expectedVersion` (the version grows with every
   * write); undefined when another write came first.
   */
  updateBatch(
    id: string,
    expectedVersion: number,
    at: string,
    changes: BatchChanges,
  ): Promise<Batch | undefined>;
  /**
   * The batch card is posted: the batch and its requests without a message yet point at it,
   * in one transaction. A card attached before wins (the batch is returned as it is).
   */
  attachBatchCard(
    id: string,
    channelId: string,
    messageTs: string,
    at: string,
  ): Promise<Batch | undefined>;
  /** Batches with work left that nobody holds, taken for `lease.owner`, oldest first. */
  claimBatchesWithWork(lease: Lease, now: string, limit: number): Promise<Batch[]>;
  /** Takes or extends the hold on a batch for `lease.owner`; false while another holds it. */
  holdBatch(id: string, lease: Lease, now: string): Promise<boolean>;
  releaseBatch(id: string, owner: string): Promise<void>;

  // --- schedulers: one replica runs each cycle --------------------------------------------

  /** Takes or extends the named lease for `lease.owner` unless another owner holds it unexpired. */
  tryAcquireLease(name: string, lease: Lease, now: string): Promise<boolean>;
  releaseLease(name: string, owner: string): Promise<void>;
  /** When the named lease runs out (a periodic job: when its next cycle is due), if any. */
  leaseUntil(name: string): Promise<string | undefined>;

  /**
   * Forgets every apply lease, delivery hold, setup hold and batch hold. Only for a process known to be
   * the database's only user (SQLite under the instance lock): the holders are dead. The
   * periodic jobs' leases stay: they say when each job's next cycle is due.
   */
  forgetHolds(): Promise<void>;

  close(): Promise<void>;
}
