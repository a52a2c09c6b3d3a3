/**
 * The request service: the one object the outer layers (Slack, the CLI) use. It holds no
 * flow of its own; each use case lives in its own module (create-request, dns-checks,
 * approve-request, reject-or-cancel, apply-request, expire-requests, expiry-reminder) over a
 * shared context, and this file wires them together and adds the read-only queries.
 */
import {
  type DkimKeyPair,
  generateKeyPair as generateRealKeyPair,
  type KeyBits,
} from "../dkim/keys.js";
import { normaliseDomain } from "../dkim/names.js";
import type { DomainListCache } from "../spamexperts/domain-list-cache.js";
import type { DkimApi } from "../spamexperts/types.js";
import { createApplier } from "./apply-request.js";
import type { ApprovalPolicy, MembershipLookup } from "./approval-policy.js";
import { createApprove } from "./approve-request.js";
import type { Batch } from "./batch.js";
import { type BatchDnsReport, createBatchDnsCheck } from "./batch-dns.js";
import { type BatchRuns, createBatchRuns } from "./batch-runs.js";
import { type BatchSetup, createBatchSetup } from "./batch-setup.js";
import { createBatchWrites } from "./batch-store-writes.js";
import { createContext, type LifecyclePolicy } from "./context.js";
import type { CreateRequestInput, InputProblem } from "./create-input.js";
import { type CreatedRequest, createRequestCreation } from "./create-request.js";
import { type CheckDns, createDnsChecks, type DnsCheckOutcome } from "./dns-checks.js";
import { createPublication, type Publication, type RecordPublisher } from "./dns-publication.js";
import { createExpiry } from "./expire-requests.js";
import { createExpiryReminder } from "./expiry-reminder.js";
import { createHomeOverview, type GetHomeOverview } from "./home-overview.js";
import { createInventory, type Inventory } from "./inventory.js";
import { createLifecycle, type Lifecycle } from "./lifecycle.js";
import { type RequestsLogger, silentLogger } from "./logger.js";
import type { Actor, AuditEvent, DkimRequest } from "./model.js";
import { createRejectOrCancel } from "./reject-or-cancel.js";
import { createRotation, type RotateInput } from "./rotate-key.js";
import { createQueuedSetups, type QueuedSetups } from "./setup-intake.js";
import type { RequestFilter, RequestStore } from "./store.js";

export type { RunStarted } from "./batch-runs.js";
export type { BatchStartInput } from "./batch-setup.js";
export type { CreateRequestInput, InputProblem } from "./create-input.js";
export { type CreatedRequest, recordToPublish } from "./create-request.js";
export { describeHandled, formatTime } from "./describe-handled.js";
export type { CheckDns, DnsCheckOutcome } from "./dns-checks.js";
export type { HomeList, HomeOverview, HomeViewer } from "./home-overview.js";
export type {
  DomainEntry,
  DomainState,
  Inventory,
  InventoryCounts,
  InventoryFilter,
  InventoryPage,
  InventoryQuery,
  InventorySource,
  InventoryViewer,
  InventoryWhole,
} from "./inventory.js";
export type { RotateInput } from "./rotate-key.js";
export type { QueuedSetups, SetupOutcome } from "./setup-intake.js";

/** Bulk setup (batch-setup.ts) and what people do to a whole batch (batch-runs.ts). */
export type Batches = BatchSetup &
  Omit<BatchRuns, "stop"> & {
    /** Check DNS on the card: every pending request's record, now (batch-dns.ts). */
    checkDns(batchId: string, actor: Actor): Promise<BatchDnsReport>;
  };
export type { BatchDnsReport } from "./batch-dns.js";

export interface RequestServiceDeps {
  store: RequestStore;
  dkimApi: DkimApi;
  checkDns: CheckDns;
  isMemberOfGroup: MembershipLookup;
  policy: ApprovalPolicy;
  /** Overlap, key-age reminders (DKIM_ROTATION_OVERLAP_DAYS, DKIM_ROTATE_AFTER_DAYS). */
  lifecycle?: LifecyclePolicy;
  clock?: () => Date;
  generateKeyPair?: (bits: KeyBits) => Promise<DkimKeyPair>;
  /** Key size when the person gives none (DKIM_DEFAULT_BITS). */
  defaultBits?: KeyBits;
  /**
   * Told about every audit event after it is stored (the Slack layer posts it in the thread).
   * Its failures are logged and otherwise ignored: the workflow never depends on it.
   */
  onEvent?: (event: AuditEvent, request: DkimRequest) => void | Promise<void>;
  logger?: RequestsLogger;
  /** How long an apply stays this replica's without a sign of life (default 30 s). */
  applyLeaseMs?: number;
  /** The bot's own workspace (auth.test): requests made before workspaces were recorded belong to it. */
  homeTeamId?: string;
  /** DKIM_DNS_PUBLISH_*: the bot writes the records of the zones it may (dns-publication.ts). */
  dnsPublisher?: RecordPublisher;
  /** The cluster's domain list (DKIM_INVENTORY_MINUTES); absent in a dry run. */
  domainList?: DomainListCache;
  /** DKIM_BATCH_MAX (default 100): the most domains of a batch, and of `/dkim domains`' offer. */
  batchMax?: number;
  /** DKIM_APPLY_CONCURRENCY: a batch's run applies at most this many at once (default 4). */
  applyConcurrency?: number;
  /** Told about every batch written (the Slack layer redraws its card); like onEvent. */
  onBatch?: (batch: Batch) => void;
}

