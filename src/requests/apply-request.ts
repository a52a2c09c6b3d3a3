/**
 * Apply: install the certificate, then enable the selector for each outgoing user, each step
 * recorded as soon as it succeeds, so a retry, a restart or another replica goes on where it
 * stopped. One apply per request runs at a time anywhere: in this process (one promise per
 * request) and across replicas (the apply lease in the store, taken in the same conditional
 * update that moves the request, extended by every step and by a heartbeat during a call).
 *
 * A replica that dies or cannot write its progress (the disk is full) simply lets its lease
 * run out; `resumeUnclaimed` on any replica then takes the request over. Any API failure
 * moves the request to `failed` with the API's own text and keeps the sealed key for Retry.
 */
import { CodedError, isCodedError } from "../errors.js";
import type { DkimApi, DkimApiCall, DkimApiResult } from "../spamexperts/types.js";
import { alreadyHandled, requireApprover, requireSameWorkspace } from "./authorization.js";
import type { RequestsContext } from "./context.js";
import { type Actor, type AuditDetails, type DkimRequest, SYSTEM_ACTOR } from "./model.js";
import { describeFailure, redactSecrets } from "./redact.js";
import type { RequestChanges, StoredChange, TransitionArgs } from "./store.js";

interface StepRecord {
  changes: RequestChanges;
  event: { kind: "certificate-installed" | "selector-enabled"; details: AuditDetails };
}

export interface Applier {
  /** Runs (or joins) the apply of a request in `applying`. */
  apply(id: string): Promise<DkimRequest>;
  /** `approverVia`: as for approve, the actor was checked once for a whole batch. */
  retry(id: string, input: Actor, options?: { approverVia?: string }): Promise<DkimRequest>;
  /**
   * Goes on with one `applying` request nobody runs (a batch's run after a restart): joins the
   * apply this process runs, or takes it over ("resumed") once its lease ran out.
   */
  resume(id: string): Promise<DkimRequest>;
  /**
   * Takes over every `applying` request whose apply nobody holds (left by a stop, a crash, a
   * dead replica, a store that failed mid-way) and goes on from its last recorded step.
   */
  resumeUnclaimed(): Promise<DkimRequest[]>;
  /**
   * For a clean shutdown: no apply starts another API call from now on, and this resolves
   * once the calls in flight have finished and been recorded. Their leases are given back,
   * so the next start (or another replica) goes on at once.
   */
  stop(): Promise<void>;
}

/** "Only … can retry DKIM requests". */
export const RETRY_VERB = "retry DKIM requests";

