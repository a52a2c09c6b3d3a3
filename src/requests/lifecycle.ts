/**
 * After Active: the periodic care of keys that sign. Each call is one idempotent cycle (run
 * by the scheduler on one replica at a time); what was told is an event in the store, so a
 * restart neither repeats nor skips a notice.
 *
 * - monitor: every active and retiring key's record is checked, with bounded DNS concurrency;
 *   a change of verdict is one event (dns-checks.ts), which the Slack layer tells in the
 *   key's thread and in the alert channel.
 * - retirement: once a retiring key's overlap is over, one "retire-due" notice (remove the
 *   record or publish the revoked value), then the key is retired as soon as DNS shows its
 *   record gone, revoked or replaced; an approver may also mark it retired.
 * - reminders: a key older than DKIM_ROTATE_AFTER_DAYS gets one "rotation-due" notice, again
 *   every 30 days while it stays, none while a rotation of its domain is under way.
 */
import type { DkimCheckResult } from "../dkim/check.js";
import { alreadyHandled, requireApprover, requireSameWorkspace } from "./authorization.js";
import type { RequestsContext } from "./context.js";
import { createVerdictBatch, type DnsChecks, type VerdictBatch } from "./dns-checks.js";
import { dnsRound } from "./dns-round.js";
import { type Actor, type AuditEvent, type DkimRequest, SYSTEM_ACTOR } from "./model.js";
import { READ_PAGE, requestsInPages } from "./paged-reads.js";
import { describeFailure } from "./redact.js";
import { MONITORED_STATES } from "./state-machine.js";
import type { HomeSection } from "./store.js";

/** The value that revokes an RSA key (RFC 6376 3.6.1: an empty p=). */
export const REVOKED_VALUE = "v=DKIM1; k=rsa; p=";

const DAY_MS = 24 * 60 * 60 * 1000;

export interface MonitorReport {
  checked: number;
  problems: number;
  retired: number;
  /** Lookups that got no answer (the resolvers, not the records): verdicts left as they were. */
  unanswered: number;
  /** Keys left for the next cycle: no resolver answered this one. */
  skipped: number;
}

export interface Lifecycle {
  monitor(): Promise<MonitorReport>;
  remindRotations(): Promise<DkimRequest[]>;
  /** An approver says the old record is gone or revoked: the retiring key is retired. */
  markRetired(id: string, actor: Actor): Promise<DkimRequest>;
}

