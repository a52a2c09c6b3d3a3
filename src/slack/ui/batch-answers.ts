/**
 * What the person who clicked a batch card's button hears at once (only they see it): what the
 * click started, what it left out and why, or the DNS tally. The thread gets the summary once
 * the run is done.
 */
import type { BatchDnsReport, RunStarted } from "../../requests/service.js";
import { plural } from "./batch-card.js";
import { listOf } from "./batch-thread.js";

export function runStartedText(started: RunStarted): string {
  const n = plural(started.run.items.length, "request");
  const head = (() => {
    switch (started.run.kind) {
      case "approve":
        return `Approving ${n} of this batch, a few at a time: the card shows the progress, and its thread gets the summary.`;
      case "retry":
        return `Retrying ${n} of this batch, each from the step that failed: the card shows the progress.`;
      case "reject":
        return `Rejecting ${n} of this batch: the reason goes in its thread.`;
      case "cancel":
        return `Cancelling ${n} of this batch.`;
    }
  })();
  return [head, ...listOf("Left out", started.run.leftOut)].join("\n");
}

export function dnsCheckedText(report: BatchDnsReport): string {
  if (report.checked === 0 && !report.stoppedEarly) {
    return "Nothing to check: no request of this batch is waiting for DNS.";
  }
  const parts = [
    report.counts.live > 0 ? `${report.counts.live} live and matching` : "",
    report.counts.missing > 0 ? `${report.counts.missing} not published yet` : "",
    report.counts.wrong > 0 ? `${report.counts.wrong} wrong` : "",
    report.counts["lookup-failed"] > 0 ? `${report.counts["lookup-failed"]} not answered` : "",
  ].filter((part) => part !== "");
  const lines = [`Checked ${plural(report.checked, "record")}: ${parts.join(", ")}.`];
  lines.push(...listOf("Wrong", report.problems));
  if (report.stoppedEarly) {
    lines.push(
      "No DNS resolver answered, so the rest were not checked: check DKIM_DNS_SERVERS, then click Check DNS again.",
    );
  }
  return lines.join("\n");
}
