/**
 * Setup: a new request from what a person typed. Validate, refuse a clash with an open
 * request, generate the key pair, seal and store it with its "created" event; then, once the
 * Slack layer has posted the request message, remember where it is.
 */
import type { DkimKeyPair, KeyBits } from "../dkim/keys.js";
import { defaultSelector, normaliseDomain } from "../dkim/names.js";
import { buildRecordValue, splitIntoStrings } from "../dkim/record.js";
import { CodedError, InputError } from "../errors.js";
import type { RequestsContext } from "./context.js";
import {
  type CreateRequestInput,
  checkCreateInput,
  type InputProblem,
  type ValidCreateInput,
} from "./create-input.js";
import { DomainActiveError, RequestConflictError, SelectorInUseError } from "./errors.js";
import { type DkimRequest, type RecordToPublish, recordNameOf } from "./model.js";
import { newRequestId } from "./request-id.js";
import { isOpenState, SELECTOR_IN_USE_STATES } from "./state-machine.js";

export interface CreatedRequest {
  request: DkimRequest;
  record: RecordToPublish;
}

export interface CreateOptions {
  /** The acked setup it comes from: marked done in the same transaction. */
  setupId?: string;
  /**
   * The new key replaces that active one (a rotation): the domain may have an active key then,
   * and the outgoing users are the active key's.
   */
  rotationOf?: DkimRequest;
  /** A member of a batch (requests/batch.ts): its card is the batch's, once posted. */
  batch?: { id: string; messageTs: string | null };
}

/** What `create` would make of an input, and what it would refuse it for, without a key. */
export interface Assessment {
  /** Set when the input itself is acceptable (then the selector is the one it would get). */
  valid: ValidCreateInput | undefined;
  problems: InputError[];
  /** The first refusal that comes from the domain's other requests (active key, open request). */
  conflict: Error | undefined;
  /** Every request the domain ever had, oldest first. */
  history: DkimRequest[];
}

export interface RequestCreation {
  create(input: CreateRequestInput, options?: CreateOptions): Promise<CreatedRequest>;
  /** Every problem `create` would refuse the input for, without generating a key. */
  findInputProblems(input: CreateRequestInput): Promise<InputProblem[]>;
  /** The single case's checks, for a caller that sorts many inputs (a batch). */
  assess(input: CreateRequestInput): Promise<Assessment>;
  attachMessage(id: string, channelId: string, messageTs: string): Promise<DkimRequest>;
}

/** The record as the UI shows it: name, value, and the value split into quoted-string pieces. */
export function recordToPublish(request: DkimRequest): RecordToPublish {
  return {
    name: recordNameOf(request),
    value: request.recordValue,
    strings: splitIntoStrings(request.recordValue),
  };
}

const DAY_MS = 24 * 60 * 60 * 1000;

