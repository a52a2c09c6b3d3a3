/**
 * The replies in a batch card's thread: one per step, never one per domain. The records (a
 * zone-file fragment and a CSV, with the domains that were not set up and why), "every record
 * is live" (the approvers mentioned, so they are notified), an expiry reminder, and one
 * summary per run (approve all, retry failed, reject all, cancel): what it did, what failed in
 * the API's words with Retry failed (N), and what it left out and why.
 */
import type { KnownBlock } from "@slack/types";
import { recordsCsv, zoneFileFragment } from "../../dkim/record-export.js";
import { type Batch, type BatchRun, failedMembers, type LeftOut } from "../../requests/batch.js";
import { type DkimRequest, recordNameOf } from "../../requests/model.js";
import type { FileToUpload } from "../upload-file.js";
import { plural, retryFailedButton } from "./batch-card.js";
import {
  actorText,
  approversText,
  clip,
  codeBlock,
  escapeText,
  quoteLines,
  type SlackMessage,
  section,
  slackTime,
  userMention,
  utcText,
} from "./format.js";
import { BLOCK_IDS } from "./ids.js";

export interface BatchReplyOptions {
  dryRun: boolean;
  approvers?: readonly string[] | undefined;
}

/** Domains a list names before "and N more" (the CSV and /dkim status have the rest). */
const LISTED = 10;
const MAX_REASON = 300;

// ---- the records -------------------------------------------------------------------------

/** Members in the order the domains were given. */
function inPlanOrder(batch: Batch, members: readonly DkimRequest[]): DkimRequest[] {
  const order = new Map(batch.planned.map((planned, index) => [planned.domain, index]));
  return [...members].sort(
    (a, b) => (order.get(a.domain) ?? Number.MAX_SAFE_INTEGER) - (order.get(b.domain) ?? 0),
  );
}

/** Every record of the batch, as a BIND zone-file fragment and as a CSV. */
export function recordFiles(
  batch: Batch,
  members: readonly DkimRequest[],
  now: Date,
): FileToUpload[] {
  const records = inPlanOrder(batch, members).map((member) => ({
    name: recordNameOf(member),
    value: member.recordValue,
  }));
  const heading = [
    `DKIM records of dkim-bot batch ${batch.id}: ${plural(records.length, "TXT record")}, ${utcText(now)}.`,
    "Publish each in its domain's zone. Values are split into strings of at most 255 characters.",
  ];
  return [
    {
      filename: `dkim-records-${batch.id}.zone`,
      title: `DKIM records (BIND zone file), batch ${batch.id}`,
      content: zoneFileFragment(records, { heading }),
    },
    {
      filename: `dkim-records-${batch.id}.csv`,
      title: `DKIM records (CSV), batch ${batch.id}`,
      content: recordsCsv(records),
    },
  ];
}

/** The comment posted with the files: what they are, and who does what. */
export function recordsComment(
  batch: Batch,
  members: readonly DkimRequest[],
  options: BatchReplyOptions,
): string {
  const approvers =
    options.approvers === undefined || options.approvers.length === 0
      ? "an approver"
      : approversText(options.approvers);
  const lines = [
    `:clipboard: *The ${plural(members.length, "TXT record")} of this batch*, attached as a BIND zone-file fragment and a CSV (name, type, value, split value), to import in one go or hand to whoever runs your DNS.`,
    `${userMention(batch.requesterId)}: publish them. ${approvers}: approve with *Approve all live* on the card once they are live.`,
  ];
  return lines.join("\n");
}

/**
 * Slack refused the files (its error code): what to fix, and the zone-file fragment as text
 * instead, in code blocks of a few records each, so the DNS team is not held up.
 */
