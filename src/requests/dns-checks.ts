/**
 * DNS checks of a request's record: on a click (Check DNS), before an approval, and by the
 * DNS watcher for every pending request. The verdict is stored; the thread hears of it only
 * when it changed (status or first problem), and two checks racing tell it once.
 */
import type { DkimCheckResult, ExpectedKey } from "../dkim/check.js";
import { requireSameWorkspace } from "./authorization.js";
import type { RequestsContext } from "./context.js";
import { dnsRound } from "./dns-round.js";
import {
  type Actor,
  type AuditEvent,
  type AuditEventKind,
  type DkimRequest,
  recordNameOf,
  type StoredDnsCheck,
  SYSTEM_ACTOR,
} from "./model.js";
import { requestsInPages } from "./paged-reads.js";
import { describeFailure, redactSecrets } from "./redact.js";
import { MONITORED_STATES } from "./state-machine.js";
import type { EventInput, RequestStore, VerdictWrite } from "./store.js";

export type CheckDns = (
  domain: string,
  selector: string,
  expected: ExpectedKey,
) => Promise<DkimCheckResult>;

export interface DnsCheckOutcome {
  request: DkimRequest;
  result: DkimCheckResult;
  /** The stored event when the status or first problem changed since the last check. */
  event: AuditEvent | null;
}

/**
 * Verdicts that tell nothing new, stored `size` at a time in one transaction
 * (store.recordVerdicts) instead of one transaction each: monitoring's 10,000 keys a cycle.
 */
export interface VerdictBatch {
  /** Queues a verdict; the call that fills the batch stores it (and waits for that). */
  add(write: VerdictWrite): Promise<void>;
  /** Stores what is queued. */
  flush(): Promise<void>;
}

export const VERDICT_BATCH = 64;

export function createVerdictBatch(
  store: Pick<RequestStore, "recordVerdicts">,
  size = VERDICT_BATCH,
): VerdictBatch {
  let queued: VerdictWrite[] = [];
  async function flush(): Promise<void> {
    const writes = queued;
    queued = [];
    await store.recordVerdicts(writes);
  }
  return {
    async add(write) {
      queued.push(write);
      if (queued.length >= size) await flush();
    },
    flush,
  };
}

export interface DnsChecks {
  /**
   * Checks now and stores the verdict (the request as it is in the store). With `batch`, a
   * verdict that tells nothing new is queued there instead, and the request is returned as
   * it was.
   */
  check(request: DkimRequest, options?: { batch?: VerdictBatch }): Promise<DnsCheckOutcome>;
  /** Looks the record up and judges it, storing nothing (a lookup that throws is a verdict too). */
  lookup(request: DkimRequest): Promise<DkimCheckResult>;
  /** A person's Check DNS (from the request's workspace). */
  recordDnsCheck(id: string, actor?: Actor): Promise<DnsCheckOutcome>;
  /**
   * Every pending request, read a page at a time and checked a few at once (a DNS round); one
   * failing does not stop the others.
   */
  checkPending(): Promise<DnsCheckOutcome[]>;
}

export function createDnsChecks(ctx: RequestsContext, checkDns: CheckDns): DnsChecks {
  const { store } = ctx;

  async function check(
    request: DkimRequest,
    options: { batch?: VerdictBatch } = {},
  ): Promise<DnsCheckOutcome> {
    const result = await checkSafely(request);
    const stored: StoredDnsCheck = {
      status: result.status,
      problemCode: result.problems[0]?.code ?? null,
      summary: result.summary,
      checkedAt: ctx.now(),
    };
    const previous = request.lastDnsCheck;
    const monitored = MONITORED_STATES.includes(request.state);
    // A key that signs is judged by its record; when our own lookup fails, nothing is known
    // about the record, so the verdict (and the alert) waits for an answer.
    if (monitored && result.status === "lookup-failed") {
      return { request, result, event: null };
    }
    // A fresh record not published yet is what everyone expects: stored, but no news (the
    // first round over thousands of new requests must not redraw thousands of cards).
    const firstMissing = previous === null && stored.status === "missing";
    const changed =
      !firstMissing &&
      (previous === null ||
        previous.status !== stored.status ||
        previous.problemCode !== stored.problemCode);
    const kind = changed ? eventKindOf(monitored, result.status, previous) : undefined;
    const event: EventInput | undefined =
      kind === undefined
        ? undefined
        : {
            actorId: SYSTEM_ACTOR,
            kind,
            details: {
              // The approvers hear "ready to approve" once per request, not each time a record
              // that went away comes back.
              ...(kind === "dns-live" && !monitored
                ? { firstLive: !(await wasLiveBefore(request.id)) }
                : {}),
              status: result.status,
              // The verdict before: the thread tells a record that went away, not one never there.
              previous: previous?.status ?? null,
              problem: stored.problemCode,
              matches: result.matches,
              summary: redactSecrets(result.summary),
              message: redactSecrets(result.problems[0]?.message ?? ""),
            },
          };
    if (event === undefined && options.batch !== undefined) {
      await options.batch.add({
        id: request.id,
        whileState: request.state,
        whileLastDnsCheck: previous,
        lastDnsCheck: stored,
        at: stored.checkedAt,
      });
      return { request, result, event: null };
    }
    const change = await store.update({
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
      return { request: await ctx.requireRequest(request.id), result, event: null };
    }
    ctx.emitChange(change);
    return { request: change.request, result, event: change.event };
  }

  async function wasLiveBefore(requestId: string): Promise<boolean> {
    return (await store.listEvents(requestId)).some((event) => event.kind === "dns-live");
  }

  /** A resolver that throws is a failed lookup, not a crash of the approval. */
  async function checkSafely(request: DkimRequest): Promise<DkimCheckResult> {
    try {
      return await checkDns(request.domain, request.selector, {
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

  async function checkPending(): Promise<DnsCheckOutcome[]> {
    const outcomes: DnsCheckOutcome[] = [];
    const report = await dnsRound(requestsInPages(store, ["pending"]), async (request) => {
      try {
        const outcome = await check(request);
        outcomes.push(outcome);
        return outcome.result;
      } catch (error) {
        ctx.logger.warn("Checking DNS for a pending request failed.", {
          requestId: request.id,
          error: describeFailure(error),
        });
        return undefined;
      }
    });
    if (report.stoppedEarly) {
      ctx.logger.warn("No DNS resolver answered; the rest of the round waits for the next one.", {
        checked: report.done,
        skipped: report.skipped,
      });
    }
    return outcomes;
  }

  return {
    check,
    lookup: checkSafely,
    async recordDnsCheck(id, actor) {
      const request = await ctx.requireRequest(id);
      if (actor !== undefined) requireSameWorkspace(ctx, "NOT_ALLOWED", request, actor);
      return check(request);
    },
    checkPending,
  };
}

/**
 * Pending keys: the record turned live, or something is wrong. Keys that sign (active,
 * retiring): their record broke (mail fails DKIM), or came back.
 */
function eventKindOf(
  monitored: boolean,
  status: DkimCheckResult["status"],
  previous: StoredDnsCheck | null,
): AuditEventKind {
  if (!monitored) return status === "live" ? "dns-live" : "dns-problem";
  if (status === "live")
    return previous === null || previous.status === "live" ? "dns-live" : "monitor-recovered";
  return "monitor-problem";
}
