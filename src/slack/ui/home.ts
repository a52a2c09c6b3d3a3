/**
 * App Home: one place for the person who opens it. What waits for their approval, their own
 * open requests, what monitoring found wrong, the keys due for rotation, and the fleet's
 * counts. Each item links to its card (where the thread has the whole story) and carries the
 * one button that moves it on: the card's own buttons (same action ids), so a click here goes
 * through the same rules and leaves the same audit in the card's thread.
 *
 * Slack allows 100 blocks in a Home tab: the lists are pages (home-overview.ts), each item one
 * block, and whatever would still pass the limit is summarised in a last line.
 */
import type { Button, HomeView, KnownBlock, SectionBlock } from "@slack/types";
import type { DkimRequest } from "../../requests/model.js";
import type { HomeList, HomeOverview } from "../../requests/service.js";
import { DNS_STATUS_EMOJI } from "./dns-status.js";
import {
  ageText,
  approversText,
  clip,
  context,
  escapeText,
  inlineCode,
  linkedText,
  plainText,
  type SlackMessage,
  section,
  slackTime,
  userMention,
} from "./format.js";
import { approveButton, checkDnsButton, rotateButton } from "./request-message.js";
import { STATE_BADGES, stateBadge } from "./state-badge.js";

/** Slack's limit for a Home tab. */
export const HOME_BLOCK_LIMIT = 100;
/** Blocks of an action's answer shown at the top. */
const MAX_NOTICE_BLOCKS = 6;

export interface HomeViewOptions {
  userId: string;
  now: Date;
  dryRun: boolean;
  /** DKIM_APPROVERS, named to someone who is not one. */
  approvers: readonly string[];
  /** A link to a request's card, when the workspace's URL is known. */
  permalink(request: DkimRequest): string | undefined;
  /** The answer to the action just taken from Home (a refusal, a DNS check's result). */
  notice?: SlackMessage | undefined;
  /** The command, for pointers ("/dkim status open"). */
  command?: string;
}

/** A Home tab as views.publish takes it (a HomeView), its blocks of the kinds the bot draws. */
export type HomeTab = Omit<HomeView, "blocks"> & { blocks: KnownBlock[] };

export function homeView(overview: HomeOverview, options: HomeViewOptions): HomeTab {
  const command = options.command ?? "/dkim";
  const blocks: KnownBlock[] = [
    { type: "header", text: plainText("DKIM keys", 150) },
    context(
      `For ${userMention(options.userId)} · as of ${slackTime(options.now.toISOString())} · open Home again to refresh${options.dryRun ? " · :construction: *DRY RUN*: nothing changes on the cluster" : ""}`,
    ),
  ];
  if (options.notice !== undefined) blocks.push(...noticeBlocks(options.notice));

  if (overview.waiting !== undefined) {
    blocks.push(
      ...listBlocks("Waiting for your approval", overview.waiting, {
        empty: "Nothing waits for your approval: no request of someone else has its record live.",
        more: `${inlineCode(`${command} status open`)} lists every open request.`,
        item: (request) => waitingItem(request, options),
      }),
    );
  } else {
    blocks.push(context(notApproverText(overview, options)));
  }
  blocks.push(
    ...listBlocks("Your open requests", overview.mine, {
      empty: `You have no open request. Start one with ${inlineCode(`${command} setup <domain>`)}.`,
      more: `${inlineCode(`${command} status open`)} lists them all.`,
      item: (request) => mineItem(request, options),
    }),
    ...listBlocks("Problems found by monitoring", overview.problems, {
      empty: "Every key that signs has its record live, as last checked.",
      more: `${inlineCode(`${command} status active`)} lists the keys that sign.`,
      item: (request) => problemItem(request, options),
    }),
  );
  if (overview.rotationDue !== undefined) {
    blocks.push(
      ...listBlocks(
        `Keys due for rotation (older than ${overview.rotateAfterDays} days)`,
        overview.rotationDue,
        {
          empty: "No key is due for rotation.",
          more: `${inlineCode(`${command} status active`)} lists the keys that sign.`,
          item: (request) => rotationItem(request, options),
        },
      ),
    );
  }
  blocks.push({ type: "divider" }, fleetBlock(overview));
  blocks.push(
    context(
      "A button here does what the card's does, under the same rules; the card's thread records it.",
    ),
  );
  return { type: "home", blocks: withinLimit(blocks, command) };
}

interface ListParts {
  empty: string;
  more: string;
  item(request: DkimRequest): SectionBlock;
}

function listBlocks(title: string, list: HomeList, parts: ListParts): KnownBlock[] {
  const count = list.items.length + list.more;
  const blocks: KnownBlock[] = [
    { type: "divider" },
    section(`*${title}*${count > 0 ? ` · ${count}` : ""}`),
  ];
  if (list.items.length === 0) {
    blocks.push(context(parts.empty));
    return blocks;
  }
  blocks.push(...list.items.map(parts.item));
  if (list.more > 0) blocks.push(context(`…and ${list.more} more. ${parts.more}`));
  return blocks;
}

/** `*example.com*` linked to its card, and its selector. */
function domainText(request: DkimRequest, options: HomeViewOptions): string {
  const domain = escapeText(clip(request.domain, 120));
  return `*${linkedText(options.permalink(request), domain)}* ${inlineCode(clip(request.selector, 63))}`;
}