export function recordsRefusedReplies(code: string, zoneFile: string): SlackMessage[] {
  const fix =
    code === "missing_scope" || code === "not_allowed_token_type"
      ? "the app lacks the files:write scope: add it (manifest.yml has it) and reinstall the app"
      : "see the bot's log";
  const head = `:warning: *Could not attach the records as files* (Slack said \`${escapeText(code)}\`): ${fix}. Here they are as text (BIND zone-file lines):`;
  const chunks: string[] = [];
  let current = "";
  for (const line of zoneFile.trimEnd().split("\n")) {
    if (current !== "" && current.length + line.length + 1 > 2800) {
      chunks.push(current);
      current = "";
    }
    current = current === "" ? line : `${current}\n${line}`;
  }
  if (current !== "") chunks.push(current);
  return [
    { text: head, blocks: [section(head)] },
    ...chunks.map((chunk) => ({ text: "DKIM records", blocks: [section(codeBlock(chunk))] })),
  ];
}

/** The domains that were not set up, and why: the first reply, as soon as the card is up. */
export function checkedReply(batch: Batch): SlackMessage {
  const invalid = listOf("Not valid", batch.invalid);
  const skipped = listOf("Left alone", batch.skipped);
  const head = `:no_entry_sign: *Not set up*: ${plural(batch.invalid.length + batch.skipped.length, "domain")} of the ${batch.input.domains.length} asked; the others go on.`;
  const blocks: KnownBlock[] = [section(head)];
  if (invalid.length > 0) blocks.push(section(invalid.join("\n")));
  if (skipped.length > 0) blocks.push(section(skipped.join("\n")));
  return { text: head, blocks };
}

/**
 * "*Not valid* (2):" and one line per domain with its reason, the first few; when domains share
 * a reason (a hundred records not published yet), one line per reason naming its domains.
 */
export function listOf(title: string, entries: readonly LeftOut[]): string[] {
  if (entries.length === 0) return [];
  const byReason = new Map<string, string[]>();
  for (const entry of entries) {
    byReason.set(entry.reason, [...(byReason.get(entry.reason) ?? []), entry.domain]);
  }
  const lines =
    byReason.size === entries.length
      ? entries
          .slice(0, LISTED)
          .map(
            (entry) =>
              `• *${escapeText(clip(entry.domain, 80))}*: ${escapeText(clip(entry.reason, MAX_REASON))}`,
          )
      : [...byReason.entries()]
          .slice(0, LISTED)
          .map(
            ([reason, domains]) =>
              `• ${escapeText(clip(reason, MAX_REASON))} (${domains.length}): ${domainsText(domains)}`,
          );
  const shown = byReason.size === entries.length ? entries.length : byReason.size;
  const more = shown > LISTED ? [`…and ${shown - LISTED} more.`] : [];
  return [`*${title}* (${entries.length}):`, ...lines, ...more];
}

/** "*a.example*, *b.example* and 31 more". */
function domainsText(domains: readonly string[]): string {
  const named = domains
    .slice(0, DOMAINS_NAMED)
    .map((domain) => `*${escapeText(clip(domain, 80))}*`);
  const more = domains.length - named.length;
  return more > 0 ? `${named.join(", ")} and ${more} more` : named.join(", ");
}

/** Domains a grouped line names before "and N more". */
const DOMAINS_NAMED = 8;

// ---- once-only news ----------------------------------------------------------------------

/** Every record is live and matches: the approvers are mentioned, so Slack notifies them. */
export function allLiveReply(count: number, options: BatchReplyOptions): SlackMessage {
  const who =
    options.approvers === undefined || options.approvers.length === 0
      ? "Approvers"
      : approversText(options.approvers);
  const text = `:white_check_mark: *Every record of this batch is live and matches* (${count}).\n${who}: you can approve them now with *Approve all live (${count})* on the card.`;
  return { text, blocks: [section(text)] };
}

/** Requests of the batch expire soon (told once): who can still act. */
export function expiryReply(
  batch: Batch,
  expiresAt: string | undefined,
  pending: number,
  options: BatchReplyOptions,
): SlackMessage {
  const approvers =
    options.approvers === undefined || options.approvers.length === 0
      ? "An approver"
      : approversText(options.approvers);
  const when = expiresAt === undefined ? "soon" : slackTime(expiresAt);
  const text = `:alarm_clock: *${plural(pending, "request")} of this batch expire ${when}* unless approved; then their keys are erased and they must be asked for again.\n${userMention(batch.requesterId)}: publish what is missing (or Cancel). ${approvers}: approve what is live.`;
  return { text, blocks: [section(text)] };
}