export function createApplier(ctx: RequestsContext, dkimApi: DkimApi): Applier {
  const { store, logger } = ctx;
  /** One apply per request per process, whoever asks (approve, retry, resume). */
  const running = new Map<string, Promise<DkimRequest>>();
  let stopping = false;

  function apply(id: string): Promise<DkimRequest> {
    const current = running.get(id);
    if (current !== undefined) return current;
    const run = runApply(id).finally(() => running.delete(id));
    running.set(id, run);
    return run;
  }

  async function runApply(id: string): Promise<DkimRequest> {
    let request = await ctx.requireRequest(id);
    if (request.state !== "applying") {
      throw new CodedError(
        "NOT_ALLOWED",
        `Request ${id} is ${request.state}, not being applied: nothing to do.`,
      );
    }
    const claimed = await store.claimApply(id, ctx.applyLease(), ctx.now());
    // Another replica is applying it: it tells the thread; this one has nothing to do.
    if (claimed === undefined) return ctx.requireRequest(id);
    request = claimed;
    const heartbeat = setInterval(
      () => {
        store.claimApply(id, ctx.applyLease(), ctx.now()).catch(() => {
          // A missed heartbeat only shortens the lease; the next step's write extends it again.
        });
      },
      Math.max(50, ctx.applyLeaseMs / 3),
    );
    heartbeat.unref();
    try {
      return await runSteps(request);
    } finally {
      clearInterval(heartbeat);
      if (stopping) await store.releaseApply(id, ctx.instanceId).catch(() => {});
    }
  }

  async function runSteps(start: DkimRequest): Promise<DkimRequest> {
    const id = start.id;
    let request = start;
    let step = "certificate";
    let call: DkimApiCall = "api_set_dkim_certificate";
    let username: string | null = null;
    try {
      if (stopping) return request;
      if (!request.progress.certificateInstalled) {
        const result = await installCertificate(request);
        const change = await recordStep(id, {
          changes: { progress: { ...request.progress, certificateInstalled: true } },
          event: { kind: "certificate-installed", details: apiDetails(result) },
        });
        if (change === undefined) return ctx.requireRequest(id);
        request = ctx.emitChange(change);
      }
      for (const user of request.usernames) {
        if (request.progress.enabledUsernames.includes(user)) continue;
        if (stopping) return request;
        step = `selector for ${user}`;
        call = "api_set_dkim_selector";
        username = user;
        const result = await dkimApi.setDkimSelector(request.domain, request.selector, user);
        const enabledUsernames = [...request.progress.enabledUsernames, user];
        const change = await recordStep(id, {
          changes: { progress: { ...request.progress, enabledUsernames } },
          event: { kind: "selector-enabled", details: { username: user, ...apiDetails(result) } },
        });
        if (change === undefined) return ctx.requireRequest(id);
        request = ctx.emitChange(change);
      }
      const at = ctx.now();
      // SpamExperts now signs with this key: the domain's other active key (a rotation's old
      // one) was replaced, and goes retiring in the same write.
      const replaced = (await store.list({ domain: request.domain, states: ["active"] })).filter(
        (other) => other.id !== id,
      );
      const change = await storeWrite(() =>
        store.transition({
          id,
          from: "applying",
          to: "active",
          at,
          changes: { lastError: null, activatedAt: at },
          whileApplyLease: ctx.applyLease(),
          applyLease: null,
          event: {
            actorId: SYSTEM_ACTOR,
            kind: "active",
            details: {
              usernames: request.usernames,
              dryRun: dkimApi.dryRun,
              replaces: replaced.map((old) => old.selector),
            },
          },
          before: replaced.map((old) => retireMove(ctx, old, request, at)),
        }),
      );
      return change === undefined ? ctx.requireRequest(id) : ctx.emitChange(change);
    } catch (error) {
      if (isCodedError(error) && error.code === "STORE_UNAVAILABLE") throw error;
      const message = describeFailure(error);
      logger.warn("Applying a DKIM request failed; it can be retried.", {
        requestId: id,
        step,
        error: message,
      });
      const change = await storeWrite(() =>
        store.transition({
          id,
          from: "applying",
          to: "failed",
          at: ctx.now(),
          changes: { lastError: message },
          whileApplyLease: ctx.applyLease(),
          applyLease: null,
          event: {
            actorId: SYSTEM_ACTOR,
            kind: "failed",
            details: {
              step,
              call,
              username,
              error: message,
              apiText: apiTextOf(error),
              code: isCodedError(error) ? error.code : null,
            },
          },
        }),
      );
      return change === undefined ? ctx.requireRequest(id) : ctx.emitChange(change);
    }
  }

  /** A step's progress and event, while this replica still holds the apply. */
  function recordStep(id: string, step: StepRecord): Promise<StoredChange | undefined> {
    return storeWrite(() =>
      store.update({
        id,
        whileState: "applying",
        whileApplyLease: ctx.applyLease(),
        at: ctx.now(),
        changes: step.changes,
        event: { actorId: SYSTEM_ACTOR, ...step.event },
      }),
    );
  }

  /**
   * A write that fails (disk full, database gone) leaves the request in `applying` with its
   * lease running out: it is resumed from its last recorded step once the store works again.
   */
  async function storeWrite<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      logger.error("Could not record an apply step; the request is resumed once the store works.", {
        error: describeFailure(error),
      });
      throw new CodedError(
        "STORE_UNAVAILABLE",
        `The bot could not record its progress (${isCodedError(error) ? error.message : describeFailure(error)}). The request stays Applying and goes on by itself from its last recorded step once the database works again; the thread will say so.`,
        { cause: error },
      );
    }
  }

  /** The only place the private key is unsealed; it lives for the duration of one call. */
  async function installCertificate(request: DkimRequest): Promise<DkimApiResult> {
    const privateKeyPem = await store.readPrivateKey(request.id);
    if (privateKeyPem === undefined) {
      throw new CodedError(
        "SEALING_FAILED",
        `The private key of request ${request.id} is no longer stored, so it cannot be installed. Create a new request.`,
      );
    }
    return dkimApi.setDkimCertificate(request.domain, request.selector, privateKeyPem);
  }

  async function retry(
    id: string,
    input: Actor,
    options: { approverVia?: string } = {},
  ): Promise<DkimRequest> {
    const request = await ctx.requireRequest(id);
    requireSameWorkspace(ctx, "NOT_ALLOWED", request, input);
    if (options.approverVia === undefined) {
      await requireApprover(ctx, "NOT_ALLOWED", request, input.actorId, RETRY_VERB);
    }
    if (request.state !== "failed") throw alreadyHandled(ctx, "NOT_ALLOWED", request);
    const change = await store.transition({
      id,
      from: "failed",
      to: "applying",
      at: ctx.now(),
      changes: { lastError: null },
      applyLease: ctx.applyLease(),
      event: {
        actorId: input.actorId,
        kind: "retried",
        details: { previousError: request.lastError },
      },
    });
    if (change === undefined) {
      throw alreadyHandled(ctx, "NOT_ALLOWED", await ctx.requireRequest(id));
    }
    ctx.emitChange(change);
    return apply(id);
  }

  /** Ids being taken over now: two callers (recovery, a batch's run) resume one once. */
  const resuming = new Set<string>();

  /**
   * Takes over an `applying` request whose lease ran out and goes on with it, saying so
   * ("resumed"); joins the apply when this process runs it. Undefined when another replica
   * holds it or it is not applying any more.
   */
  async function resumeOne(id: string): Promise<DkimRequest | undefined> {
    const current = running.get(id);
    if (current !== undefined) return current;
    if (resuming.has(id) || stopping) return undefined;
    resuming.add(id);
    try {
      const request = await store.claimApply(id, ctx.applyLease(), ctx.now());
      if (request === undefined) return undefined; // another replica took it, or it moved on
      const event = await store.appendEvent({
        requestId: request.id,
        at: ctx.now(),
        actorId: SYSTEM_ACTOR,
        kind: "resumed",
        details: {
          certificateInstalled: request.progress.certificateInstalled,
          enabledUsernames: request.progress.enabledUsernames,
        },
      });
      ctx.emit(event, request);
      return await apply(request.id);
    } finally {
      resuming.delete(id);
    }
  }

  async function resumeUnclaimed(): Promise<DkimRequest[]> {
    const resumed: DkimRequest[] = [];
    if (stopping) return resumed;
    for (const candidate of await store.listUnclaimedApplies(ctx.now())) {
      if (running.has(candidate.id) || resuming.has(candidate.id)) continue;
      try {
        const request = await resumeOne(candidate.id);
        if (request !== undefined) resumed.push(request);
      } catch (error) {
        logger.error("Could not resume an interrupted DKIM request.", {
          requestId: candidate.id,
          error: describeFailure(error),
        });
      }
    }
    return resumed;
  }

  return {
    apply,
    retry,
    async resume(id) {
      return (await resumeOne(id)) ?? ctx.requireRequest(id);
    },
    resumeUnclaimed,
    async stop() {
      stopping = true;
      await Promise.allSettled([...running.values()]);
    },
  };
}

/** The old key's move when `successor` turns active: retiring for the overlap. */
function retireMove(
  ctx: RequestsContext,
  old: DkimRequest,
  successor: DkimRequest,
  at: string,
): TransitionArgs {
  const retireAfter = new Date(Date.parse(at) + ctx.lifecycle.overlapDays * DAY_MS).toISOString();
  return {
    id: old.id,
    from: "active",
    to: "retiring",
    at,
    changes: { replacedBy: { id: successor.id, selector: successor.selector }, retireAfter },
    event: {
      actorId: SYSTEM_ACTOR,
      kind: "retiring",
      details: { replacedBy: successor.selector, replacedById: successor.id, retireAfter },
    },
  };
}

const DAY_MS = 24 * 60 * 60 * 1000;

function apiDetails(result: DkimApiResult): AuditDetails {
  return {
    call: result.call,
    text: redactSecrets(result.text),
    attempts: result.attempts,
    dryRun: result.dryRun,
  };
}

/** The API's own words when the error carries them (the SpamExperts client's errors do). */
function apiTextOf(error: unknown): string | null {
  if (typeof error !== "object" || error === null || !("apiText" in error)) return null;
  return typeof error.apiText === "string" ? redactSecrets(error.apiText) : null;
}