function item(text: string, accessory?: Button): SectionBlock {
  const block = section(clip(text, 900));
  return accessory === undefined ? block : { ...block, accessory };
}

function waitingItem(request: DkimRequest, options: HomeViewOptions): SectionBlock {
  const rotation = request.rotationOf === null ? "" : " · rotation";
  return item(
    `${domainText(request, options)}${rotation} · asked by ${userMention(request.requesterId)} ${ageText(request.createdAt, options.now)} · ${DNS_STATUS_EMOJI.live} record live`,
    approveButton(request, options.dryRun),
  );
}

function mineItem(request: DkimRequest, options: HomeViewOptions): SectionBlock {
  const dns = request.lastDnsCheck;
  const dnsText =
    request.state !== "pending"
      ? ""
      : dns === null
        ? " · DNS not checked yet"
        : ` · DNS ${DNS_STATUS_EMOJI[dns.status]} ${dns.status === "live" ? "live: waiting for an approver" : escapeText(clip(dns.summary, 200))}`;
  return item(
    `${domainText(request, options)} · ${stateBadge(request.state)}${dnsText} · asked ${ageText(request.createdAt, options.now)}`,
    request.state === "pending" ? checkDnsButton(request) : undefined,
  );
}

function problemItem(request: DkimRequest, options: HomeViewOptions): SectionBlock {
  const dns = request.lastDnsCheck;
  const verdict =
    dns === null
      ? ""
      : ` · ${DNS_STATUS_EMOJI[dns.status]} ${escapeText(clip(dns.summary, 300))} (checked ${ageText(dns.checkedAt, options.now)})`;
  const what = request.state === "active" ? "signs now" : STATE_BADGES[request.state].label;
  return item(`${domainText(request, options)} · ${what}${verdict}`, checkDnsButton(request));
}

function rotationItem(request: DkimRequest, options: HomeViewOptions): SectionBlock {
  const since = request.activatedAt ?? request.decidedAt ?? request.createdAt;
  const days = Math.floor((options.now.getTime() - Date.parse(since)) / 86_400_000);
  return item(
    `${domainText(request, options)} · active for ${days} ${days === 1 ? "day" : "days"}`,
    rotateButton(request),
  );
}

function notApproverText(overview: HomeOverview, options: HomeViewOptions): string {
  if (overview.approver === "unknown") {
    return ":grey_question: Whether you may approve could not be checked (a user-group lookup failed), so approvals are not listed. Open Home again in a moment.";
  }
  const who =
    options.approvers.length === 0
      ? "DKIM_APPROVERS lists nobody yet"
      : `approvers are ${approversText(options.approvers)}`;
  return `You are not an approver (${who}), so no approvals are listed for you.`;
}

function fleetBlock(overview: HomeOverview): SectionBlock {
  const { counts } = overview;
  const field = (label: string, value: number) => ({
    type: "mrkdwn" as const,
    text: `*${label}*\n${value}`,
  });
  const fields = [
    field(":white_check_mark: Keys signing", counts.active),
    field(":hourglass_flowing_sand: Waiting for approval (record live)", counts.waitingForApproval),
    field(":hourglass: Waiting for DNS", counts.waitingForDns),
    field(":gear: Applying", counts.applying),
    field(":x: Failed", counts.failed),
    field(`${STATE_BADGES.retiring.emoji} Retiring (old keys)`, counts.retiring),
    field(":rotating_light: Problems found by monitoring", counts.problems),
    ...(overview.rotationDue === undefined
      ? []
      : [field(":calendar: Due for rotation", counts.rotationDue)]),
  ];
  return { type: "section", text: { type: "mrkdwn", text: "*The fleet*" }, fields };
}

/** An action's answer as Home shows it: its own blocks (a few), or its text. */
function noticeBlocks(notice: SlackMessage): KnownBlock[] {
  const shown =
    notice.blocks.length > 0 ? notice.blocks.slice(0, MAX_NOTICE_BLOCKS) : [section(notice.text)];
  return [{ type: "divider" }, ...shown];
}

/** Past Slack's limit, the rest is one line saying where it is. */
function withinLimit(blocks: KnownBlock[], command: string): KnownBlock[] {
  if (blocks.length <= HOME_BLOCK_LIMIT) return blocks;
  return [
    ...blocks.slice(0, HOME_BLOCK_LIMIT - 1),
    context(
      `…Home is cut short here (Slack shows at most ${HOME_BLOCK_LIMIT} blocks). ${inlineCode(`${command} status`)} lists every request.`,
    ),
  ];
}

/**
 * On top of Home after a button there did its work without a word of its own (an approval,
 * a rotation): what was done, and where the rest is told.
 */
export function homeActionDoneNotice(
  button: string,
  request: DkimRequest,
  permalink: string | undefined,
): SlackMessage {
  const card =
    permalink !== undefined && /^https:\/\/[^\s<>|]+$/.test(permalink)
      ? `<${permalink}|its card's thread>`
      : "its card's thread";
  const text = `:white_check_mark: *${escapeText(button)}* for *${escapeText(clip(request.domain, 120))}*: done. See ${card} for each step. Now: ${stateBadge(request.state)}.`;
  return { text, blocks: [section(text)] };
}
