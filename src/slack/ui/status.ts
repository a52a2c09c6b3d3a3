/**
 * `/dkim status [<domain> | open | active | failed]`: the requests that match, one line each,
 * linked to their card, the most relevant first; and when some are not shown, how many and how
 * to see them. Which requests, in which order and how many is the caller's (the store's) to
 * decide: this draws what it is given.
 */
import type { KnownBlock } from "@slack/types";
import type { DkimRequest } from "../../requests/model.js";
import { isOpenState } from "../../requests/state-machine.js";
import { DNS_STATUS_EMOJI, DNS_WORDS } from "./dns-status.js";
import {
  ageText,
  clip,
  context,
  escapeText,
  inlineCode,
  LIMITS,
  linkedText,
  packedSections,
  type SlackMessage,
  section,
} from "./format.js";
import { stateBadge } from "./state-badge.js";

export interface StatusEntry {
  request: DkimRequest;
  /** chat.getPermalink of the request message, when it could be had. */
  permalink?: string;
}

/** What was asked for: everything, one kind of request, or one domain. */
export type StatusFilter =
  | { kind: "all" }
  | { kind: "open" }
  | { kind: "active" }
  | { kind: "failed" }
  | { kind: "domain"; domain: string };

/**
 * The answer's input, as the command gathers it:
 * - `entries`: the requests to show, in the order to show them (open ones first, then the
 *   most recent); each costs a permalink call, so the caller fetches only a page.
 * - `shown`: how many of `entries` to show (default: all of them; at most MAX_LINES are).
 * - `total`: how many requests match `filter` in all, so the answer can say how many it left out.
 * - `filter`: what was asked for, to word the heading and the hint.
 */
export interface StatusInput {
  entries: ReadonlyArray<StatusEntry>;
  shown?: number;
  total: number;
  /** The count stopped at `total` (a fleet's requests are not all counted): "N+" then. */
  totalCapped?: boolean;
  filter: StatusFilter;
}

export interface StatusOptions {
  now: Date;
  command?: string;
}

/** Lines shown at most: the message must stay within Slack's block limits. */
export const MAX_LINES = 60;

export function statusAnswer(input: StatusInput, options: StatusOptions): SlackMessage {
  const command = options.command ?? "/dkim";
  const { filter } = input;
  const shown = input.entries.slice(0, Math.min(input.shown ?? input.entries.length, MAX_LINES));
  const total = Math.max(input.total, shown.length);
  if (shown.length === 0) {
    const text = nothingText(filter, command, total);
    return { text, blocks: [section(text)] };
  }

  const open = shown.filter((entry) => isOpenState(entry.request.state));
  const recent = shown.filter((entry) => !isOpenState(entry.request.state));
  const plus = input.totalCapped === true ? "+" : "";
  const count =
    total === shown.length && plus === "" ? `${total}` : `${shown.length} of ${total}${plus}`;
  const blocks: KnownBlock[] = [section(`*DKIM requests*${scopeText(filter)} · ${count}`)];
  if (open.length > 0) blocks.push(...group("Open", open, options.now));
  if (recent.length > 0) blocks.push(...group("Recent", recent, options.now));
  if (total > shown.length || plus !== "") {
    blocks.push(context(moreText(filter, command, total - shown.length, plus)));
  }
  const summary = `DKIM requests${plainScope(filter)}: ${open.length} open, ${recent.length} recent${total > shown.length ? `, ${total - shown.length} not shown` : ""}`;
  return { text: summary, blocks: blocks.slice(0, LIMITS.blocksPerMessage) };
}

function scopeText(filter: StatusFilter): string {
  switch (filter.kind) {
    case "all":
      return "";
    case "domain":
      return ` for *${escapeText(clip(filter.domain, 120))}*`;
    default:
      return ` · ${filter.kind}`;
  }
}

function plainScope(filter: StatusFilter): string {
  switch (filter.kind) {
    case "all":
      return "";
    case "domain":
      return ` for ${escapeText(clip(filter.domain, 120))}`;
    default:
      return ` (${filter.kind})`;
  }
}

function nothingText(filter: StatusFilter, command: string, total: number): string {
  const start = inlineCode(
    `${command} setup ${filter.kind === "domain" ? filter.domain : "<domain>"}`,
  );
  switch (filter.kind) {
    case "all":
      return `No DKIM requests yet. Start one with ${start}.`;
    case "domain":
      return `No DKIM requests for *${escapeText(clip(filter.domain, 120))}* yet. Start one with ${start}.`;
    default:
      return `No ${filter.kind} DKIM requests${total > 0 ? " on this page" : ""}. All of them: ${inlineCode(`${command} status`)}.`;
  }
}

/** How many were left out, and the filters that show them. */
function moreText(filter: StatusFilter, command: string, more: number, plus = ""): string {
  const status = (what: string) => inlineCode(`${command} status ${what}`);
  const left = `${more}${plus} older ${more === 1 && plus === "" ? "one" : "ones"} not shown.`;
  switch (filter.kind) {
    case "domain":
      return left;
    case "all":
      return `${left} Narrow it down: ${status("open")}, ${status("failed")}, ${status("active")} or ${status("<domain>")}.`;
    default:
      return `${left} Narrow it down: ${status("<domain>")}.`;
  }
}

/** A heading, then the lines packed into as few sections as the text limit allows. */
function group(title: string, entries: ReadonlyArray<StatusEntry>, now: Date): KnownBlock[] {
  return packedSections(
    `*${title}*`,
    entries.map((entry) => statusLine(entry, now)),
  );
}

/**
 * When monitoring last looked at a signing (or retiring) key's record: " (checked 3 h ago)".
 * A pending request's DNS is checked every few minutes, so its time would only be noise.
 */
function monitoredWhen(request: DkimRequest, now: Date): string {
  const checkedAt = request.lastDnsCheck?.checkedAt;
  if (checkedAt === undefined || (request.state !== "active" && request.state !== "retiring")) {
    return "";
  }
  const age = ageText(checkedAt, now);
  return age === "" ? "" : ` (checked ${age})`;
}

/** A link to a batch's card, or only that the request is in one when there is no safe link. */
function batchCardText(permalink: string | undefined): string {
  const link = linkedText(permalink, "batch card");
  return link === "batch card" ? "in a batch" : link;
}

/**
 * `• *example.com* `s202611` · :gear: Applying · DNS: :white_check_mark: live · 3 h ago`, the
 * age linked to the card, as Slack links a message's time to the message; a request made in a
 * batch ends with a link to the batch card instead.
 */
export function statusLine(entry: StatusEntry, now: Date): string {
  const { request, permalink } = entry;
  const dns = request.lastDnsCheck;
  const age = ageText(request.createdAt, now);
  // A batch's request has no card of its own: the link goes to the batch card, and says so.
  const inBatch = request.batchId !== null;
  const linked = inBatch ? age : linkedText(permalink, age);
  const parts = [
    `• *${escapeText(clip(request.domain, 120))}* ${inlineCode(clip(request.selector, 63))}`,
    stateBadge(request.state),
    dns === null
      ? "DNS: not checked"
      : `DNS: ${DNS_STATUS_EMOJI[dns.status]} ${DNS_WORDS[dns.status]}${monitoredWhen(request, now)}`,
    linked,
    inBatch ? batchCardText(permalink) : "",
  ];
  return clip(parts.filter((part) => part !== "").join(" · "), 900);
}
