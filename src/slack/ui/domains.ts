/**
 * `/dkim domains`: the cluster's domains at a glance. Counts first (each with the word that
 * lists it), then one page of domains, a line each (state, selector, key age, last DNS
 * verdict), how to see more, and the buttons: the pages, Refresh, Download CSV, and setting
 * up the domains without DKIM. What the page holds is the inventory's (requests/inventory.ts)
 * to decide; this draws it within Slack's limits (50 blocks, 3,000 characters a section).
 */
import type { ActionsBlock, Button, KnownBlock } from "@slack/types";
import type {
  DomainEntry,
  DomainState,
  InventoryCounts,
  InventoryFilter,
  InventoryPage,
  InventoryQuery,
} from "../../requests/service.js";
import type { CurrentKey } from "../../requests/store.js";
import { DNS_STATUS_EMOJI, DNS_WORDS } from "./dns-status.js";
import {
  ageText,
  button,
  clip,
  context,
  escapeText,
  inlineCode,
  LIMITS,
  linkedText,
  packedSections,
  plainText,
  type SlackMessage,
  section,
  slackTime,
  userMention,
} from "./format.js";
import { ACTION_IDS, BLOCK_IDS, encodeDomainsValue } from "./ids.js";
import { DRY_RUN_NOTICE } from "./request-message.js";

/** Domains on one page: 50 lines of about 200 characters fit in four or five sections. */
export const DOMAINS_PAGE_SIZE = 50;

export interface DomainsAnswerOptions {
  now: Date;
  command?: string | undefined;
  /** DKIM_INVENTORY_MINUTES, to say how long the list is kept. */
  inventoryMinutes: number;
  /** DKIM_BATCH_MAX: the most domains the setup button takes at once. */
  batchMax: number;
  /** A link to a key's card, when the workspace's URL is known. */
  permalink(key: CurrentKey): string | undefined;
}

export const DOMAIN_STATE_BADGES: Readonly<Record<DomainState, string>> = {
  active: ":white_check_mark: Active",
  problem: ":warning: DNS problem",
  rotating: ":arrows_counterclockwise: Rotating",
  failed: ":x: Failed",
  pending: ":hourglass_flowing_sand: Pending",
  none: "No DKIM",
  private: ":lock: In a private channel you are not in",
  gone: ":ghost: Not on the cluster any more",
};

/** The counts in the order people asked for them, each with its label and filter word. */
const COUNTED: ReadonlyArray<{ key: keyof InventoryCounts; label: string; word?: string }> = [
  { key: "onCluster", label: "On the cluster" },
  { key: "active", label: "Signed with a key of the bot", word: "active" },
  { key: "rotating", label: "Rotation under way", word: "rotating" },
  { key: "pending", label: "Pending", word: "pending" },
  { key: "failed", label: "Failed", word: "failed" },
  { key: "problems", label: "Monitoring problem", word: "problems" },
  { key: "none", label: "Without DKIM", word: "none" },
  { key: "private", label: "Keys in private channels", word: "private" },
  { key: "gone", label: "Not on the cluster any more", word: "gone" },
];

const OPEN_WORDS: Readonly<Record<CurrentKey["state"], string>> = {
  pending: "waiting for DNS and approval",
  applying: "being applied",
  failed: "apply failed: Retry on its card",
  active: "active",
};

export function domainsAnswer(page: InventoryPage, options: DomainsAnswerOptions): SlackMessage {
  const command = options.command ?? "/dkim";
  const blocks: KnownBlock[] = [section(headline(page, options)), countsBlock(page.counts)];
  const scope = scopeText(page.query);
  if (page.entries.length === 0) {
    blocks.push(section(nothingText(page, command)));
  } else {
    const first = (page.page - 1) * page.query.pageSize + 1;
    const range =
      page.pages === 1
        ? `${number(page.matching)}`
        : `${number(first)}–${number(first + page.entries.length - 1)} of ${number(page.matching)}, page ${page.page} of ${page.pages}`;
    blocks.push(
      ...packedSections(
        `*${scope}* · ${range}`,
        page.entries.map((entry) => domainLine(entry, options)),
      ),
    );
  }
  blocks.push(context(moreText(page, command)));
  const ignored = ignoredText(page);
  if (ignored !== undefined) blocks.push(context(ignored));
  blocks.push(actionsBlock(page, options));
  if (page.counts.none > options.batchMax) {
    blocks.push(
      context(
        `The setup button takes the first ${number(options.batchMax)} domains without DKIM in name order (DKIM_BATCH_MAX); click it again for the next ones.`,
      ),
    );
  }
  const text = `Domains${page.source.kind === "dry-run" ? " (DRY RUN)" : ""}: ${number(page.counts.onCluster)} on the cluster, ${number(page.counts.active)} signed, ${number(page.counts.none)} without DKIM`;
  return { text, blocks: blocks.slice(0, LIMITS.blocksPerMessage) };
}

