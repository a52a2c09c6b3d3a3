import { type DkimCheckResult, type ExpectedKey, isLiveAndMatching } from "../dkim/check.js";
import {
  type DkimKeyPair,
  generateKeyPair as generateRealKeyPair,
  isKeyBits,
  type KeyBits,
} from "../dkim/keys.js";
import {
  checkedDkimRecordName,
  defaultSelector,
  normaliseDomain,
  normaliseSelector,
  validateUsername,
} from "../dkim/names.js";
import { buildRecordValue, splitIntoStrings } from "../dkim/record.js";
import { CodedError, InputError, isCodedError } from "../errors.js";
import type { DkimApi, DkimApiCall, DkimApiResult } from "../spamexperts/types.js";
import {
  type ApprovalPolicy,
  approverGroups,
  approverUsers,
  checkApprover,
  describeApprovers,
  joinWithOr,
  type MembershipLookup,
} from "./approval-policy.js";
import { ActionRefusedError, RequestConflictError, requestNotFound } from "./errors.js";
import { type RequestsLogger, silentLogger } from "./logger.js";
import {
  type AuditDetails,
  type AuditEvent,
  type DkimRequest,
  type RecordToPublish,
  recordNameOf,
  type StoredDnsCheck,
  SYSTEM_ACTOR,
} from "./model.js";
import { describeFailure, redactSecrets } from "./redact.js";
import { newRequestId } from "./request-id.js";
import type {
  EventInput,
  RequestChanges,
  RequestFilter,
  RequestStore,
  StoredChange,
} from "./store.js";

export type CheckDns = (
  domain: string,
  selector: string,
  expected: ExpectedKey,
) => Promise<DkimCheckResult>;

export interface RequestServiceDeps {
  store: RequestStore;
  dkimApi: DkimApi;
  checkDns: CheckDns;
  isMemberOfGroup: MembershipLookup;
  policy: ApprovalPolicy;
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
}

export interface CreateRequestInput {
  domain: string;
  selector?: string | undefined;
  bits?: number | undefined;
  /** Outgoing usernames; none means the domain itself (domain-level authentication). */
  usernames?: readonly string[] | undefined;
  testing?: boolean | undefined;
  reason?: string | undefined;
  ticket?: string | undefined;
  requesterId: string;
  channelId: string;
}

export interface CreatedRequest {
  request: DkimRequest;
  record: RecordToPublish;
}

export interface DnsCheckOutcome {
  request: DkimRequest;
  result: DkimCheckResult;
  /** The stored event when the status or first problem changed since the last check. */
  event: AuditEvent | null;
}

/** One problem with what a person typed: `field` names the input (domain, selector, bits, user, ...). */
export interface InputProblem {
  field: string;
  message: string;
}

interface ValidCreateInput {
  domain: string;
  selector: string;
  bits: KeyBits;
  usernames: string[];
  reason: string | null;
  ticket: string | null;
  testing: boolean;
}

