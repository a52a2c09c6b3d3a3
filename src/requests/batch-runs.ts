/**
 * What people do to a whole batch with one click: Approve all live (N), Retry failed (N),
 * Reject all, Cancel. Each is a loop over the single case (approve, retry, reject, cancel of
 * one request, with all of its rules) with at most DKIM_APPLY_CONCURRENCY in flight, never a
 * second implementation of it.
 *
 * A click is checked once for the batch (workspace, approver with one Slack lookup, not the
 * requester unless DKIM_ALLOW_SELF_APPROVAL, and for Approve all live and Retry failed the
 * digest of the requests and keys the card showed), recorded as a run in the batch (so a
 * restart finishes it) and answered; the run then goes on in the background. Two clicks, or
 * two replicas, make one run; each request is moved once by the store's conditional update
 * whatever happens.
 */
import { createLimiter } from "../dkim/concurrency-limit.js";
import { isCodedError } from "../errors.js";
import type { Applier } from "./apply-request.js";
import { RETRY_VERB } from "./apply-request.js";
import { describeApprovers } from "./approval-policy.js";
import { APPROVE_VERB, type Approve } from "./approve-request.js";
import { refuse, requireApprover, requireRejecter, requireSameWorkspace } from "./authorization.js";
import {
  type Batch,
  type BatchRun,
  type BatchRunKind,
  digestOf,
  endableMembers,
  failedMembers,
  type LeftOut,
  liveMembers,
  type RunItem,
  runningRun,
} from "./batch.js";
import type { BatchWrites } from "./batch-store-writes.js";
import type { RequestsContext } from "./context.js";
import { MAX_REJECT_REASON, optionalText } from "./create-input.js";
import { ActionRefusedError } from "./errors.js";
import type { Actor, DkimRequest } from "./model.js";
import { describeFailure } from "./redact.js";
import type { RejectOrCancel } from "./reject-or-cancel.js";
import { newRequestId } from "./request-id.js";

export interface RunStarted {
  batch: Batch;
  run: BatchRun;
}

export interface BatchRuns {
  /** Approves exactly the live and matching requests the card showed (`digestShown`). */
  approveAllLive(batchId: string, actor: Actor, digestShown: string): Promise<RunStarted>;
  /** Retries exactly the failed requests the card showed. */
  retryFailed(batchId: string, actor: Actor, digestShown: string): Promise<RunStarted>;
  /** Throws the refusal rejectAll would give, before its form asks for a reason. */
  mayRejectAll(batchId: string, actor: Actor): Promise<void>;
  rejectAll(batchId: string, input: Actor & { reason?: string | undefined }): Promise<RunStarted>;
  /** The requester withdraws every open request of the batch. */
  cancelAll(batchId: string, actor: Actor): Promise<RunStarted>;
  /** Goes on with the runs of a batch a stop or a crash left unfinished. */
  resume(batch: Batch): void;
  /** Resolves once every run started here so far is done (tests, a clean stop). */
  idle(): Promise<void>;
  /** No request of a run is started from now on; resolves once those in flight are done. */
  stop(): Promise<void>;
}

export interface BatchRunDeps {
  writes: BatchWrites;
  approve: Approve;
  applier: Pick<Applier, "retry" | "resume">;
  decisions: Pick<RejectOrCancel, "reject" | "cancel">;
  /** DKIM_APPLY_CONCURRENCY. */
  concurrency: number;
}

