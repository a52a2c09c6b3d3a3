/**
 * Bulk setup (design.md flow 8): several domains, one batch. Recorded before the ack (`start`),
 * so no stop or crash loses it; then every domain is checked with the single case's rules
 * (`check`): not valid, or left alone (an active key: that is a rotation; an open request),
 * or planned with the selector it gets; then the keys are made (`make`), each domain a request
 * of its own made by the single case's `create`, a few at a time. Each step is idempotent, so a
 * restart goes on from where the batch stands.
 */
import { availableParallelism } from "node:os";
import { createLimiter } from "../dkim/concurrency-limit.js";
import type { KeyBits } from "../dkim/keys.js";
import { InputError, isCodedError } from "../errors.js";
import type { Batch, BatchInput, BatchNotice, LeftOut, PlannedDomain } from "./batch.js";
import type { BatchWrites } from "./batch-store-writes.js";
import type { RequestsContext } from "./context.js";
import { type CreateRequestInput, checkCreateInput } from "./create-input.js";
import type { RequestCreation } from "./create-request.js";
import { DomainActiveError, RequestConflictError, SelectorInUseError } from "./errors.js";
import type { Actor, DkimRequest } from "./model.js";
import { describeFailure } from "./redact.js";
import { newRequestId } from "./request-id.js";
import { isOpenState } from "./state-machine.js";

/** What starts a batch: the domains, who asks, where its card goes, the options for all. */
export interface BatchStartInput {
  domains: readonly string[];
  actor: Actor;
  channelId: string;
  options?: Omit<BatchInput, "domains">;
  /** The command's response_url, for telling the requester before the card exists. */
  responseUrl?: string | undefined;
}

export interface BatchSetup {
  /**
   * Records a bulk setup, held by this replica, before the person is answered; refuses (an
   * InputError, nothing recorded) more than DKIM_BATCH_MAX domains, none, or options no domain
   * could take (a key size, a selector, a reason).
   */
  start(input: BatchStartInput): Promise<Batch>;
  /** Sorts the domains: not valid, left alone, or planned. Nothing to make: `refused`. */
  check(batchId: string): Promise<Batch>;
  /** Makes the key of every planned domain not made yet; then the batch is `ready`. */
  make(batchId: string): Promise<Batch>;
  /** The card is posted: the batch and its requests point at it. */
  attachCard(batchId: string, channelId: string, messageTs: string): Promise<Batch>;
  /** A once-only thread reply was told (`ref`: its ts or file id). */
  markTold(batchId: string, notice: BatchNotice, ref: string): Promise<Batch>;
  /** A run's summary reply was posted (its ts), so it is not posted again. */
  markRunTold(batchId: string, runId: string, ts: string): Promise<Batch>;
  /** Nothing more will happen (its card could not be posted): no work is left on it. */
  abandon(batchId: string): Promise<Batch>;
  get(batchId: string): Promise<Batch | undefined>;
  /** The batch's requests, oldest first. */
  members(batchId: string): Promise<DkimRequest[]>;
  /** Batches with work nobody does now (a stop, a crash), taken for this replica. */
  claimUnfinished(limit?: number): Promise<Batch[]>;
  /** Runs `work` holding the batch (see BatchWrites.held). */
  held<T>(batchId: string, work: () => Promise<T>): Promise<T>;
}

/**
 * Requests made at once for one batch: generation is bounded anyway (one worker per core,
 * dkim/keys.ts); this keeps order, and a key waiting on every worker while the others' requests
 * are written, so no core idles between keys.
 */
const MAKE_CONCURRENCY = Math.max(4, 2 * availableParallelism());

