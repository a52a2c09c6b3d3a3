/**
 * What every use case of requests/ shares: the store, the clock, the logger, the rules of
 * DKIM_APPROVERS, and the one way an audit event leaves the store (`emit`). Built once by
 * service.ts and handed to each use-case module, so no module reaches for another's state.
 */
import type { ApprovalPolicy, MembershipLookup } from "./approval-policy.js";
import type { Batch } from "./batch.js";
import { requestNotFound } from "./errors.js";
import type { RequestsLogger } from "./logger.js";
import type { AuditEvent, DkimRequest } from "./model.js";
import { describeFailure } from "./redact.js";
import type { Lease, RequestStore, StoredChange } from "./store.js";

/** The life of a key after it is active (DKIM_ROTATION_OVERLAP_DAYS, ...), in days and hours. */
export interface LifecyclePolicy {
  /** The old key's record stays published this long after a rotation's new key is active. */
  overlapDays: number;
  /** A key older than this is told to be rotated (0: never). */
  rotateAfterDays: number;
  /** Between reminders while a key stays too old. */
  remindEveryDays: number;
}

export const DEFAULT_LIFECYCLE: LifecyclePolicy = {
  overlapDays: 7,
  rotateAfterDays: 180,
  remindEveryDays: 30,
};

export interface RequestsContext {
  readonly store: RequestStore;
  readonly policy: ApprovalPolicy;
  readonly lifecycle: LifecyclePolicy;
  readonly isMemberOfGroup: MembershipLookup;
  readonly logger: RequestsLogger;
  readonly clock: () => Date;
  /** ISO 8601 of `clock()`. */
  now(): string;
  /** This replica's lease on an apply, from now. */
  applyLease(): Lease;
  readonly instanceId: string;
  readonly applyLeaseMs: number;
  /** The bot's own workspace (auth.test), for requests made before workspaces were recorded. */
  readonly homeTeamId: string | undefined;
  /** The request, or REQUEST_NOT_FOUND. */
  requireRequest(id: string): Promise<DkimRequest>;
  /** Hands a stored event to the listener (the Slack layer); never throws, never waits. */
  emit(event: AuditEvent | null, request: DkimRequest): void;
  /** Use cases that react to others' events (DNS publishing) subscribe here. */
  onStored(listener: (event: AuditEvent, request: DkimRequest) => void): void;
  /** The managed zone of a record name (DNS publishing), or undefined: published by hand. */
  readonly managedZone: (recordName: string) => string | undefined;
  /** `emit` for a change just stored; returns its request. */
  emitChange(change: StoredChange): DkimRequest;
  /** Hands a batch just written to the listener (the Slack layer redraws its card); never throws. */
  emitBatch(batch: Batch): void;
}

export interface ContextDeps {
  store: RequestStore;
  policy: ApprovalPolicy;
  lifecycle?: LifecyclePolicy | undefined;
  isMemberOfGroup: MembershipLookup;
  logger: RequestsLogger;
  clock: () => Date;
  instanceId: string;
  applyLeaseMs: number;
  homeTeamId?: string | undefined;
  managedZone?: ((recordName: string) => string | undefined) | undefined;
  onEvent?: ((event: AuditEvent, request: DkimRequest) => void | Promise<void>) | undefined;
  onBatch?: ((batch: Batch) => void) | undefined;
}

export function createContext(deps: ContextDeps): RequestsContext {
  const { store, logger, clock } = deps;
  const internal: Array<(event: AuditEvent, request: DkimRequest) => void> = [];

  function emit(event: AuditEvent | null, request: DkimRequest): void {
    if (event === null) return;
    for (const each of internal) {
      try {
        each(event, request);
      } catch (error) {
        logger.warn("A use case's event listener failed; the request goes on.", {
          requestId: request.id,
          kind: event.kind,
          error: describeFailure(error),
        });
      }
    }
    const listener = deps.onEvent;
    if (listener === undefined) return;
    const report = (error: unknown): void =>
      logger.warn("An audit event listener failed; the request goes on.", {
        requestId: request.id,
        kind: event.kind,
        error: describeFailure(error),
      });
    try {
      const result = listener(event, request);
      if (result instanceof Promise) result.catch(report);
    } catch (error) {
      report(error);
    }
  }

  return {
    store,
    policy: deps.policy,
    lifecycle: deps.lifecycle ?? DEFAULT_LIFECYCLE,
    isMemberOfGroup: deps.isMemberOfGroup,
    logger,
    clock,
    instanceId: deps.instanceId,
    applyLeaseMs: deps.applyLeaseMs,
    homeTeamId: deps.homeTeamId,
    now: () => clock().toISOString(),
    applyLease: () => ({
      owner: deps.instanceId,
      until: new Date(clock().getTime() + deps.applyLeaseMs).toISOString(),
    }),
    async requireRequest(id) {
      const request = await store.get(id);
      if (request === undefined) throw requestNotFound(id);
      return request;
    },
    emit,
    onStored(listener) {
      internal.push(listener);
    },
    managedZone: deps.managedZone ?? (() => undefined),
    emitChange(change) {
      for (const linked of change.alsoChanged ?? []) emit(linked.event, linked.request);
      emit(change.event, change.request);
      return change.request;
    },
    emitBatch(batch) {
      try {
        deps.onBatch?.(batch);
      } catch (error) {
        logger.warn("A batch listener failed; the batch goes on.", {
          batchId: batch.id,
          error: describeFailure(error),
        });
      }
    },
  };
}