export interface RequestService {
  create(input: CreateRequestInput): Promise<CreatedRequest>;
  /** `/dkim rotate`: a new key for a domain with an active one (see rotate-key.ts). */
  rotate(input: RotateInput): Promise<CreatedRequest>;
  /** Acked setups, recorded before the ack until the person saw their card or refusal. */
  setups: QueuedSetups;
  /**
   * Bulk setup: `batches.start({ domains, actor, channelId, options?, responseUrl? })` records
   * a batch before the ack; then check, make, and the runs of its card's buttons.
   */
  batches: Batches;
  /** Every problem `create` would refuse the input for, without generating a key. */
  findInputProblems(input: CreateRequestInput): Promise<InputProblem[]>;
  attachMessage(id: string, channelId: string, messageTs: string): Promise<DkimRequest>;
  approve(id: string, input: Actor & { fingerprintShown: string }): Promise<DkimRequest>;
  reject(id: string, input: Actor & { reason?: string | undefined }): Promise<DkimRequest>;
  /** Reject's form asks this before it opens: throws the refusal `reject` would give. */
  mayReject(id: string, actor: Actor): Promise<void>;
  cancel(id: string, input: Actor): Promise<DkimRequest>;
  apply(id: string): Promise<DkimRequest>;
  retry(id: string, input: Actor): Promise<DkimRequest>;
  expire(): Promise<DkimRequest[]>;
  /** Pending requests near their expiry hear it once (expiry-reminder.ts). */
  remindExpiring(): Promise<DkimRequest[]>;
  /**
   * Goes on with every `applying` request whose apply nobody holds: left by a stop, a crash,
   * a dead replica, or a store that failed mid-way. Safe to call at any time, on any replica.
   */
  resumeInterrupted(): Promise<DkimRequest[]>;
  /**
   * For a clean shutdown: no apply starts another API call from now on, and this resolves
   * once the calls in flight have finished and been recorded. A request left in `applying`
   * goes on from there at the next start (resumeInterrupted).
   */
  stop(): Promise<void>;
  recordDnsCheck(id: string, actor?: Actor): Promise<DnsCheckOutcome>;
  /** DNS publishing, when the bot may write the zone (dns-publication.ts). */
  publication: Publication;
  /** After Active: monitoring, retirement and key-age reminders (lifecycle.ts). */
  lifecycle: Lifecycle;
  /** App Home's lists and counts for one person (home-overview.ts). */
  homeOverview: GetHomeOverview;
  /** `/dkim domains`: the cluster's domains joined with the bot's keys (inventory.ts). */
  inventory: Inventory;
  checkPending(): Promise<DnsCheckOutcome[]>;
  get(id: string): Promise<DkimRequest | undefined>;
  list(filter?: RequestFilter): Promise<DkimRequest[]>;
  countByChannel(
    filter: RequestFilter,
    cap: number,
  ): Promise<{ counts: Map<string, number>; capped: boolean }>;
  listByDomain(domain: string): Promise<DkimRequest[]>;
  listEvents(requestId: string): Promise<AuditEvent[]>;
  listEventsByDomain(domain: string): Promise<AuditEvent[]>;
  /**
   * Events stored but not yet told (the process died, or Slack failed, before the thread
   * reply was posted), oldest first, each with its request as it is now.
   */
  listUndeliveredEvents(): Promise<Array<{ event: AuditEvent; request: DkimRequest }>>;
  /**
   * Like listUndeliveredEvents, but only those nobody is telling now, taken for this replica
   * for `holdMs` (so another replica does not tell them too).
   */
  claimUndeliveredEvents(
    holdMs: number,
    limit?: number,
  ): Promise<Array<{ event: AuditEvent; request: DkimRequest }>>;
  /** The event has been told (or has nothing to tell): it is not offered again. */
  markEventDelivered(eventId: number): Promise<void>;
}

const DEFAULT_APPLY_LEASE_MS = 30_000;
/** As DKIM_BATCH_MAX's default. */
const DEFAULT_BATCH_MAX = 100;