export interface RequestService {
  create(input: CreateRequestInput): Promise<CreatedRequest>;
  /** Every problem `create` would refuse the input for, without generating a key. */
  findInputProblems(input: CreateRequestInput): InputProblem[];
  attachMessage(id: string, channelId: string, messageTs: string): Promise<DkimRequest>;
  approve(id: string, input: { actorId: string; fingerprintShown: string }): Promise<DkimRequest>;
  reject(id: string, input: { actorId: string; reason?: string | undefined }): Promise<DkimRequest>;
  cancel(id: string, input: { actorId: string }): Promise<DkimRequest>;
  apply(id: string): Promise<DkimRequest>;
  retry(id: string, input: { actorId: string }): Promise<DkimRequest>;
  expire(): Promise<DkimRequest[]>;
  resumeInterrupted(): Promise<DkimRequest[]>;
  /**
   * For a clean shutdown: no apply starts another API call from now on, and this resolves
   * once the calls in flight have finished and been recorded. A request left in `applying`
   * goes on from there at the next start (resumeInterrupted).
   */
  stop(): Promise<void>;
  recordDnsCheck(id: string): Promise<DnsCheckOutcome>;
  checkPending(): Promise<DnsCheckOutcome[]>;
  get(id: string): Promise<DkimRequest | undefined>;
  list(filter?: RequestFilter): Promise<DkimRequest[]>;
  listByDomain(domain: string): Promise<DkimRequest[]>;
  listEvents(requestId: string): Promise<AuditEvent[]>;
  listEventsByDomain(domain: string): Promise<AuditEvent[]>;
  /**
   * Events stored but not yet told (the process died, or Slack failed, before the thread
   * reply was posted), oldest first, each with its request as it is now.
   */
  listUndeliveredEvents(): Promise<Array<{ event: AuditEvent; request: DkimRequest }>>;
  /** The event has been told (or has nothing to tell): it is not offered again. */
  markEventDelivered(eventId: number): Promise<void>;
}

const MAX_REASON = 500;
const MAX_TICKET = 100;
const DAY_MS = 24 * 60 * 60 * 1000;

/** The record as the UI shows it: name, value, and the value split into quoted-string pieces. */
export function recordToPublish(request: DkimRequest): RecordToPublish {
  return {
    name: recordNameOf(request),
    value: request.recordValue,
    strings: splitIntoStrings(request.recordValue),
  };
}

