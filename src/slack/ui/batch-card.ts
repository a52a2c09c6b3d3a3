/**
 * The batch card: one message in the channel for a bulk setup (design.md flow 8). Who asked,
 * how many domains, where they stand (keys being made, DNS, the apply's progress), who acts
 * next (the approvers, mentioned), a compact table of domain, selector and state, and the
 * buttons that act on the whole batch. Redrawn as the batch moves, at most once a second.
 *
 * A table row per domain fits a hundred domains in a few blocks; past the budget the rest are
 * summarised by state (every row is in the CSV in the thread), so the card stays within
 * Slack's 50 blocks and 3,000 characters per section at any DKIM_BATCH_MAX.
 */
import type { Button, KnownBlock } from "@slack/types";
import {
  type Batch,
  type BatchTally,
  digestOf,
  failedMembers,
  liveMembers,
  runningRun,
  runProgressOf,
  tallyOf,
} from "../../requests/batch.js";
import type { DkimRequest } from "../../requests/model.js";
import {
  approversSubject,
  approversText,
  button,
  clip,
  context,
  escapeCode,
  escapeText,
  LIMITS,
  plainText,
  type SlackMessage,
  section,
  slackTime,
  userMention,
} from "./format.js";
import { ACTION_IDS, BLOCK_IDS, encodeBatchValue } from "./ids.js";

export interface BatchCardOptions {
  dryRun: boolean;
  /** DKIM_APPROVERS: named (mentioned) on the card, as the single card does. */
  approvers?: readonly string[] | undefined;
  /** The card is posted late (the bot stopped before it could): when it was asked for. */
  delayedSince?: string | undefined;
}

export const BATCH_DRY_RUN_NOTICE =
  "*DRY RUN*: no SpamExperts cluster is configured; Approve all live goes through every step without calling it, and nothing is signed.";

/** Characters of table the card shows at most; past it the rest is summarised. */
export const TABLE_BUDGET = 12_000;
/** Blocks kept for everything but the table (headline, notices, buttons, footer). */
const OTHER_BLOCKS = 8;
const DOMAIN_WIDTH = 40;
const SELECTOR_WIDTH = 16;
/** Left-out domains named on the card; the thread lists them all. */
const LEFT_OUT_SHOWN = 5;

export function batchCard(
  batch: Batch,
  members: readonly DkimRequest[],
  options: BatchCardOptions,
): SlackMessage {
  const tally = tallyOf(batch, members);
  const blocks: KnownBlock[] = [section(headText(batch, members, tally, options))];
  if (options.dryRun) blocks.push(context(`:construction: ${BATCH_DRY_RUN_NOTICE}`));
  const leftOut = leftOutText(batch);
  if (leftOut !== undefined) blocks.push(context(leftOut));
  blocks.push(...tableBlocks(batch, members, options));
  const buttons = buttonsFor(batch, members, tally, options);
  if (buttons.length > 0) {
    blocks.push({ type: "actions", block_id: BLOCK_IDS.batchActions, elements: buttons });
  }
  if (options.delayedSince !== undefined) {
    blocks.push(
      context(
        `:hourglass: Posted late: asked for ${slackTime(options.delayedSince)}; the bot stopped before it could post this card.`,
      ),
    );
  }
  blocks.push(
    context(
      `Batch \`${escapeText(batch.id)}\` · asked by ${userMention(batch.requesterId)} · created ${slackTime(batch.createdAt)}`,
    ),
  );
  return { text: fallbackText(batch, tally, options), blocks };
}

/** Headline, where the batch stands, and who acts next. */
function headText(
  batch: Batch,
  members: readonly DkimRequest[],
  tally: BatchTally,
  options: BatchCardOptions,
): string {
  const asked = batch.input.domains.length;
  const of = asked === tally.planned ? "" : ` (of ${asked} asked)`;
  const lines = [
    `:package: *DKIM for ${plural(tally.planned, "domain")}*${of} · asked by ${userMention(batch.requesterId)}`,
  ];
  const counts = countsText(tally, options.dryRun);
  if (counts !== "") lines.push(counts);
  const run = runningRun(batch);
  if (tally.making > 0) {
    lines.push(
      `:gear: *Making keys*: ${tally.planned - tally.making} of ${tally.planned} made. The records follow in the thread (zone file and CSV) once every key is made.`,
    );
  }
  if (run !== undefined) {
    lines.push(runLine(run, members));
  } else {
    lines.push(...nextLines(batch, tally, options));
  }
  return lines.join("\n");
}