export function createBatchRuns(ctx: RequestsContext, deps: BatchRunDeps): BatchRuns {
  const { store } = ctx;
  const { writes } = deps;
  const active = new Map<string, Promise<void>>();
  let stopping = false;

  // ---- a click: checked once, recorded, answered ---------------------------------------

  async function approveAllLive(batchId: string, actor: Actor, digestShown: string) {
    const batch = await writes.require(batchId);
    requireSameWorkspace(ctx, "APPROVAL_REFUSED", batch, actor);
    const via = await requireApprover(ctx, "APPROVAL_REFUSED", batch, actor.actorId, APPROVE_VERB);
    if (actor.actorId === batch.requesterId && !ctx.policy.allowSelfApproval) {
      throw refuse(
        ctx,
        "APPROVAL_REFUSED",
        "self-approval",
        batch,
        "You asked for this batch, so another approver must approve it (DKIM_ALLOW_SELF_APPROVAL is off).",
      );
    }
    const members = await store.list({ batchId });
    const live = liveMembers(members);
    requireShown(batch, live, digestShown, "live and matching", "Approve all live");
    const leftOut: LeftOut[] = members
      .filter((member) => !live.includes(member))
      .flatMap((member) => {
        if (member.state === "pending") {
          const summary = member.lastDnsCheck?.summary ?? "not checked yet.";
          return [{ domain: member.domain, reason: `record not live yet: ${summary}` }];
        }
        if (member.state === "failed") {
          return [
            { domain: member.domain, reason: "failed before: Retry failed goes on with it." },
          ];
        }
        return [];
      });
    return record(batch, { kind: "approve", actorId: actor.actorId, via }, live, leftOut, {
      digestShown,
      what: "live and matching",
      button: "Approve all live",
    });
  }

  async function retryFailed(batchId: string, actor: Actor, digestShown: string) {
    const batch = await writes.require(batchId);
    requireSameWorkspace(ctx, "NOT_ALLOWED", batch, actor);
    const via = await requireApprover(ctx, "NOT_ALLOWED", batch, actor.actorId, RETRY_VERB);
    const failed = failedMembers(await store.list({ batchId }));
    requireShown(batch, failed, digestShown, "failed", "Retry failed");
    return record(batch, { kind: "retry", actorId: actor.actorId, via }, failed, [], {
      digestShown,
      what: "failed",
      button: "Retry failed",
    });
  }

  /** The checks of Reject all: how the actor qualifies, and what it would end. */
  async function checkRejectAll(batchId: string, actor: Actor) {
    const batch = await writes.require(batchId);
    requireSameWorkspace(ctx, "NOT_ALLOWED", batch, actor);
    const via = await requireRejecter(
      ctx,
      batch,
      actor.actorId,
      "reject a batch",
      `Only ${describeApprovers(ctx.policy)} can reject a batch. You asked for this batch: click Cancel on its card to withdraw it.`,
    );
    const endable = endableMembers(await store.list({ batchId }));
    if (endable.length === 0) throw nothingOpen(batch, "reject");
    return { batch, via, endable };
  }

  async function rejectAll(batchId: string, input: Actor & { reason?: string | undefined }) {
    const reason = optionalText("reason", input.reason, MAX_REJECT_REASON);
    const { batch, via, endable } = await checkRejectAll(batchId, input);
    return record(batch, { kind: "reject", actorId: input.actorId, via, reason }, endable, []);
  }

  async function cancelAll(batchId: string, actor: Actor) {
    const batch = await writes.require(batchId);
    requireSameWorkspace(ctx, "NOT_ALLOWED", batch, actor);
    if (actor.actorId !== batch.requesterId) {
      throw refuse(
        ctx,
        "NOT_ALLOWED",
        "not-requester",
        batch,
        `Only <@${batch.requesterId}>, who asked for this batch, can cancel it; an approver can reject it instead (Reject all).`,
      );
    }
    const endable = endableMembers(await store.list({ batchId }));
    if (endable.length === 0) throw nothingOpen(batch, "cancel");
    return record(batch, { kind: "cancel", actorId: actor.actorId, via: null }, endable, []);
  }

  /** The requests a click acts on must be exactly those its card showed, with those keys. */
  function requireShown(
    batch: Batch,
    acting: readonly DkimRequest[],
    digestShown: string,
    what: string,
    button: string,
  ): void {
    if (acting.length === 0) {
      throw refuse(
        ctx,
        "NOT_ALLOWED",
        "batch-changed",
        batch,
        `Nothing was done: no request of this batch is ${what} now. The card shows where each one stands.`,
      );
    }
    if (digestOf(batch, acting) !== digestShown.trim())
      throw cardChanged(batch, acting, what, button);
  }

  function cardChanged(
    batch: Batch,
    acting: readonly unknown[],
    what: string,
    button: string,
  ): ActionRefusedError {
    return refuse(
      ctx,
      "NOT_ALLOWED",
      "batch-changed",
      batch,
      `Nothing was done: the card changed since you looked (${acting.length} ${what} now). Look at it again, then click ${button} (${acting.length}) again.`,
    );
  }

  function nothingOpen(batch: Batch, verb: string): ActionRefusedError {
    return refuse(
      ctx,
      "NOT_ALLOWED",
      "already-handled",
      batch,
      `Nothing to ${verb}: no request of this batch is open any more. The card shows how each one ended.`,
    );
  }

  async function record(
    batch: Batch,
    who: { kind: BatchRunKind; actorId: string; via: string | null; reason?: string | null },
    acting: readonly DkimRequest[],
    leftOut: LeftOut[],
    shown?: { digestShown: string; what: string; button: string },
  ): Promise<RunStarted> {
    const run: BatchRun = {
      id: newRequestId(),
      kind: who.kind,
      actorId: who.actorId,
      via: who.via,
      reason: who.reason ?? null,
      at: ctx.now(),
      items: acting.map(itemOf),
      leftOut,
      refused: [],
      finishedAt: null,
      toldTs: null,
    };
    const written = await writes.update(batch.id, (current) => {
      const busy = runningRun(current);
      if (busy !== undefined) throw busyRefusal(current, busy);
      // Checked again in the write: a run recorded since the click was read (a second click,
      // another replica) changes what the card showed, so this one does nothing twice.
      if (shown !== undefined && digestOf(current, acting) !== shown.digestShown.trim()) {
        throw cardChanged(current, acting, shown.what, shown.button);
      }
      return { runs: [...current.runs, run] };
    });
    ctx.logger.info("Started a batch run.", {
      batchId: batch.id,
      run: run.kind,
      actor: run.actorId,
      requests: run.items.length,
      leftOut: run.leftOut.length,
    });
    execute(batch.id, run.id);
    return { batch: written, run };
  }

  function busyRefusal(batch: Batch, busy: BatchRun): ActionRefusedError {
    return refuse(
      ctx,
      "NOT_ALLOWED",
      "batch-busy",
      batch,
      `Nothing was done twice: ${RUN_WORDS[busy.kind]} of this batch by <@${busy.actorId}> is still going on (${busy.items.length} requests; the card shows its progress). Click again once it is done, if anything is left.`,
    );
  }

  // ---- the run: the single case, a few at a time -----------------------------------------

  function execute(batchId: string, runId: string): void {
    if (active.has(runId) || stopping) return;
    const work = writes
      .held(batchId, () => runItems(batchId, runId))
      .catch((error: unknown) => {
        ctx.logger.error("A batch run stopped; it goes on at the next recovery.", {
          batchId,
          runId,
          error: describeFailure(error),
        });
      })
      .finally(() => active.delete(runId));
    active.set(runId, work);
  }

  async function runItems(batchId: string, runId: string): Promise<void> {
    const run = (await writes.require(batchId)).runs.find((each) => each.id === runId);
    if (run === undefined || run.finishedAt !== null) return;
    const limiter = createLimiter(deps.concurrency);
    const refused: LeftOut[] = [];
    let cutShort = false;
    await Promise.all(
      run.items.map((item) =>
        limiter.run(async () => {
          if (stopping) {
            cutShort = true;
            return;
          }
          try {
            await actOn(run, item);
          } catch (error) {
            if (!(error instanceof ActionRefusedError)) {
              ctx.logger.warn("A request of a batch run could not be done.", {
                batchId,
                requestId: item.requestId,
                error: describeFailure(error),
              });
            }
            const reason = isCodedError(error) ? error.message : describeFailure(error);
            refused.push({ domain: item.domain, reason });
          }
        }),
      ),
    );
    // Stopped half way: the run stays unfinished and goes on at the next start.
    if (cutShort) return;
    const finishedAt = ctx.now();
    await writes.update(batchId, (current) => {
      const still = current.runs.find((each) => each.id === runId);
      if (still === undefined || still.finishedAt !== null) return undefined;
      return {
        runs: current.runs.map((each) =>
          each.id === runId
            ? { ...each, finishedAt, refused: [...each.refused, ...refused] }
            : each,
        ),
      };
    });
  }

  /** One request, by the single case; a request already past this step is left as it is. */
  async function actOn(run: BatchRun, item: RunItem): Promise<void> {
    const request = await ctx.requireRequest(item.requestId);
    const actor: Actor = { actorId: run.actorId };
    const approverVia = run.via ?? run.actorId;
    const open = request.state === "pending" || request.state === "failed";
    switch (run.kind) {
      case "approve":
        if (request.state === "pending") {
          await deps.approve(
            item.requestId,
            { ...actor, fingerprintShown: item.fingerprint },
            { approverVia },
          );
        } else if (request.state === "applying") {
          await deps.applier.resume(item.requestId);
        }
        return;
      case "retry":
        if (request.state === "failed") {
          await deps.applier.retry(item.requestId, actor, { approverVia });
        } else if (request.state === "applying") {
          await deps.applier.resume(item.requestId);
        }
        return;
      case "reject":
        if (open) {
          await deps.decisions.reject(
            item.requestId,
            { ...actor, reason: run.reason ?? undefined },
            { approverVia },
          );
        }
        return;
      case "cancel":
        if (open) await deps.decisions.cancel(item.requestId, actor);
        return;
    }
  }

  return {
    approveAllLive,
    retryFailed,
    async mayRejectAll(batchId, actor) {
      await checkRejectAll(batchId, actor);
    },
    rejectAll,
    cancelAll,
    resume(batch) {
      for (const run of batch.runs) {
        if (run.finishedAt === null) execute(batch.id, run.id);
      }
    },
    async idle() {
      while (active.size > 0) await Promise.allSettled([...active.values()]);
    },
    async stop() {
      stopping = true;
      await Promise.allSettled([...active.values()]);
    },
  };
}

function itemOf(request: DkimRequest): RunItem {
  return { requestId: request.id, domain: request.domain, fingerprint: request.fingerprint };
}

/** "the approval", "the retry": a run that is going on, in a sentence. */
const RUN_WORDS: Readonly<Record<BatchRunKind, string>> = {
  approve: "the approval",
  retry: "the retry",
  reject: "the rejection",
  cancel: "the cancellation",
};