// ---- a run's summary -----------------------------------------------------------------------

/**
 * One reply for one run, once it is done. `retryButton`: the run's failed requests can still
 * be retried from here (the notifier redraws it without once they cannot).
 */
export function runReply(
  batch: Batch,
  run: BatchRun,
  members: readonly DkimRequest[],
  options: BatchReplyOptions & { retryButton: boolean },
): SlackMessage {
  const byId = new Map(members.map((member) => [member.id, member]));
  const items = run.items.map((item) => byId.get(item.requestId)).filter(isDefined);
  const lines = [headOf(run, items.length, options)];
  const blocks: KnownBlock[] = [];
  if (run.kind === "approve" || run.kind === "retry") {
    const active = items.filter((member) =>
      ["active", "retiring", "retired"].includes(member.state),
    );
    const failed = failedMembers(items);
    const results = [
      active.length > 0
        ? options.dryRun
          ? `${active.length} done (DRY RUN: nothing was changed on the cluster)`
          : `${active.length} active`
        : "",
      failed.length > 0 ? `${failed.length} failed` : "",
    ].filter((part) => part !== "");
    if (results.length > 0) lines.push(`Now: ${results.join(" · ")}.`);
    blocks.push(section(lines.join("\n")));
    if (failed.length > 0) blocks.push(section(failuresText(failed)));
  } else {
    blocks.push(section(lines.join("\n")));
  }
  const refused = listOf("Not done", run.refused);
  if (refused.length > 0) blocks.push(section(refused.join("\n")));
  const leftOut = listOf("Left out", run.leftOut);
  if (leftOut.length > 0) blocks.push(section(leftOut.join("\n")));
  const stillFailed = failedMembers(members);
  if (options.retryButton && stillFailed.length > 0) {
    blocks.push({
      type: "actions",
      block_id: BLOCK_IDS.batchRunActions,
      elements: [retryFailedButton(batch, stillFailed)],
    });
  }
  return { text: lines[0] ?? "", blocks };
}

function headOf(run: BatchRun, count: number, options: BatchReplyOptions): string {
  const by = actorText(run.actorId);
  const n = plural(count, "request");
  const dry = options.dryRun ? " (DRY RUN)" : "";
  switch (run.kind) {
    case "approve":
      return `:+1: *Approved*${dry} by ${by}: ${n}, applied at most a few at a time.`;
    case "retry":
      return `:repeat: *Retried*${dry} by ${by}: ${n}, each from the step that failed.`;
    case "reject": {
      const reason = run.reason === null ? "" : `\n${quoteLines(clip(run.reason, 500))}`;
      return `:no_entry: *Rejected* by ${by}: ${n}; their keys are erased.${reason}`;
    }
    case "cancel":
      return `:heavy_multiplication_x: *Cancelled* by ${by}: ${n}; their keys are erased.`;
  }
}

/**
 * The failed requests with the API's own words (their last error), grouped by those words: a
 * hundred domains the cluster does not know make one quote and a list of names.
 */
function failuresText(failed: readonly DkimRequest[]): string {
  const byError = new Map<string, string[]>();
  for (const member of failed) {
    const error = member.lastError ?? "";
    byError.set(error, [...(byError.get(error) ?? []), member.domain]);
  }
  const shown = [...byError.entries()].slice(0, LISTED).map(([error, domains]) => {
    const said = error === "" ? "" : `\n${quoteLines(clip(error, 300))}`;
    return `• ${domainsText(domains)}${said}`;
  });
  const more =
    byError.size > LISTED
      ? [`…and ${byError.size - LISTED} more errors (\`/dkim status failed\`).`]
      : [];
  const text = [
    `:x: *Failed* (${failed.length}): fix the cause, then click *Retry failed (${failed.length})*: each goes on from the step that failed.`,
    ...shown,
    ...more,
  ].join("\n");
  // A section holds 3,000 characters: the list is cut at a line, not in a word.
  return text.length <= 2900 ? text : `${text.slice(0, text.lastIndexOf("\n", 2900))}\n…`;
}

function isDefined<T>(value: T | undefined): value is T {
  return value !== undefined;
}