export function createRequestService(deps: RequestServiceDeps): RequestService {
  const { store, dkimApi, policy } = deps;
  const clock = deps.clock ?? (() => new Date());
  const generate = deps.generateKeyPair ?? generateRealKeyPair;
  const defaultBits: KeyBits = deps.defaultBits ?? 2048;
  const logger = deps.logger ?? silentLogger;
  /** One apply per request per process, whoever asks (approve, retry, resume). */
  const applies = new Map<string, Promise<DkimRequest>>();
  let stopping = false;

  const now = (): string => clock().toISOString();

  function requireRequest(id: string): DkimRequest {
    const request = store.get(id);
    if (request === undefined) throw requestNotFound(id);
    return request;
  }

  function emit(event: AuditEvent | null, request: DkimRequest): void {
    if (event === null || deps.onEvent === undefined) return;
    const report = (error: unknown): void =>
      logger.warn("An audit event listener failed; the request goes on.", {
        requestId: request.id,
        kind: event.kind,
        error: describeFailure(error),
      });
    try {
      const result = deps.onEvent(event, request);
      if (result instanceof Promise) result.catch(report);
    } catch (error) {
      report(error);
    }
  }

  function emitChange(change: StoredChange): DkimRequest {
    emit(change.event, change.request);
    return change.request;
  }

  // --- create -----------------------------------------------------------------------------

  /**
   * Everything a person typed, checked before any key exists. Every field is checked, so a
   * form can show all of its problems at once; `valid` is set only when there are none.
   */
  function checkCreateInput(input: CreateRequestInput): {
    valid: ValidCreateInput | undefined;
    problems: InputError[];
  } {
    const problems: InputError[] = [];
    const attempt = <T>(check: () => T): T | undefined => {
      try {
        return check();
      } catch (error) {
        if (!(error instanceof InputError)) throw error;
        problems.push(error);
        return undefined;
      }
    };
    const domain = attempt(() => normaliseDomain(input.domain));
    const selector = attempt(() =>
      input.selector === undefined || input.selector.trim() === ""
        ? defaultSelector(clock())
        : normaliseSelector(input.selector),
    );
    if (domain !== undefined && selector !== undefined) {
      attempt(() => checkedDkimRecordName(selector, domain));
    }
    const bits = input.bits ?? defaultBits;
    if (!isKeyBits(bits)) {
      problems.push(
        new InputError(
          "bits",
          `bits ${JSON.stringify(bits)}: choose a key size of 1024, 2048 (advised) or 4096 bits`,
        ),
      );
    }
    const typedUsers = (input.usernames ?? []).map((user) => attempt(() => validateUsername(user)));
    const reason = attempt(() => optionalText("reason", input.reason, MAX_REASON));
    const ticket = attempt(() => optionalText("ticket", input.ticket, MAX_TICKET));
    if (input.requesterId.trim() === "") {
      problems.push(new InputError("requester", "the request has no requester"));
    }
    if (input.channelId.trim() === "") {
      problems.push(new InputError("channel", "the request has no channel"));
    }
    if (
      problems.length > 0 ||
      domain === undefined ||
      selector === undefined ||
      !isKeyBits(bits) ||
      reason === undefined ||
      ticket === undefined
    ) {
      return { valid: undefined, problems };
    }
    const users = typedUsers.filter((user): user is string => user !== undefined);
    const usernames = users.length === 0 ? [domain] : [...new Set(users)];
    return {
      valid: { domain, selector, bits, usernames, reason, ticket, testing: input.testing === true },
      problems,
    };
  }

  function validateCreateInput(input: CreateRequestInput): ValidCreateInput {
    const { valid, problems } = checkCreateInput(input);
    const [first] = problems;
    if (first !== undefined) throw first;
    if (valid === undefined) throw new Error("unreachable: no problems but no valid input");
    return valid;
  }

  /** For forms: every input problem, and a clash with an open request, without making a key. */
  function findInputProblems(input: CreateRequestInput): InputProblem[] {
    const { valid, problems } = checkCreateInput(input);
    const found = problems.map((problem) => ({ field: problem.field, message: problem.message }));
    if (valid !== undefined) {
      const existing = store.findOpen(valid.domain, valid.selector);
      if (existing !== undefined) {
        found.push({ field: "selector", message: new RequestConflictError(existing).message });
      }
    }
    return found;
  }

  async function create(input: CreateRequestInput): Promise<CreatedRequest> {
    const valid = validateCreateInput(input);
    // Checked before the (slow) key generation; the store's unique index settles any race.
    const existing = store.findOpen(valid.domain, valid.selector);
    if (existing !== undefined) throw new RequestConflictError(existing);

    const keyPair = await generate(valid.bits);
    const at = now();
    const request: DkimRequest = {
      id: newRequestId(),
      ...valid,
      requesterId: input.requesterId,
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
    const event = store.insert(request, keyPair.privateKeyPem, {
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
    });
    emit(event, request);
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
      const request = requireRequest(id);
      const change = store.update({
        id,
        whileState: request.state,
        at: now(),
        changes: { channelId, messageTs },
      });
      if (change !== undefined) return change.request;
    }
    throw new CodedError(
      "REQUEST_CONFLICT",
      `Request ${id} kept changing; post its message again.`,
    );
  }

  // --- refusals -----------------------------------------------------------------------------

  function refuse(
    code: "APPROVAL_REFUSED" | "NOT_ALLOWED",
    reason: ConstructorParameters<typeof ActionRefusedError>[1],
    request: DkimRequest,
    message: string,
  ): ActionRefusedError {
    logger.info("Refused an action on a DKIM request.", { requestId: request.id, reason });
    return new ActionRefusedError(code, reason, request.id, message);
  }

  function alreadyHandled(
    code: "APPROVAL_REFUSED" | "NOT_ALLOWED",
    request: DkimRequest,
  ): ActionRefusedError {
    return refuse(code, "already-handled", request, describeHandled(request, policy.ttlDays));
  }

  /** Refuses anyone not in DKIM_APPROVERS; `verb` finishes "Only … can <verb>". */
  async function requireApprover(
    code: "APPROVAL_REFUSED" | "NOT_ALLOWED",
    request: DkimRequest,
    actorId: string,
    verb: string,
    alsoAllowed?: string,
  ): Promise<string> {
    const verdict = await checkApprover(policy, actorId, deps.isMemberOfGroup);
    if (verdict.allowed) return verdict.via;
    if (approverUsers(policy).length + approverGroups(policy).length === 0) {
      throw refuse(
        code,
        "not-approver",
        request,
        `Nobody can ${verb}: DKIM_APPROVERS lists no user or user group. Ask whoever runs dkim-bot to set it.`,
      );
    }
    if (verdict.lookupFailedFor.length > 0) {
      const groups = joinWithOr(verdict.lookupFailedFor.map((id) => `<!subteam^${id}>`));
      throw refuse(
        code,
        "approver-lookup-failed",
        request,
        `Could not check whether you are a member of ${groups}, which may ${verb}. Try again in a moment.`,
      );
    }
    const who = alsoAllowed === undefined ? "" : `${alsoAllowed} or `;
    throw refuse(
      code,
      "not-approver",
      request,
      `Only ${who}${describeApprovers(policy)} can ${verb}: ask one of them.`,
    );
  }

  // --- DNS ----------------------------------------------------------------------------------

  async function runDnsCheck(request: DkimRequest): Promise<DnsCheckOutcome> {
    const result = await checkDnsSafely(request);
    const stored: StoredDnsCheck = {
      status: result.status,
      problemCode: result.problems[0]?.code ?? null,
      summary: result.summary,
      checkedAt: now(),
    };
    const previous = request.lastDnsCheck;
    const changed =
      previous === null ||
      previous.status !== stored.status ||
      previous.problemCode !== stored.problemCode;
    const event: EventInput | undefined = changed
      ? {
          actorId: SYSTEM_ACTOR,
          kind: result.status === "live" ? "dns-live" : "dns-problem",
          details: {
            status: result.status,
            problem: stored.problemCode,
            matches: result.matches,
            summary: redactSecrets(result.summary),
          },
        }
      : undefined;
    const change = store.update({
      id: request.id,
      whileState: request.state,
      // Another check (a second click, the watcher) stored first: its verdict and event stand.
      whileLastDnsCheck: previous,
      at: stored.checkedAt,
      changes: { lastDnsCheck: stored },
      ...(event === undefined ? {} : { event }),
    });
    if (change === undefined) {
      // The request moved on meanwhile (or another check stored first); the verdict still
      // answers the person who asked.
      return { request: requireRequest(request.id), result, event: null };
    }
    emitChange(change);
    return { request: change.request, result, event: change.event };
  }

  /** A resolver that throws is a failed lookup, not a crash of the approval. */
  async function checkDnsSafely(request: DkimRequest): Promise<DkimCheckResult> {
    try {
      return await deps.checkDns(request.domain, request.selector, {
        publicKeyBase64: request.publicKeyBase64,
        testing: request.testing,
      });
    } catch (error) {
      const message = `The DNS lookup failed (${describeFailure(error)}); try again in a moment.`;
      return {
        name: recordNameOf(request),
        status: "lookup-failed",
        matches: null,
        problems: [{ code: "lookup-error", severity: "error", message }],
        published: [],
        summary: message,
      };
    }
  }

  async function recordDnsCheck(id: string): Promise<DnsCheckOutcome> {
    return runDnsCheck(requireRequest(id));
  }

  async function checkPending(): Promise<DnsCheckOutcome[]> {
    const outcomes: DnsCheckOutcome[] = [];
    for (const request of store.list({ states: ["pending"] })) {
      try {
        outcomes.push(await runDnsCheck(request));
      } catch (error) {
        logger.warn("Checking DNS for a pending request failed.", {
          requestId: request.id,
          error: describeFailure(error),
        });
      }
    }
    return outcomes;
  }

  // --- approve, reject, cancel ---------------------------------------------------------------

  async function approve(
    id: string,
    input: { actorId: string; fingerprintShown: string },
  ): Promise<DkimRequest> {
    const request = requireRequest(id);
    const via = await requireApprover(
      "APPROVAL_REFUSED",
      request,
      input.actorId,
      "approve DKIM requests",
    );
    if (request.state !== "pending") throw alreadyHandled("APPROVAL_REFUSED", request);
    if (input.actorId === request.requesterId && !policy.allowSelfApproval) {
      throw refuse(
        "APPROVAL_REFUSED",
        "self-approval",
        request,
        "You asked for this request, so another approver must approve it (DKIM_ALLOW_SELF_APPROVAL is off).",
      );
    }
    if (input.fingerprintShown.trim() !== request.fingerprint) {
      throw refuse(
        "APPROVAL_REFUSED",
        "fingerprint-mismatch",
        request,
        `The key you were shown (${input.fingerprintShown.trim() || "none"}) is not this request's key (${request.fingerprint}). Look at the request message again and approve from there.`,
      );
    }
    let dnsSummary: string | null = null;
    if (policy.requireDns) {
      const { result } = await runDnsCheck(request);
      if (!isLiveAndMatching(result)) {
        throw refuse(
          "APPROVAL_REFUSED",
          "dns-not-ready",
          request,
          `The DNS record ${recordNameOf(request)} is not ready: ${result.summary} Approve again once it is live and matches the key (Check DNS shows its state).`,
        );
      }
      dnsSummary = result.summary;
    }
    decide(id, "applying", input.actorId, "APPROVAL_REFUSED", {
      kind: "approved",
      details: { fingerprint: request.fingerprint, via, dns: dnsSummary },
    });
    return apply(id);
  }

  async function reject(
    id: string,
    input: { actorId: string; reason?: string | undefined },
  ): Promise<DkimRequest> {
    const reason = optionalText("reason", input.reason, MAX_REASON);
    const request = requireRequest(id);
    // The requester may withdraw their own request this way too: the request message has
    // Reject but no Cancel button, and the event records who it was.
    if (input.actorId !== request.requesterId) {
      await requireApprover(
        "NOT_ALLOWED",
        request,
        input.actorId,
        "reject this request",
        `<@${request.requesterId}> (who asked for it)`,
      );
    }
    return decide(
      id,
      "rejected",
      input.actorId,
      "NOT_ALLOWED",
      { kind: "rejected", details: { reason } },
      { rejectReason: reason },
    );
  }

  async function cancel(id: string, input: { actorId: string }): Promise<DkimRequest> {
    const request = requireRequest(id);
    if (input.actorId !== request.requesterId) {
      throw refuse(
        "NOT_ALLOWED",
        "not-requester",
        request,
        `Only <@${request.requesterId}>, who asked for this request, can cancel it; an approver can reject it instead.`,
      );
    }
    return decide(id, "cancelled", input.actorId, "NOT_ALLOWED", {
      kind: "cancelled",
      details: {},
    });
  }

  /**
   * A person's decision on a pending request: one atomic move out of `pending` that records
   * who decided and when. Whoever comes second (another click, another replica) is told who
   * handled it.
   */
  function decide(
    id: string,
    to: "applying" | "rejected" | "cancelled",
    actorId: string,
    refusalCode: "APPROVAL_REFUSED" | "NOT_ALLOWED",
    event: Omit<EventInput, "actorId">,
    changes: RequestChanges = {},
  ): DkimRequest {
    const at = now();
    const change = store.transition({
      id,
      from: "pending",
      to,
      at,
      changes: { decidedBy: actorId, decidedAt: at, ...changes },
      event: { actorId, ...event },
    });
    if (change === undefined) throw alreadyHandled(refusalCode, requireRequest(id));
    return emitChange(change);
  }

  // --- apply, retry, resume ------------------------------------------------------------------

  function apply(id: string): Promise<DkimRequest> {
    const running = applies.get(id);
    if (running !== undefined) return running;
    const run = runApply(id).finally(() => applies.delete(id));
    applies.set(id, run);
    return run;
  }

  /**
   * certificate, then one selector per username, each recorded as soon as it succeeds, so a
   * retry or a restart continues where this stopped. Any failure moves the request to
   * `failed` with the API's own text and keeps the sealed key for the retry.
   */
  async function runApply(id: string): Promise<DkimRequest> {
    let request = requireRequest(id);
    if (request.state !== "applying") {
      throw new CodedError(
        "NOT_ALLOWED",
        `Request ${id} is ${request.state}, not being applied: nothing to do.`,
      );
    }
    let step = "certificate";
    let call: DkimApiCall = "api_set_dkim_certificate";
    let username: string | null = null;
    try {
      if (stopping) return request;
      if (!request.progress.certificateInstalled) {
        const result = await installCertificate(request);
        const change = store.update({
          id,
          whileState: "applying",
          at: now(),
          changes: { progress: { ...request.progress, certificateInstalled: true } },
          event: {
            actorId: SYSTEM_ACTOR,
            kind: "certificate-installed",
            details: apiDetails(result),
          },
        });
        if (change === undefined) return requireRequest(id);
        request = emitChange(change);
      }
      for (const user of request.usernames) {
        if (request.progress.enabledUsernames.includes(user)) continue;
        if (stopping) return request;
        step = `selector for ${user}`;
        call = "api_set_dkim_selector";
        username = user;
        const result = await dkimApi.setDkimSelector(request.domain, request.selector, user);
        const enabledUsernames = [...request.progress.enabledUsernames, user];
        const change = store.update({
          id,
          whileState: "applying",
          at: now(),
          changes: { progress: { ...request.progress, enabledUsernames } },
          event: {
            actorId: SYSTEM_ACTOR,
            kind: "selector-enabled",
            details: { username: user, ...apiDetails(result) },
          },
        });
        if (change === undefined) return requireRequest(id);
        request = emitChange(change);
      }
      const change = store.transition({
        id,
        from: "applying",
        to: "active",
        at: now(),
        changes: { lastError: null },
        event: {
          actorId: SYSTEM_ACTOR,
          kind: "active",
          details: { usernames: request.usernames, dryRun: dkimApi.dryRun },
        },
      });
      return change === undefined ? requireRequest(id) : emitChange(change);
    } catch (error) {
      const message = describeFailure(error);
      logger.warn("Applying a DKIM request failed; it can be retried.", {
        requestId: id,
        step,
        error: message,
      });
      const change = store.transition({
        id,
        from: "applying",
        to: "failed",
        at: now(),
        changes: { lastError: message },
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
      });
      return change === undefined ? requireRequest(id) : emitChange(change);
    }
  }

  /** The only place the private key is unsealed; it lives for the duration of one call. */
  async function installCertificate(request: DkimRequest): Promise<DkimApiResult> {
    const privateKeyPem = store.readPrivateKey(request.id);
    if (privateKeyPem === undefined) {
      throw new CodedError(
        "SEALING_FAILED",
        `The private key of request ${request.id} is no longer stored, so it cannot be installed. Create a new request.`,
      );
    }
    return dkimApi.setDkimCertificate(request.domain, request.selector, privateKeyPem);
  }

  async function retry(id: string, input: { actorId: string }): Promise<DkimRequest> {
    const request = requireRequest(id);
    await requireApprover("NOT_ALLOWED", request, input.actorId, "retry DKIM requests");
    if (request.state !== "failed") throw alreadyHandled("NOT_ALLOWED", request);
    const change = store.transition({
      id,
      from: "failed",
      to: "applying",
      at: now(),
      changes: { lastError: null },
      event: {
        actorId: input.actorId,
        kind: "retried",
        details: { previousError: request.lastError },
      },
    });
    if (change === undefined) throw alreadyHandled("NOT_ALLOWED", requireRequest(id));
    emitChange(change);
    return apply(id);
  }

  async function resumeInterrupted(): Promise<DkimRequest[]> {
    const resumed: DkimRequest[] = [];
    for (const request of store.list({ states: ["applying"] })) {
      try {
        const event = store.appendEvent({
          requestId: request.id,
          at: now(),
          actorId: SYSTEM_ACTOR,
          kind: "resumed",
          details: {
            certificateInstalled: request.progress.certificateInstalled,
            enabledUsernames: request.progress.enabledUsernames,
          },
        });
        emit(event, request);
        resumed.push(await apply(request.id));
      } catch (error) {
        logger.error("Could not resume an interrupted DKIM request.", {
          requestId: request.id,
          error: describeFailure(error),
        });
      }
    }
    return resumed;
  }

  async function expire(): Promise<DkimRequest[]> {
    const at = clock();
    const cutoff = new Date(at.getTime() - policy.ttlDays * DAY_MS).toISOString();
    const expired: DkimRequest[] = [];
    for (const request of store.list({ states: ["pending"], createdBefore: cutoff })) {
      const change = store.transition({
        id: request.id,
        from: "pending",
        to: "expired",
        at: at.toISOString(),
        changes: { decidedBy: SYSTEM_ACTOR, decidedAt: at.toISOString() },
        event: { actorId: SYSTEM_ACTOR, kind: "expired", details: { ttlDays: policy.ttlDays } },
      });
      if (change !== undefined) expired.push(emitChange(change));
    }
    return expired;
  }

  return {
    create,
    findInputProblems,
    attachMessage,
    approve,
    reject,
    cancel,
    apply,
    retry,
    expire,
    resumeInterrupted,
    async stop() {
      stopping = true;
      await Promise.allSettled([...applies.values()]);
    },
    recordDnsCheck,
    checkPending,
    get: async (id) => store.get(id),
    list: async (filter) => store.list(filter),
    listByDomain: async (domain) => store.list({ domain: normaliseDomain(domain) }),
    listEvents: async (requestId) => store.listEvents(requestId),
    listEventsByDomain: async (domain) => store.listEventsByDomain(normaliseDomain(domain)),
    listUndeliveredEvents: async () =>
      store.listUndeliveredEvents().flatMap((event) => {
        const request = store.get(event.requestId);
        return request === undefined ? [] : [{ event, request }];
      }),
    markEventDelivered: async (eventId) => store.markEventDelivered(eventId, now()),
  };
}

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