function headline(page: InventoryPage, options: DomainsAnswerOptions): string {
  const { source } = page;
  if (source.kind === "dry-run") {
    return `*Domains* · :construction: ${DRY_RUN_NOTICE} These are the domains the bot has requests for.`;
  }
  if (source.stale !== undefined) {
    return `*Domains of the cluster* · :warning: as of ${slackTime(source.fetchedAt)}: the cluster could not be asked again just now. ${escapeText(clip(source.stale.message, 600))}`;
  }
  const kept =
    options.inventoryMinutes > 0
      ? `, kept for ${minutesText(options.inventoryMinutes)} (DKIM_INVENTORY_MINUTES); *Refresh* asks again`
      : "";
  return `*Domains of the cluster* · as of ${slackTime(source.fetchedAt)}${kept}`;
}

function countsBlock(counts: InventoryCounts): KnownBlock {
  const shown = COUNTED.filter(
    ({ key }) => !((key === "private" || key === "gone") && counts[key] === 0),
  );
  return {
    type: "section",
    fields: shown.slice(0, LIMITS.fieldsPerSection).map(({ key, label, word }) => ({
      type: "mrkdwn",
      text: `*${number(counts[key])}* ${label}${word === undefined ? "" : ` · ${inlineCode(word)}`}`,
    })),
  };
}

function scopeText(query: InventoryQuery): string {
  const label = query.filter === undefined ? "All domains" : filterLabel(query.filter);
  return query.namePart === undefined
    ? label
    : `${label} with ${inlineCode(query.namePart)} in the name`;
}

function filterLabel(filter: InventoryFilter): string {
  return COUNTED.find((each) => each.word === filter)?.label ?? filter;
}

function nothingText(page: InventoryPage, command: string): string {
  if (page.query.filter === undefined && page.query.namePart === undefined) {
    return page.source.kind === "dry-run"
      ? `The bot has no requests yet. Start one with ${inlineCode(`${command} setup <domain>`)}.`
      : "The cluster lists no domains.";
  }
  return `No domain here: ${scopeText(page.query).toLowerCase()}.`;
}

/** How to see more: the next page, and the filters that narrow the list down. */
function moreText(page: InventoryPage, command: string): string {
  const domains = (what: string) => inlineCode(`${command} domains ${what}`.trim());
  const next =
    page.page < page.pages
      ? `${number(page.matching - page.page * page.query.pageSize)} more: *Next page* or ${domains(filterWords(page.query, page.page + 1))}. `
      : "";
  return `${next}By state: ${["active", "rotating", "pending", "failed", "problems", "none"].map((word) => domains(word)).join(", ")}; by part of the name: ${domains("<part>")} (e.g. ${domains(".nl")}). *Download CSV* posts every domain in this channel.`;
}

function filterWords(query: InventoryQuery, page: number): string {
  return [query.filter, query.namePart, `page=${page}`]
    .filter((word) => word !== undefined)
    .join(" ");
}

function ignoredText(page: InventoryPage): string | undefined {
  if (page.source.kind !== "cluster" || page.source.ignored === 0) return undefined;
  const { ignored, ignoredExamples } = page.source;
  const examples = ignoredExamples.map((example) => inlineCode(example)).join(", ");
  return `${number(ignored)} ${ignored === 1 ? "line" : "lines"} of the cluster's answer ${ignored === 1 ? "was" : "were"} not a domain name and ${ignored === 1 ? "is" : "are"} left out${examples === "" ? "" : ` (${examples})`}.`;
}

/**
 * `• *example.com* · :white_check_mark: Active · `s202611` key 120 d · DNS :white_check_mark: live`,
 * the domain linked to its card; a rotation or an open request after it.
 */
export function domainLine(entry: DomainEntry, options: DomainsAnswerOptions): string {
  const card = entry.open ?? entry.active;
  const link = card === undefined ? undefined : options.permalink(card);
  const name = `*${linkedText(link, escapeText(clip(entry.domain, 120)))}*`;
  const badge =
    entry.state === "pending" && entry.open?.state === "applying"
      ? ":gear: Applying"
      : DOMAIN_STATE_BADGES[entry.state];
  const parts = [`• ${name}`, badge];
  if (entry.active !== undefined) parts.push(activeText(entry.active, options.now));
  if (entry.open !== undefined) parts.push(openText(entry.open, options.now));
  return clip(parts.join(" · "), 900);
}

function activeText(key: CurrentKey, now: Date): string {
  const age = key.activatedAt === null ? "" : ` key ${daysOld(key.activatedAt, now)}`;
  return `${inlineCode(clip(key.selector, 63))}${age} · ${dnsText(key)}`;
}