export function createBatchSetup(
  ctx: RequestsContext,
  creation: RequestCreation,
  writes: BatchWrites,
  options: { batchMax: number; defaultBits: KeyBits },
): BatchSetup {
  const { store } = ctx;

  function inputFor(batch: Batch, domain: string, selector?: string): CreateRequestInput {
    const { domains: _domains, ...given } = batch.input;
    return {
      ...given,
      ...(selector === undefined ? {} : { selector }),
      domain,
      requesterId: batch.requesterId,
      channelId: batch.channelId,
      ...(batch.teamId === null ? {} : { teamId: batch.teamId }),
      ...(batch.enterpriseId === null ? {} : { enterpriseId: batch.enterpriseId }),
    };
  }

  async function start(input: BatchStartInput): Promise<Batch> {
    const count = input.domains.length;
    if (count === 0) throw new InputError("domain", "Missing domain: give one or more domains.");
    if (count > options.batchMax) {
      throw new InputError(
        "domain",
        `That is ${count} domains, and one batch takes at most ${options.batchMax} (DKIM_BATCH_MAX): split them over several commands.`,
      );
    }
    refuseBadOptions(input, ctx.clock(), options.defaultBits);
    const at = ctx.now();
    const batch: Batch = {
      id: newRequestId(),
      requesterId: input.actor.actorId,
      channelId: input.channelId,
      teamId: input.actor.teamId ?? null,
      enterpriseId: input.actor.enterpriseId ?? null,
      input: { domains: [...input.domains], ...input.options },
      responseUrl: input.responseUrl ?? null,
      state: "queued",
      invalid: [],
      skipped: [],
      planned: [],
      messageTs: null,
      runs: [],
      told: {},
      version: 1,
      createdAt: at,
      updatedAt: at,
    };
    await store.insertBatch(batch, {
      owner: ctx.instanceId,
      until: new Date(Date.now() + 4 * ctx.applyLeaseMs).toISOString(),
    });
    ctx.logger.info("Recorded a batch setup.", { batchId: batch.id, domains: count });
    return batch;
  }

  async function check(batchId: string): Promise<Batch> {
    const batch = await writes.require(batchId);
    if (batch.state !== "queued") return batch;
    const invalid: LeftOut[] = [];
    const skipped: LeftOut[] = [];
    const planned: PlannedDomain[] = [];
    const seen = new Set<string>();
    for (const typed of batch.input.domains) {
      const assessment = await creation.assess(inputFor(batch, typed));
      const [problem] = assessment.problems;
      if (problem !== undefined || assessment.valid === undefined) {
        invalid.push({ domain: typed, reason: problem?.message ?? "not a domain name" });
        continue;
      }
      const { domain, selector } = assessment.valid;
      if (seen.has(domain)) {
        // As typed: the domain itself goes on, once.
        skipped.push({ domain: typed, reason: `${domain} is listed twice: it is set up once.` });
        continue;
      }
      seen.add(domain);
      const clash = clashOf(assessment.conflict, assessment.history);
      if (clash !== undefined) {
        skipped.push({ domain, reason: clash });
        continue;
      }
      planned.push({ domain, selector });
    }
    return writes.update(batchId, (current) =>
      current.state !== "queued"
        ? undefined
        : { state: planned.length === 0 ? "refused" : "making", invalid, skipped, planned },
    );
  }

  async function make(batchId: string): Promise<Batch> {
    const batch = await writes.require(batchId);
    if (batch.state !== "making") return batch;
    const made = new Set((await store.list({ batchId })).map((member) => member.domain));
    const limiter = createLimiter(MAKE_CONCURRENCY);
    let unfinished = 0;
    await Promise.all(
      batch.planned
        .filter((each) => !made.has(each.domain))
        .map((each) =>
          limiter.run(async () => {
            // The card may have been posted meanwhile: a new request points at it at once.
            const current = await writes.require(batchId);
            if (current.skipped.some((left) => left.domain === each.domain)) return;
            try {
              await creation.create(inputFor(current, each.domain, each.selector), {
                batch: { id: batchId, messageTs: current.messageTs },
              });
            } catch (error) {
              if (isCodedError(error) && REFUSALS.has(error.code)) {
                await writes.update(batchId, (latest) => ({
                  skipped: [...latest.skipped, { domain: each.domain, reason: error.message }],
                }));
                return;
              }
              // Our own trouble (the store, the key): the domain is made at the next try.
              unfinished += 1;
              ctx.logger.warn("Could not make a batch's key yet; it is tried again.", {
                batchId,
                domain: each.domain,
                error: describeFailure(error),
              });
            }
          }),
        ),
    );
    const current = await writes.require(batchId);
    if (current.messageTs !== null) {
      // Requests made while the card was being posted point at it too.
      await store.attachBatchCard(batchId, current.channelId, current.messageTs, ctx.now());
    }
    if (unfinished > 0) return current;
    return writes.update(batchId, (latest) =>
      latest.state === "making" ? { state: "ready" } : undefined,
    );
  }

  return {
    start,
    check,
    make,
    async attachCard(batchId, channelId, messageTs) {
      const attached = await store.attachBatchCard(batchId, channelId, messageTs, ctx.now());
      if (attached === undefined) return writes.require(batchId);
      ctx.emitBatch(attached);
      return attached;
    },
    markTold: (batchId, notice, ref) =>
      writes.update(batchId, (batch) =>
        batch.told[notice] !== undefined ? undefined : { told: { ...batch.told, [notice]: ref } },
      ),
    markRunTold: (batchId, runId, ts) =>
      writes.update(batchId, (batch) =>
        batch.runs.some((run) => run.id === runId && run.toldTs === null)
          ? {
              runs: batch.runs.map((run) =>
                run.id === runId && run.toldTs === null ? { ...run, toldTs: ts } : run,
              ),
            }
          : undefined,
      ),
    abandon: (batchId) =>
      writes.update(batchId, (batch) =>
        batch.state === "refused" ? undefined : { state: "refused" },
      ),
    get: (batchId) => store.getBatch(batchId),
    members: (batchId) => store.list({ batchId }),
    async claimUnfinished(limit = 20) {
      const claimed = await store.claimBatchesWithWork(
        {
          owner: ctx.instanceId,
          until: new Date(Date.now() + 4 * ctx.applyLeaseMs).toISOString(),
        },
        new Date().toISOString(),
        limit,
      );
      // This replica tells them from now on: their cards are drawn from the store again.
      for (const batch of claimed) ctx.emitBatch(batch);
      return claimed;
    },
    held: (batchId, work) => writes.held(batchId, work),
  };
}

