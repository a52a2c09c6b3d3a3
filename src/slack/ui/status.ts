/**
 * `/dkim status [domain]`: open and recent requests, one line each, linked to their message.
 */
import type { KnownBlock } from "@slack/types";
import type { DkimRequest } from "../../requests/model.js";
import { isOpenState } from "../../requests/state-machine.js";
import { dnsStatusText } from "./dns-status.js";
import {
  ageText,
  clip,
  context,
  escapeText,
  inlineCode,
  LIMITS,
  type SlackMessage,
  section,
} from "./format.js";
import { stateBadge } from "./state-badge.js";

export interface StatusEntry {
  request: DkimRequest;
  /** chat.getPermalink of the request message, when it could be had. */
  permalink?: string;
}

export interface StatusOptions {
  domain?: string;
  now: Date;
  command?: string;
}

/** Lines shown at most: the message must stay within Slack's block limits. */
const MAX_LINES = 60;

export function statusMessage(
  entries: ReadonlyArray<StatusEntry>,
  options: StatusOptions,
): SlackMessage {
  const command = options.command ?? "/dkim";
  const scope = options.domain === undefined ? "" : ` for *${escapeText(options.domain)}*`;
  if (entries.length === 0) {
    const text = `No DKIM requests${scope} yet. Start one with ${inlineCode(`${command} setup ${options.domain ?? "<domain>"}`)}.`;
    return { text, blocks: [section(text)] };
  }

  const shown = entries.slice(0, MAX_LINES);
  const open = shown.filter((entry) => isOpenState(entry.request.state));
  const recent = shown.filter((entry) => !isOpenState(entry.request.state));
  const blocks: KnownBlock[] = [section(`*DKIM requests*${scope}`)];
  if (open.length > 0) blocks.push(...group("Open", open, options.now));
  if (recent.length > 0) blocks.push(...group("Recent", recent, options.now));
  if (entries.length > shown.length) {
    blocks.push(
      context(
        `${entries.length - shown.length} more not shown. Narrow it down with ${inlineCode(`${command} status <domain>`)}.`,
      ),
    );
  }
  const summary = `DKIM requests${options.domain === undefined ? "" : ` for ${options.domain}`}: ${open.length} open, ${recent.length} recent`;
  return { text: summary, blocks: blocks.slice(0, LIMITS.blocksPerMessage) };
}

/** A heading, then the lines packed into as few sections as the text limit allows. */
function group(title: string, entries: ReadonlyArray<StatusEntry>, now: Date): KnownBlock[] {
  const blocks: KnownBlock[] = [];
  let text = `*${title}*`;
  for (const entry of entries) {
    const line = statusLine(entry, now);
    if (text.length + 1 + line.length > LIMITS.sectionText) {
      blocks.push(section(text));
      text = line;
    } else {
      text = `${text}\n${line}`;
    }
  }
  blocks.push(section(text));
  return blocks;
}

/** `• example.com s202611 · :gear: Applying · DNS … · 3 h ago · request message` */
export function statusLine(entry: StatusEntry, now: Date): string {
  const { request, permalink } = entry;
  const parts = [
    `• *${escapeText(clip(request.domain, 120))}* ${inlineCode(clip(request.selector, 63))}`,
    stateBadge(request.state),
    `DNS: ${dnsStatusText(request.lastDnsCheck)}`,
    ageText(request.createdAt, now),
  ];
  if (permalink !== undefined && /^https:\/\/[^\s<>|]+$/.test(permalink)) {
    parts.push(`<${permalink}|request message>`);
  }
  return clip(parts.filter((part) => part !== "").join(" · "), 900);
}