function countsText(tally: BatchTally, dryRun: boolean): string {
  const parts: string[] = [];
  if (tally.pending > 0) {
    const live = tally.live > 0 ? ` (${tally.live} live)` : "";
    parts.push(`:hourglass_flowing_sand: ${tally.pending} waiting for DNS and approval${live}`);
  }
  if (tally.applying > 0) parts.push(`:gear: ${tally.applying} applying`);
  if (tally.active > 0) {
    parts.push(
      dryRun
        ? `:white_check_mark: ${tally.active} done (DRY RUN: nothing is signed)`
        : `:white_check_mark: ${tally.active} active`,
    );
  }
  if (tally.failed > 0) parts.push(`:x: ${tally.failed} failed`);
  if (tally.ended > 0) parts.push(`:heavy_multiplication_x: ${tally.ended} ended`);
  return parts.join(" · ");
}

function runLine(run: NonNullable<ReturnType<typeof runningRun>>, members: readonly DkimRequest[]) {
  const progress = runProgressOf(run, members);
  const by = userMention(run.actorId);
  switch (run.kind) {
    case "approve":
    case "retry":
      return `:gear: *${run.kind === "approve" ? "Applying" : "Retrying"}* (${run.kind === "approve" ? "approved" : "asked"} by ${by}): ${progress.done} done · ${progress.failed} failed · ${progress.toGo} to go`;
    case "reject":
      return `:no_entry: *Rejecting* (by ${by}): ${progress.done} of ${run.items.length} done`;
    case "cancel":
      return `:heavy_multiplication_x: *Cancelling* (by ${by}): ${progress.done} of ${run.items.length} done`;
  }
}

function nextLines(batch: Batch, tally: BatchTally, options: BatchCardOptions): string[] {
  const approvers =
    options.approvers === undefined || options.approvers.length === 0
      ? "an approver"
      : approversSubject(options.approvers);
  const lines: string[] = [];
  const unpublished = tally.pending - tally.live;
  if (tally.making === 0 && unpublished > 0) {
    lines.push(
      `*Next:* ${userMention(batch.requesterId)} publishes ${plural(unpublished, "TXT record")} (the zone file and the CSV in the thread have them all), then ${approvers} clicks *Approve all live*.`,
    );
  } else if (tally.live > 0) {
    lines.push(`*Next:* ${approvers} clicks *Approve all live (${tally.live})*.`);
  }
  if (tally.failed > 0) {
    lines.push(
      `*Failed:* fix the cause (the thread has the API's words), then ${approvers} clicks *Retry failed (${tally.failed})*.`,
    );
  }
  return lines;
}

/** Domains that were not set up, by count, the first few named (the thread has them all). */
function leftOutText(batch: Batch): string | undefined {
  const all = [...batch.invalid, ...batch.skipped];
  if (all.length === 0) return undefined;
  const named = all
    .slice(0, LEFT_OUT_SHOWN)
    .map((each) => `*${escapeText(clip(each.domain, 60))}*`)
    .join(", ");
  const more = all.length > LEFT_OUT_SHOWN ? ` and ${all.length - LEFT_OUT_SHOWN} more` : "";
  const counts = [
    batch.invalid.length > 0 ? `${batch.invalid.length} not valid` : "",
    batch.skipped.length > 0 ? `${batch.skipped.length} left alone` : "",
  ]
    .filter((part) => part !== "")
    .join(", ");
  return `:no_entry_sign: *Not set up* (${counts}): ${named}${more}. The thread says why.`;
}

// ---- the table ---------------------------------------------------------------------------

/** The row's state in a word or two (a code block shows no emoji). */
export function rowState(member: DkimRequest | undefined, dryRun: boolean): string {
  if (member === undefined) return "key being made";
  const publishing = member.publication;
  switch (member.state) {
    case "pending":
      if (publishing?.state.startsWith("failed") && member.lastDnsCheck?.status !== "live") {
        return "bot could not publish";
      }
      switch (member.lastDnsCheck?.status) {
        case undefined:
          return publishing === null ? "not checked yet" : "bot publishes it";
        case "live":
          return "live";
        case "missing":
          return "not published";
        case "wrong":
          return "wrong record";
        case "lookup-failed":
          return "lookup failed";
      }
      return "pending";
    case "active":
      return dryRun ? "done (dry run)" : "active";
    default:
      return member.state;
  }
}