/** The events after which the bot writes (or removes, or revokes) a record it manages. */
const PUBLICATION_TRIGGERS: ReadonlySet<AuditEvent["kind"]> = new Set([
  "created",
  "rejected",
  "cancelled",
  "expired",
  "retire-due",
]);

export function createRequestService(deps: RequestServiceDeps): RequestService {
  const { store } = deps;
  const clock = deps.clock ?? (() => new Date());
  const ctx = createContext({
    store,
    policy: deps.policy,
    lifecycle: deps.lifecycle,
    isMemberOfGroup: deps.isMemberOfGroup,
    logger: deps.logger ?? silentLogger,
    clock,
    instanceId: store.owner,
    applyLeaseMs: deps.applyLeaseMs ?? DEFAULT_APPLY_LEASE_MS,
    homeTeamId: deps.homeTeamId,
    managedZone: deps.dnsPublisher?.zoneFor.bind(deps.dnsPublisher),
    onEvent: deps.onEvent,
    onBatch: deps.onBatch,
  });
  const creation = createRequestCreation(ctx, {
    generateKeyPair: deps.generateKeyPair ?? generateRealKeyPair,
    defaultBits: deps.defaultBits ?? 2048,
  });
  const rotate = createRotation(ctx, creation);
  const publication = createPublication(ctx, deps.dnsPublisher);
  // The record follows the request: published when made, removed when ended, revoked after
  // the overlap. Not awaited: DNS is slower than a click, and failures are told in the thread.
  ctx.onStored((event, request) => {
    if (PUBLICATION_TRIGGERS.has(event.kind)) void publication.reconcile(request);
  });
  const dns = createDnsChecks(ctx, deps.checkDns);
  const applier = createApplier(ctx, deps.dkimApi);
  const decisions = createRejectOrCancel(ctx);
  const approve = createApprove(ctx, dns, applier);
  const batchWrites = createBatchWrites(ctx);
  const batchSetup = createBatchSetup(ctx, creation, batchWrites, {
    batchMax: deps.batchMax ?? DEFAULT_BATCH_MAX,
    defaultBits: deps.defaultBits ?? 2048,
  });
  const batchRuns = createBatchRuns(ctx, {
    writes: batchWrites,
    approve,
    applier,
    decisions,
    concurrency: deps.applyConcurrency ?? 4,
  });
  const { stop: stopBatchRuns, ...runs } = batchRuns;

  async function withRequests(events: AuditEvent[]) {
    const items: Array<{ event: AuditEvent; request: DkimRequest }> = [];
    for (const event of events) {
      const request = await store.get(event.requestId);
      if (request !== undefined) items.push({ event, request });
    }
    return items;
  }

  return {
    create: (input) => creation.create(input),
    findInputProblems: creation.findInputProblems,
    attachMessage: creation.attachMessage,
    rotate: (input) => rotate(input),
    setups: createQueuedSetups(ctx, creation, rotate),
    batches: { ...batchSetup, ...runs, checkDns: createBatchDnsCheck(ctx, dns, batchWrites) },
    approve,
    reject: decisions.reject,
    mayReject: decisions.mayReject,
    cancel: decisions.cancel,
    apply: applier.apply,
    retry: applier.retry,
    expire: createExpiry(ctx),
    remindExpiring: createExpiryReminder(ctx),
    resumeInterrupted: applier.resumeUnclaimed,
    async stop() {
      // No batch run starts another request, no apply another call; then what is in flight ends.
      await Promise.all([stopBatchRuns(), applier.stop()]);
    },
    recordDnsCheck: dns.recordDnsCheck,
    publication,
    lifecycle: createLifecycle(ctx, dns),
    homeOverview: createHomeOverview(ctx),
    inventory: createInventory(ctx, {
      domainList: deps.domainList,
      batchMax: deps.batchMax ?? DEFAULT_BATCH_MAX,
    }),
    checkPending: dns.checkPending,
    get: (id) => store.get(id),
    list: (filter) => store.list(filter),
    countByChannel: (filter, cap) => store.countByChannel(filter, cap),
    listByDomain: (domain) => store.list({ domain: normaliseDomain(domain) }),
    listEvents: (requestId) => store.listEvents(requestId),
    listEventsByDomain: (domain) => store.listEventsByDomain(normaliseDomain(domain)),
    listUndeliveredEvents: async () => withRequests(await store.listUndeliveredEvents()),
    claimUndeliveredEvents: async (holdMs, limit = 500) =>
      withRequests(await store.claimUndeliveredEvents(holdMs, limit)),
    markEventDelivered: (eventId) => store.markEventDelivered(eventId, ctx.now()),
  };
}
