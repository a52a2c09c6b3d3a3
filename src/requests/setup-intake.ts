/**
 * Acked setups are a promise: `/dkim setup` is recorded in the store before Slack gets its
 * ack, and only forgotten once the person has seen the card or the refusal. A stop or a crash
 * in between (a key still being made, a card not yet posted) leaves the setup here, and the
 * next start (or another replica, once the hold ran out) finishes it.
 */
import { randomBytes } from "node:crypto";
import { isCodedError } from "../errors.js";
import type { RequestsContext } from "./context.js";
import type { CreateRequestInput } from "./create-input.js";
import { type CreatedRequest, type RequestCreation, recordToPublish } from "./create-request.js";
import type { QueuedSetup } from "./model.js";
import type { createRotation } from "./rotate-key.js";

export type SetupOutcome =
  | { kind: "created"; created: CreatedRequest; setup: QueuedSetup }
  /** The input or the store refused it: `error` carries the sentence for the person. */
  | { kind: "refused"; message: string; error: unknown; setup: QueuedSetup };

export interface QueuedSetups {
  /** Records an acked setup, held by this replica; rejects with STORE_BUSY when it cannot. */
  enqueue(
    input: CreateRequestInput,
    options?: { responseUrl?: string | undefined; rotation?: boolean },
  ): Promise<QueuedSetup>;
  /**
   * Makes the request of a setup this replica holds (key, seal, store; idempotent: a setup
   * already made gives its request). A refusal (bad input, a clash) is recorded; anything
   * else (the key could not be made, the store is down) leaves it queued for a later try.
   */
  process(setup: QueuedSetup): Promise<SetupOutcome>;
  /** Setups nobody holds that are not forgotten yet: taken for this replica. */
  claimUnfinished(limit?: number): Promise<QueuedSetup[]>;
  forget(id: string): Promise<void>;
}

/**
 * How long a setup stays this replica's: long enough for its key to be made behind a batch's
 * (minutes); a dead replica's setups are taken over after it. A single bot (SQLite) takes its
 * own back at start at once.
 */
const SETUP_HOLD_MS = 10 * 60_000;

export function createQueuedSetups(
  ctx: RequestsContext,
  creation: RequestCreation,
  rotate: ReturnType<typeof createRotation>,
): QueuedSetups {
  const { store } = ctx;
  const hold = () => ({
    owner: ctx.instanceId,
    until: new Date(Date.now() + SETUP_HOLD_MS).toISOString(),
  });

  async function enqueue(
    input: CreateRequestInput,
    options: { responseUrl?: string | undefined; rotation?: boolean } = {},
  ): Promise<QueuedSetup> {
    const setup: QueuedSetup = {
      id: randomBytes(9).toString("base64url"),
      receivedAt: ctx.now(),
      requesterId: input.requesterId,
      channelId: input.channelId,
      teamId: input.teamId ?? null,
      enterpriseId: input.enterpriseId ?? null,
      input: {
        domain: input.domain,
        ...(input.selector === undefined ? {} : { selector: input.selector }),
        ...(input.bits === undefined ? {} : { bits: input.bits }),
        ...(input.usernames === undefined ? {} : { usernames: [...input.usernames] }),
        ...(input.testing === undefined ? {} : { testing: input.testing }),
        ...(input.reason === undefined ? {} : { reason: input.reason }),
        ...(options.rotation === true ? { rotation: true } : {}),
      },
      responseUrl: options.responseUrl ?? null,
      state: "queued",
      requestId: null,
      outcome: null,
    };
    await store.enqueueSetup(setup, hold());
    return setup;
  }

  async function process(setup: QueuedSetup): Promise<SetupOutcome> {
    if (setup.state === "refused") {
      return { kind: "refused", message: setup.outcome ?? "", error: undefined, setup };
    }
    if (setup.state === "created" && setup.requestId !== null) {
      const request = await ctx.requireRequest(setup.requestId);
      return { kind: "created", created: { request, record: recordToPublish(request) }, setup };
    }
    try {
      const created =
        setup.input.rotation === true
          ? await rotate(inputOf(setup), { setupId: setup.id })
          : await creation.create(inputOf(setup), { setupId: setup.id });
      return {
        kind: "created",
        created,
        setup: { ...setup, state: "created", requestId: created.request.id },
      };
    } catch (error) {
      // A person's mistake (input, a clash with an open request) is the setup's answer; our
      // own trouble (the store, key generation) is not: the setup stays for a later try.
      if (!isCodedError(error) || !REFUSALS.has(error.code)) throw error;
      await store.refuseSetup(setup.id, error.message);
      return {
        kind: "refused",
        message: error.message,
        error,
        setup: { ...setup, state: "refused", outcome: error.message },
      };
    }
  }

  return {
    enqueue,
    process,
    claimUnfinished: (limit = 50) => store.claimUnfinishedSetups(hold(), ctx.now(), limit),
    forget: (id) => store.forgetSetup(id),
  };
}

/** The codes that are the person's answer rather than a fault to retry. */
const REFUSALS = new Set(["INVALID_INPUT", "REQUEST_CONFLICT", "NOT_ALLOWED"]);

export function inputOf(setup: QueuedSetup): CreateRequestInput {
  const { rotation: _rotation, ...input } = setup.input;
  return {
    ...input,
    requesterId: setup.requesterId,
    channelId: setup.channelId,
    ...(setup.teamId === null ? {} : { teamId: setup.teamId }),
    ...(setup.enterpriseId === null ? {} : { enterpriseId: setup.enterpriseId }),
  };
}