export function createRequestCreation(
  ctx: RequestsContext,
  keys: { generateKeyPair: (bits: KeyBits) => Promise<DkimKeyPair>; defaultBits: KeyBits },
): RequestCreation {
  const { store } = ctx;

  /** Every request the domain ever had: which selectors it used, its active key. */
  async function historyOf(domain: string | undefined): Promise<DkimRequest[]> {
    if (domain === undefined) return [];
    try {
      return await store.list({ domain: normaliseDomain(domain) });
    } catch (error) {
      if (error instanceof InputError) return [];
      throw error;
    }
  }

  function check(input: CreateRequestInput, history: readonly DkimRequest[]) {
    return checkCreateInput(input, {
      now: ctx.clock(),
      defaultBits: keys.defaultBits,
      // Never a selector the domain had before (M3AAWG: never reuse one): s202612, then s202612-2 ...
      defaultSelector: freeSelector(
        defaultSelector(ctx.clock()),
        history.map((each) => each.selector),
      ),
    });
  }

  /** The refusals that come from the domain's other requests, first one first. */
  function conflictOf(
    valid: ValidCreateInput,
    history: readonly DkimRequest[],
    rotationOf: DkimRequest | undefined,
  ): Error | undefined {
    const inUse = history.find(
      (each) => each.selector === valid.selector && SELECTOR_IN_USE_STATES.includes(each.state),
    );
    if (inUse !== undefined && isOpenState(inUse.state)) return new RequestConflictError(inUse);
    if (inUse !== undefined) return new SelectorInUseError(inUse);
    const active = history.find((each) => each.state === "active");
    if (active !== undefined && rotationOf === undefined) {
      const since = Date.parse(active.activatedAt ?? active.decidedAt ?? active.createdAt);
      return new DomainActiveError(
        active,
        Math.max(0, Math.floor((ctx.clock().getTime() - since) / DAY_MS)),
      );
    }
    return undefined;
  }

  async function assess(input: CreateRequestInput): Promise<Assessment> {
    const history = await historyOf(input.domain);
    const { valid, problems } = check(input, history);
    const conflict = valid === undefined ? undefined : conflictOf(valid, history, undefined);
    return { valid, problems, conflict, history };
  }

  async function findInputProblems(input: CreateRequestInput): Promise<InputProblem[]> {
    const { problems, conflict } = await assess(input);
    const found = problems.map((problem) => ({ field: problem.field, message: problem.message }));
    if (conflict !== undefined) {
      found.push({
        field: conflict instanceof DomainActiveError ? "domain" : "selector",
        message: conflict.message,
      });
    }
    return found;
  }

  async function create(
    input: CreateRequestInput,
    options: CreateOptions = {},
  ): Promise<CreatedRequest> {
    const history = await historyOf(input.domain);
    const { valid, problems } = check(
      options.rotationOf === undefined
        ? input
        : { ...input, usernames: options.rotationOf.usernames },
      history,
    );
    const [first] = problems;
    if (first !== undefined) throw first;
    if (valid === undefined) throw new Error("unreachable: no problems but no valid input");
    // Checked before the (slow) key generation; the store's unique index settles any race.
    const conflict = conflictOf(valid, history, options.rotationOf);
    if (conflict !== undefined) throw conflict;

    const keyPair = await keys.generateKeyPair(valid.bits);
    const at = ctx.now();
    const request: DkimRequest = {
      id: newRequestId(),
      ...valid,
      requesterId: input.requesterId,
      teamId: input.teamId ?? null,
      enterpriseId: input.enterpriseId ?? null,
      channelId: input.channelId,
      messageTs: options.batch?.messageTs ?? null,
      publicKeyBase64: keyPair.publicKeyBase64,
      fingerprint: keyPair.fingerprint,
      recordValue: buildRecordValue(keyPair.publicKeyBase64, { testing: valid.testing }),
      state: "pending",
      progress: { certificateInstalled: false, enabledUsernames: [] },
      lastDnsCheck: null,
      decidedBy: null,
      decidedAt: null,
      rejectReason: null,
      rotationOf:
        options.rotationOf === undefined
          ? null
          : { id: options.rotationOf.id, selector: options.rotationOf.selector },
      replacedBy: null,
      activatedAt: null,
      retireAfter: null,
      retiredAt: null,
      retiredBy: null,
      publication: publicationOf(ctx, valid),
      lastError: null,
      batchId: options.batch?.id ?? null,
      createdAt: at,
      updatedAt: at,
    };
    const event = await store.insert(
      request,
      keyPair.privateKeyPem,
      {
        actorId: input.requesterId,
        kind: "created",
        details: {
          domain: request.domain,
          selector: request.selector,
          bits: request.bits,
          usernames: request.usernames,
          testing: request.testing,
          fingerprint: request.fingerprint,
          reason: request.reason,
          ticket: request.ticket,
          rotationOf: options.rotationOf?.selector ?? null,
        },
      },
      options.setupId === undefined ? {} : { setupId: options.setupId },
    );
    ctx.emit(event, request);
    return { request, record: recordToPublish(request) };
  }

  async function attachMessage(
    id: string,
    channelId: string,
    messageTs: string,
  ): Promise<DkimRequest> {
    // Not a transition: written in whatever state the request is in. The state can move
    // between the read and the write (an approval), so try again on the new state.
    for (let attempt = 0; attempt < 5; attempt++) {
      const request = await ctx.requireRequest(id);
      const change = await store.update({
        id,
        whileState: request.state,
        at: ctx.now(),
        changes: { channelId, messageTs },
      });
      if (change !== undefined) return change.request;
    }
    throw new CodedError(
      "REQUEST_CONFLICT",
      `Request ${id} kept changing; post its message again.`,
    );
  }

  return { create, findInputProblems, assess, attachMessage };
}

/** A record in a zone the bot writes: the bot publishes it (dns-publication.ts). */
function publicationOf(
  ctx: RequestsContext,
  valid: Pick<ValidCreateInput, "domain" | "selector">,
): DkimRequest["publication"] {
  const zone = ctx.managedZone(recordNameOf(valid));
  return zone === undefined ? null : { zone, state: "to-publish" };
}

/** `base`, or `base-2`, `base-3`, ... : the first the domain never used. */
export function freeSelector(base: string, used: readonly string[]): string {
  const taken = new Set(used);
  if (!taken.has(base)) return base;
  for (let suffix = 2; ; suffix++) {
    const candidate = `${base}-${suffix}`;
    if (!taken.has(candidate)) return candidate;
  }
}