function tableBlocks(
  batch: Batch,
  members: readonly DkimRequest[],
  options: BatchCardOptions,
): KnownBlock[] {
  if (batch.planned.length === 0) return [];
  const byDomain = new Map(members.map((member) => [member.domain, member]));
  const rows = batch.planned.map((planned) => ({
    domain: planned.domain,
    selector: byDomain.get(planned.domain)?.selector ?? planned.selector,
    state: rowState(byDomain.get(planned.domain), options.dryRun),
  }));
  const domainWidth = Math.min(DOMAIN_WIDTH, Math.max(6, ...rows.map((row) => row.domain.length)));
  const selectorWidth = Math.min(
    SELECTOR_WIDTH,
    Math.max(8, ...rows.map((row) => row.selector.length)),
  );
  const line = (domain: string, selector: string, state: string) =>
    `${pad(domain, domainWidth)}  ${pad(selector, selectorWidth)}  ${state}`.trimEnd();
  const header = line("domain", "selector", "state");

  const blocks: KnownBlock[] = [];
  const maxSections = LIMITS.blocksPerMessage - OTHER_BLOCKS;
  let used = 0;
  let current = header;
  let shown = 0;
  for (const row of rows) {
    const text = line(row.domain, row.selector, row.state);
    if (used + current.length + text.length + 1 > TABLE_BUDGET) break;
    // A section holds 3,000 characters, the fences included.
    if (current.length + text.length + 1 > SECTION_ROOM) {
      if (blocks.length + 1 >= maxSections) break;
      blocks.push(codeSection(current));
      used += current.length;
      current = text;
    } else {
      current = `${current}\n${text}`;
    }
    shown += 1;
  }
  blocks.push(codeSection(current));
  if (shown < rows.length) {
    const rest = rows.slice(shown);
    const byState = new Map<string, number>();
    for (const row of rest) byState.set(row.state, (byState.get(row.state) ?? 0) + 1);
    const summary = [...byState.entries()].map(([state, n]) => `${n} ${state}`).join(", ");
    blocks.push(
      context(
        `…and ${plural(rest.length, "more domain")} (${summary}). Every row is in the CSV in the thread.`,
      ),
    );
  }
  return blocks;
}

/** Room for a table's text in one section: 3,000 characters less the fences and a margin. */
const SECTION_ROOM = LIMITS.sectionText - 100;

function codeSection(text: string): KnownBlock {
  return section(`\`\`\`${escapeCode(text)}\`\`\``);
}

function pad(text: string, width: number): string {
  const clipped = clip(text, width);
  return clipped + " ".repeat(Math.max(0, width - clipped.length));
}

// ---- the buttons -------------------------------------------------------------------------

function buttonsFor(
  batch: Batch,
  members: readonly DkimRequest[],
  tally: BatchTally,
  options: BatchCardOptions,
): Button[] {
  const value = encodeBatchValue({ batchId: batch.id });
  const buttons: Button[] = [];
  if (tally.pending > 0) buttons.push(button("Check DNS", ACTION_IDS.batchCheckDns, value));
  // While a run goes on, its progress is on the card; another click would only be refused.
  if (runningRun(batch) !== undefined) return buttons;
  const live = liveMembers(members);
  if (live.length > 0) {
    buttons.push({
      ...button(
        `Approve all live (${live.length})`,
        ACTION_IDS.batchApproveLive,
        encodeBatchValue({ batchId: batch.id, digest: digestOf(batch, live) }),
      ),
      style: "primary",
      confirm: confirmOf(
        `Approve ${plural(live.length, "DKIM key")}?`,
        options.dryRun
          ? `DRY RUN: this goes through the steps for the ${plural(live.length, "domain")} whose record is live, without calling SpamExperts; nothing is signed.`
          : `This installs the ${plural(live.length, "key")} whose record is live and matches on the SpamExperts cluster and enables signing for each domain.`,
        "Approve",
      ),
    });
  }
  const failed = failedMembers(members);
  if (failed.length > 0) {
    buttons.push(retryFailedButton(batch, failed));
  }
  if (tally.pending + tally.failed > 0) {
    buttons.push({
      ...button("Reject all", ACTION_IDS.batchRejectAll, value),
      style: "danger",
    });
    // The requester's own way out, as on a single card.
    buttons.push(button("Cancel", ACTION_IDS.batchCancel, value));
  }
  return buttons;
}

/** Retry failed (N): on the card and on the summary reply of the run that failed them. */
export function retryFailedButton(
  batch: Pick<Batch, "id" | "runs">,
  failed: DkimRequest[],
): Button {
  return {
    ...button(
      `Retry failed (${failed.length})`,
      ACTION_IDS.batchRetryFailed,
      encodeBatchValue({ batchId: batch.id, digest: digestOf(batch, failed) }),
    ),
    style: "primary",
  };
}

function confirmOf(title: string, text: string, confirm: string) {
  return {
    title: plainText(title, LIMITS.confirmTitle),
    text: { type: "mrkdwn" as const, text: clip(text, LIMITS.confirmText) },
    confirm: plainText(confirm, 30),
    deny: plainText("Back", 30),
  };
}

/** What a notification shows; mentions the approvers while something waits for them. */
function fallbackText(batch: Batch, tally: BatchTally, options: BatchCardOptions): string {
  const domains = plural(tally.planned, "domain");
  const approval =
    options.approvers === undefined || options.approvers.length === 0
      ? "approve"
      : `approval by ${approversText(options.approvers)}`;
  const text =
    tally.pending + tally.making > 0
      ? `DKIM for ${domains} requested by ${userMention(batch.requesterId)}: publish the TXT records, then ${approval}`
      : `DKIM for ${domains}: ${countsText(tally, options.dryRun).replace(/:[a-z_]+: /g, "")}`;
  return options.dryRun ? `DRY RUN: ${text}` : text;
}

export function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}
