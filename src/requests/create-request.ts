/**
 * Setup: a new request from what a person typed. Validate, refuse a clash with an open
 * request, generate the key pair, seal and store it with its "created" event; then, once the
 * Slack layer has posted the request message, remember where it is.
 */
import type { DkimKeyPair, KeyBits } from "../dkim/keys.js";
import { buildRecordValue, splitIntoStrings } from "../dkim/record.js";
import { CodedError } from "../errors.js";
import type { RequestsContext } from "./context.js";
import {
  type CreateRequestInput,
  checkCreateInput,
  type InputProblem,
  type ValidCreateInput,
} from "./create-input.js";
import { RequestConflictError } from "./errors.js";
import { type DkimRequest, type RecordToPublish, recordNameOf } from "./model.js";
import { newRequestId } from "./request-id.js";

export interface CreatedRequest {
  request: DkimRequest;
  record: RecordToPublish;
}

export interface RequestCreation {
  /** With `setupId`, the acked setup it comes from is marked done in the same transaction. */
  create(input: CreateRequestInput, options?: { setupId?: string }): Promise<CreatedRequest>;
  /** Every problem `create` would refuse the input for, without generating a key. */
  findInputProblems(input: CreateRequestInput): Promise<InputProblem[]>;
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

export function createRequestCreation(
  ctx: RequestsContext,
  keys: { generateKeyPair: (bits: KeyBits) => Promise<DkimKeyPair>; defaultBits: KeyBits },
): RequestCreation {
  const { store } = ctx;

  function validate(input: CreateRequestInput): ValidCreateInput {
    const { valid, problems } = checkCreateInput(input, {
      now: ctx.clock(),
      defaultBits: keys.defaultBits,
    });
    const [first] = problems;
    if (first !== undefined) throw first;
    if (valid === undefined) throw new Error("unreachable: no problems but no valid input");
    return valid;
  }

  async function findInputProblems(input: CreateRequestInput): Promise<InputProblem[]> {
    const { valid, problems } = checkCreateInput(input, {
      now: ctx.clock(),
      defaultBits: keys.defaultBits,
    });
    const found = problems.map((problem) => ({ field: problem.field, message: problem.message }));
    if (valid !== undefined) {
      const existing = await store.findOpen(valid.domain, valid.selector);
      if (existing !== undefined) {
        found.push({ field: "selector", message: new RequestConflictError(existing).message });
      }
    }
    return found;
  }

  async function create(
    input: CreateRequestInput,
    options: { setupId?: string } = {},
  ): Promise<CreatedRequest> {
    const valid = validate(input);
    // Checked before the (slow) key generation; the store's unique index settles any race.
    const existing = await store.findOpen(valid.domain, valid.selector);
    if (existing !== undefined) throw new RequestConflictError(existing);

    const keyPair = await keys.generateKeyPair(valid.bits);
    const at = ctx.now();
    const request: DkimRequest = {
      id: newRequestId(),
      ...valid,
      requesterId: input.requesterId,
      teamId: input.teamId ?? null,
      enterpriseId: input.enterpriseId ?? null,
      channelId: input.channelId,
      messageTs: null,
      publicKeyBase64: keyPair.publicKeyBase64,
      fingerprint: keyPair.fingerprint,
      recordValue: buildRecordValue(keyPair.publicKeyBase64, { testing: valid.testing }),
      state: "pending",
      progress: { certificateInstalled: false, enabledUsernames: [] },
      lastDnsCheck: null,
      decidedBy: null,
      decidedAt: null,
      rejectReason: null,
      lastError: null,
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
        },
      },
      options,
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

  return { create, findInputProblems, attachMessage };
}