export function createLifecycle(ctx: RequestsContext, dns: DnsChecks): Lifecycle {
  const { store, logger } = ctx;

  async function monitor(): Promise<MonitorReport> {
    const report: MonitorReport = {
      checked: 0,
      problems: 0,
      retired: 0,
      unanswered: 0,
      skipped: 0,
    };
    const batch = createVerdictBatch(store);
    const round = await dnsRound(requestsInPages(store, MONITORED_STATES), async (key) => {
      try {
        return await careFor(key, report, batch);
      } catch (error) {
        logger.warn("Monitoring a DKIM key failed; it is checked again next cycle.", {
          requestId: key.id,
          error: describeFailure(error),
        });
        return undefined;
      }
    });
    try {
      await batch.flush();
    } catch (error) {
      logger.warn("Storing monitoring verdicts failed; they are checked again next cycle.", {
        error: describeFailure(error),
      });
    }
    if (round.stoppedEarly) {
      // The keys no worker took: every monitored key but those checked (the pages were not
      // read further).
      const counts = await store.countByState(MONITORED_STATES);
      const total = MONITORED_STATES.reduce((sum, state) => sum + (counts[state] ?? 0), 0);
      report.skipped = Math.max(round.skipped, total - report.checked);
    }
    if (round.stoppedEarly) {
      logger.warn("No DNS resolver answered; monitoring waits for the next cycle.", {
        checked: report.checked,
        skipped: round.skipped,
      });
    } else if (report.unanswered > 0) {
      logger.warn("DNS lookups got no answer during monitoring; those verdicts were kept.", {
        unanswered: report.unanswered,
        checked: report.checked,
      });
    }
    return report;
  }

  async function careFor(
    key: DkimRequest,
    report: MonitorReport,
    batch: VerdictBatch,
  ): Promise<DkimCheckResult> {
    report.checked++;
    if (key.state === "retiring" && isPast(key.retireAfter)) {
      // The overlap is over: the record going is what is asked now, not a problem.
      await tellRetireDue(key);
      const result = await dns.lookup(key);
      if (result.status === "lookup-failed") {
        report.unanswered++;
      } else if (isGone(result)) {
        if (await retire(key, SYSTEM_ACTOR, result.summary)) report.retired++;
      }
      return result;
    }
    // An unchanged verdict is stored with others (one transaction per batch, not per key).
    const { result } = await dns.check(key, { batch });
    if (result.status === "lookup-failed") report.unanswered++;
    else if (result.status !== "live") report.problems++;
    return result;
  }

  /** The old key can no longer verify anything: no record, the revoked value, or another key. */
  function isGone(result: DkimCheckResult): boolean {
    return (
      result.status === "missing" ||
      result.problems.some(
        (problem) => problem.code === "revoked" || problem.code === "different-key",
      )
    );
  }

  function isPast(iso: string | null): boolean {
    return iso !== null && Date.parse(iso) <= ctx.clock().getTime();
  }

  /** Once per retiring key: the overlap is over, the record may go. */
  async function tellRetireDue(key: DkimRequest): Promise<void> {
    if ((await lastEventOf(key.id, "retire-due")) !== undefined) return;
    const event = await store.appendEvent({
      requestId: key.id,
      at: ctx.now(),
      actorId: SYSTEM_ACTOR,
      kind: "retire-due",
      details: { revokedValue: REVOKED_VALUE, retireAfter: key.retireAfter },
    });
    ctx.emit(event, key);
  }

  async function retire(key: DkimRequest, actorId: string, dnsSummary: string | null) {
    const at = ctx.now();
    const change = await store.transition({
      id: key.id,
      from: "retiring",
      to: "retired",
      at,
      changes: { retiredAt: at, retiredBy: actorId },
      event: { actorId, kind: "retired", details: { dns: dnsSummary } },
    });
    if (change === undefined) return undefined;
    return ctx.emitChange(change);
  }

  async function markRetired(id: string, actor: Actor): Promise<DkimRequest> {
    const key = await ctx.requireRequest(id);
    requireSameWorkspace(ctx, "NOT_ALLOWED", key, actor);
    await requireApprover(ctx, "NOT_ALLOWED", key, actor.actorId, "mark old keys retired");
    if (key.state !== "retiring") throw alreadyHandled(ctx, "NOT_ALLOWED", key);
    const retired = await retire(key, actor.actorId, null);
    if (retired === undefined)
      throw alreadyHandled(ctx, "NOT_ALLOWED", await ctx.requireRequest(id));
    return retired;
  }

  async function remindRotations(): Promise<DkimRequest[]> {
    const { rotateAfterDays, remindEveryDays } = ctx.lifecycle;
    if (rotateAfterDays <= 0) return [];
    const now = ctx.clock().getTime();
    const reminded: DkimRequest[] = [];
    // The keys due as Home lists them, less those reminded within DKIM_REMIND_EVERY_DAYS: one
    // query a page, not the whole fleet nor a query per key. A key reminded drops out of the
    // next page's query, so the pages need no cursor.
    const due: HomeSection = {
      kind: "rotation-due",
      activatedBefore: new Date(now - rotateAfterDays * DAY_MS).toISOString(),
      notRemindedSince: new Date(now - remindEveryDays * DAY_MS).toISOString(),
    };
    for (;;) {
      const page = await store.listHomeSection(due, READ_PAGE);
      for (const key of page) {
        const since = Date.parse(key.activatedAt ?? key.decidedAt ?? key.createdAt);
        const event = await store.appendEvent({
          requestId: key.id,
          at: ctx.now(),
          actorId: SYSTEM_ACTOR,
          kind: "rotation-due",
          details: { ageDays: Math.floor((now - since) / DAY_MS), rotateAfterDays },
        });
        ctx.emit(event, key);
        reminded.push(key);
      }
      if (page.length < READ_PAGE) return reminded;
    }
  }

  async function lastEventOf(
    requestId: string,
    kind: AuditEvent["kind"],
  ): Promise<AuditEvent | undefined> {
    return (await store.listEvents(requestId)).filter((event) => event.kind === kind).at(-1);
  }

  return { monitor, remindRotations, markRetired };
}