function optionalText(field: string, value: string | undefined, max: number): string | null {
  const text = value?.trim() ?? "";
  if (text === "") return null;
  if (text.length > max) {
    throw new InputError(field, `${field} is ${text.length} characters long; keep it to ${max}`);
  }
  return text;
}

/** "2026-11-26 13:20 UTC": plain text, as requests/ knows nothing of Slack's date tokens. */
export function formatTime(iso: string | null): string {
  if (iso === null) return "an unknown time";
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** The sentence for someone who acts on a request that is no longer waiting for them. */
export function describeHandled(request: DkimRequest, ttlDays: number): string {
  const by = request.decidedBy === null ? "someone" : `<@${request.decidedBy}>`;
  const when = formatTime(request.decidedAt);
  switch (request.state) {
    case "pending":
      return "This request is still waiting for approval: there is nothing to retry.";
    case "applying":
      return `Already approved by ${by} at ${when}; it is being applied now.`;
    case "active":
      return `Already approved by ${by} at ${when} and applied: DKIM is active.`;
    case "failed":
      return `Already approved by ${by} at ${when}, but applying it failed (${request.lastError ?? "no details"}). An approver can retry it.`;
    case "rejected":
      return `Already rejected by ${by} at ${when}${request.rejectReason === null ? "" : ` (${request.rejectReason})`}.`;
    case "cancelled":
      return `Already cancelled by ${by} at ${when}.`;
    case "expired":
      return `This request expired at ${when}: nobody approved it within ${ttlDays} days. Create a new request.`;
  }
}