function openText(key: CurrentKey, now: Date): string {
  const what = key.rotation ? "new key " : "";
  return `${what}${inlineCode(clip(key.selector, 63))} ${OPEN_WORDS[key.state]}, asked ${ageText(key.createdAt, now)} · ${dnsText(key)}`;
}

function dnsText(key: CurrentKey): string {
  return key.dnsStatus === null
    ? "DNS not checked yet"
    : `DNS ${DNS_STATUS_EMOJI[key.dnsStatus]} ${DNS_WORDS[key.dnsStatus]}`;
}

/** "120 d", "under a day". */
export function daysOld(fromIso: string, now: Date): string {
  const days = Math.floor((now.getTime() - Date.parse(fromIso)) / 86_400_000);
  return Number.isNaN(days) ? "" : days < 1 ? "under a day" : `${number(days)} d`;
}

function actionsBlock(page: InventoryPage, options: DomainsAnswerOptions): ActionsBlock {
  const { query } = page;
  const at = (pageNumber: number) =>
    encodeDomainsValue({ filter: query.filter, namePart: query.namePart, page: pageNumber });
  const elements: Button[] = [];
  if (page.page > 1) {
    elements.push(button("Previous page", ACTION_IDS.domainsPrevious, at(page.page - 1)));
  }
  if (page.page < page.pages) {
    elements.push({
      ...button("Next page", ACTION_IDS.domainsNext, at(page.page + 1)),
      style: "primary",
    });
  }
  elements.push(button("Refresh", ACTION_IDS.domainsRefresh, at(page.page)));
  elements.push(button("Download CSV", ACTION_IDS.domainsCsv, at(1)));
  const batch = Math.min(page.counts.none, options.batchMax);
  if (batch > 0 && page.nextBatch.length > 0) elements.push(setupBatchButton(batch, page));
  return { type: "actions", block_id: BLOCK_IDS.domainsActions, elements };
}

function setupBatchButton(count: number, page: InventoryPage): Button {
  const domains = count === 1 ? "1 domain" : `${number(count)} domains`;
  const first = page.nextBatch[0] ?? "";
  const last = page.nextBatch.at(-1) ?? "";
  const dryRun = page.source.kind === "dry-run" ? " (DRY RUN: nothing changes on a cluster)" : "";
  return {
    ...button(`Set up DKIM for ${domains} without it`, ACTION_IDS.domainsSetupBatch, "next"),
    confirm: {
      title: plainText("Set up DKIM?", LIMITS.confirmTitle),
      text: plainText(
        `A key for each of ${domains} without DKIM (${first}${count > 1 ? ` … ${last}` : ""}), in one batch card in this channel${dryRun}. Nothing is installed on the cluster before an approver approves.`,
        LIMITS.confirmText,
      ),
      confirm: plainText(`Set up ${domains}`, 30),
      deny: plainText("Not now", 30),
    },
  };
}

/** The sentence for a list the cluster would not give (its client's sentence says why). */
export function domainListFailedText(error: Error): string {
  return `The cluster's domain list could not be read, so there is nothing to show yet. ${escapeText(clip(error.message, 1200))}`;
}

/** Posted with the CSV in the channel: what it is, for whom, and what it leaves out. */
export function csvCommentText(
  counts: InventoryCounts,
  options: { requesterId: string; asOf: string; dryRun: boolean },
): string {
  const scope = options.dryRun
    ? "Every domain the bot has requests for (DRY RUN)"
    : "Every domain of the cluster";
  const hidden =
    counts.private > 0
      ? ` ${number(counts.private)} show as \`private\`: their keys are in private channels that not everyone here can read.`
      : "";
  return `${scope} with its DKIM state, selector, key age and last DNS verdict, as of ${slackTime(options.asOf)}; asked by ${userMention(options.requesterId)} with \`/dkim domains\`.${hidden}`;
}

/** To the person who clicked Download CSV. */
export function csvPostedText(rows: number, counts: InventoryCounts): string {
  const hidden =
    counts.private > 0
      ? ` Everyone in this channel can read it, so it leaves out the keys of private channels (${number(counts.private)} ${counts.private === 1 ? "domain shows" : "domains show"} as \`private\`): \`/dkim domains\` still shows you those of the private channels you are in, and Download CSV in a private channel adds that channel's keys.`
      : "";
  return `Posted the CSV of ${number(rows)} ${rows === 1 ? "domain" : "domains"} in this channel.${hidden}`;
}

/** The batch button clicked when nothing is left without DKIM (set up since, or hidden). */
export function noDomainWithoutDkimText(): string {
  return "No domain you can see is without DKIM now (they were set up since the list was drawn, or are being set up), so nothing was started.";
}

/** 12,345 */
export function number(value: number): string {
  return value.toLocaleString("en-US");
}

function minutesText(minutes: number): string {
  if (minutes >= 120 && minutes % 60 === 0) return `${minutes / 60} hours`;
  return `${minutes} ${minutes === 1 ? "minute" : "minutes"}`;
}
