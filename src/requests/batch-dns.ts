/**
 * Check DNS on a batch card: every pending request's record looked up now (the single case's
 * check, so each verdict is stored and a change is told as usual, folded into the card), in a
 * bounded round; the person who clicked gets the tally.
 */
import type { DkimCheckStatus } from "../dkim/check.js";
import { requireSameWorkspace } from "./authorization.js";
import type { LeftOut } from "./batch.js";
import type { BatchWrites } from "./batch-store-writes.js";
import type { RequestsContext } from "./context.js";
import type { DnsChecks } from "./dns-checks.js";
import { dnsRound } from "./dns-round.js";
import type { Actor } from "./model.js";
import { describeFailure } from "./redact.js";

export interface BatchDnsReport {
  checked: number;
  /** Pending requests by verdict. */
  counts: Record<DkimCheckStatus, number>;
  /** What is wrong with the records that are not live, in the DNS check's words. */
  problems: LeftOut[];
  /** No resolver answered: the rest were not checked. */
  stoppedEarly: boolean;
}

export function createBatchDnsCheck(ctx: RequestsContext, dns: DnsChecks, writes: BatchWrites) {
  return async function checkBatchDns(batchId: string, actor: Actor): Promise<BatchDnsReport> {
    const batch = await writes.require(batchId);
    requireSameWorkspace(ctx, "NOT_ALLOWED", batch, actor);
    const pending = await ctx.store.list({ batchId, states: ["pending"] });
    const report: BatchDnsReport = {
      checked: 0,
      counts: { live: 0, missing: 0, wrong: 0, "lookup-failed": 0 },
      problems: [],
      stoppedEarly: false,
    };
    const round = await dnsRound(pending, async (request) => {
      try {
        const { result } = await dns.check(request);
        report.checked += 1;
        report.counts[result.status] += 1;
        if (result.status === "wrong") {
          report.problems.push({ domain: request.domain, reason: result.summary });
        }
        return result;
      } catch (error) {
        ctx.logger.warn("Checking DNS for a batch's request failed.", {
          requestId: request.id,
          error: describeFailure(error),
        });
        return undefined;
      }
    });
    report.stoppedEarly = round.stoppedEarly;
    return report;
  };
}