/** The codes that are a domain's answer (left alone) rather than a fault to try again. */
const REFUSALS = new Set(["INVALID_INPUT", "REQUEST_CONFLICT", "NOT_ALLOWED"]);

/**
 * Options that no domain could take (a key size, a selector, a reason) refuse the whole batch
 * before it is recorded: one sentence, not the same one a hundred times. Each domain is
 * judged later, on its own.
 */
function refuseBadOptions(input: BatchStartInput, now: Date, defaultBits: KeyBits): void {
  const { problems } = checkCreateInput(
    {
      ...input.options,
      domain: "example.com",
      requesterId: input.actor.actorId,
      channelId: input.channelId,
    },
    { now, defaultBits },
  );
  const [first] = problems;
  if (first !== undefined) throw first;
}

/**
 * Why a domain is left alone: the single case's refusals (an active key: rotate instead; an
 * open request or a selector in use at that name), and, for a batch, any open request of the
 * domain, whatever its selector (a second key under way would only confuse).
 */
function clashOf(conflict: Error | undefined, history: readonly DkimRequest[]): string | undefined {
  if (conflict instanceof DomainActiveError) return conflict.message;
  const active = history.find((each) => each.state === "active");
  if (active !== undefined) {
    return `${active.domain} already has an active DKIM key (selector ${active.selector}): to replace it, use /dkim rotate ${active.domain}.`;
  }
  const open = history.filter((each) => isOpenState(each.state)).at(-1);
  if (open !== undefined) {
    return `${open.domain} has an open request (selector ${open.selector}, ${open.state}, request ${open.id}): finish, reject or cancel it first (/dkim status ${open.domain}).`;
  }
  if (conflict instanceof SelectorInUseError || conflict instanceof RequestConflictError) {
    return conflict.message;
  }
  return conflict?.message;
}
