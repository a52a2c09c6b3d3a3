/**
 * Small mrkdwn helpers shared by every message, so that people, times, keys and states read
 * the same wherever they appear.
 */
import type {
  Button,
  ContextBlock,
  KnownBlock,
  PlainTextElement,
  SectionBlock,
} from "@slack/types";
import type { KeyBits } from "../../dkim/keys.js";
import { SYSTEM_ACTOR } from "../../requests/model.js";

/** Slack's documented limits that the builders respect. */
export const LIMITS = {
  blocksPerMessage: 50,
  sectionText: 3000,
  sectionField: 2000,
  fieldsPerSection: 10,
  contextText: 2000,
  buttonText: 75,
  buttonValue: 2000,
  confirmText: 300,
  confirmTitle: 100,
  modalTitle: 24,
  privateMetadata: 3000,
} as const;

/** The bot's name where an actor is "system" (expiry, the DNS watcher, resume at start-up). */
export const BOT_NAME = "dkim-bot";

/**
 * Makes text safe inside mrkdwn: Slack reads `<…>` as links and mentions and `&` as the start
 * of an entity, so text from people or from other systems could otherwise ping a channel.
 */
export function escapeText(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Mentions as the bot writes them from IDs: a user, a user group, a channel. */
const ESCAPED_MENTION = /&lt;(@[UW][A-Z0-9]{2,}|!subteam\^S[A-Z0-9]{2,}|#[CG][A-Z0-9]{2,})&gt;/g;

/**
 * A sentence the bot built from IDs (a refusal naming approvers or a requester), for mrkdwn:
 * escaped like any text, then its user, user-group and channel mentions given back, so they
 * render as names. Nothing else survives: `<!channel>`, `<!here>` and links stay text.
 */
export function withMentions(text: string): string {
  return escapeText(text).replace(ESCAPED_MENTION, "<$1>");
}

/**
 * Text for inside a ``` block: escaped, and with any ``` broken by a zero-width space so that
 * the block cannot be closed early by the text it shows.
 */
export function escapeCode(text: string): string {
  return escapeText(text).replace(/```/g, "`\u200b``");
}

export function codeBlock(text: string): string {
  return `\`\`\`${escapeCode(text)}\`\`\``;
}

/** Inline code: a backtick inside would end it, so it becomes a similar-looking quote. */
export function inlineCode(text: string): string {
  return `\`${escapeText(text).replace(/`/g, "ˋ")}\``;
}

/** Cuts text to at most `max` characters, marking the cut with an ellipsis. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, Math.max(0, max - 1))}…`;
}

const SLACK_ID = /^[A-Z][A-Z0-9]{2,}$/;

export function userMention(userId: string): string {
  return SLACK_ID.test(userId) ? `<@${userId}>` : escapeText(userId);
}

/** Who did something: a person by mention, or the bot itself for "system". */
export function actorText(actorId: string): string {
  return actorId === SYSTEM_ACTOR ? BOT_NAME : userMention(actorId);
}

const GROUP_ID = /^S[A-Z0-9]{2,}$/;

/** An approver from DKIM_APPROVERS: a user (U…, W…) or a user group (S…). */
export function approverMention(id: string): string {
  if (GROUP_ID.test(id)) return `<!subteam^${id}>`;
  return userMention(id);
}

/** More approvers than this: a message mentions only so many of them, and counts the rest. */
export const MAX_APPROVER_MENTIONS = 5;

/**
 * DKIM_APPROVERS as mentions (a mention is what makes Slack notify): "<@U1>, <@U2> or
 * <!subteam^S1>", any one of them may act. With more than MAX_APPROVER_MENTIONS of them, the
 * user groups (which reach many people with one mention), then "and N more":
 * "<!subteam^S1>, <!subteam^S2> and 7 more". A list without groups names its first users.
 */
export function approversText(approvers: readonly string[]): string {
  if (approvers.length > MAX_APPROVER_MENTIONS) {
    const groups = approvers.filter((id) => GROUP_ID.test(id));
    const named = (groups.length > 0 ? groups : approvers).slice(0, MAX_APPROVER_MENTIONS);
    return `${named.map(approverMention).join(", ")} and ${approvers.length - named.length} more`;
  }
  const mentions = approvers.map(approverMention);
  if (mentions.length <= 1) return mentions.join("");
  return `${mentions.slice(0, -1).join(", ")} or ${mentions[mentions.length - 1]}`;
}

/**
 * The approvers as the one who acts next in a sentence ("… clicks *Approve*"): the list of
 * approversText, or "one of <!subteam^S1> and 7 more" when it is cut short.
 */
export function approversSubject(approvers: readonly string[]): string {
  const list = approversText(approvers);
  return approvers.length > MAX_APPROVER_MENTIONS ? `one of ${list}` : list;
}

export function channelMention(channelId: string): string {
  return SLACK_ID.test(channelId) ? `<#${channelId}>` : escapeText(channelId);
}

/** `2026-11-03 10:42 UTC`: what Slack shows where it cannot format a date. */
export function utcText(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/**
 * A time every reader sees in their own time zone ("today 10:42"), with the UTC time as the
 * fallback text. `iso` is an ISO 8601 time from the store.
 */
export function slackTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return escapeText(iso);
  const unix = Math.floor(date.getTime() / 1000);
  return `<!date^${unix}^{date_short_pretty} {time}|${utcText(date)}>`;
}

export function keySizeText(bits: KeyBits | number): string {
  return `${bits}-bit RSA`;
}

/** "just now", "12 min ago", "3 h ago", "5 d ago". */
export function ageText(fromIso: string, now: Date): string {
  const from = new Date(fromIso).getTime();
  if (Number.isNaN(from)) return "";
  const minutes = Math.floor((now.getTime() - from) / 60_000);
  if (minutes < 1) return "just now";
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} d ago`;
}

/** A list for a sentence: "a", "a and b", "a, b and c". */
export function joinWords(words: readonly string[]): string {
  if (words.length <= 1) return words.join("");
  return `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}`;
}

/** Text that Slack shows as a quote, line by line (the API's own words, a reason). */
export function quoteLines(text: string): string {
  return escapeText(text)
    .split(/\r?\n/)
    .map((line) => `> ${line}`)
    .join("\n");
}

/** What the bot links to (a card, built from the workspace's URL): nothing that breaks `<…|…>`. */
const SAFE_LINK = /^https:\/\/[^\s<>|]+$/;

/** `label` (mrkdwn, already escaped) linked to `url`; the label alone when there is no safe URL. */
export function linkedText(url: string | undefined, label: string): string {
  return url !== undefined && SAFE_LINK.test(url) && label !== "" ? `<${url}|${label}>` : label;
}

/** A message as chat.postMessage and chat.update take it: `text` is the notification fallback. */
export interface SlackMessage {
  text: string;
  blocks: KnownBlock[];
}

export function section(text: string, blockId?: string): SectionBlock {
  const block: SectionBlock = {
    type: "section",
    text: { type: "mrkdwn", text: clip(text, LIMITS.sectionText) },
  };
  return blockId === undefined ? block : { ...block, block_id: blockId };
}

/**
 * A heading, then one line each, packed into as few sections as the text limit allows (a
 * listing of many short lines costs a few blocks, not one per line).
 */
export function packedSections(heading: string, lines: readonly string[]): SectionBlock[] {
  const blocks: SectionBlock[] = [];
  let text = heading;
  for (const line of lines) {
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

export function context(text: string): ContextBlock {
  return { type: "context", elements: [{ type: "mrkdwn", text: clip(text, LIMITS.contextText) }] };
}

export function plainText(text: string, max: number): PlainTextElement {
  return { type: "plain_text", text: clip(text, max), emoji: true };
}

export function button(text: string, actionId: string, value: string): Button {
  return { type: "button", text: plainText(text, LIMITS.buttonText), action_id: actionId, value };
}

/** As many usernames as fit in `max` characters, then how many more there are. */
export function usersText(usernames: readonly string[], max: number): string {
  const shown: string[] = [];
  let length = 0;
  for (const name of usernames) {
    const code = inlineCode(clip(name, 120));
    if (length + code.length + 2 > max - 20) break;
    shown.push(code);
    length += code.length + 2;
  }
  const more = usernames.length - shown.length;
  return more === 0 ? joinWords(shown) : `${shown.join(", ")} and ${more} more`;
}

/** "1 outgoing user", "100 outgoing users" */
export function outgoingUsersText(count: number): string {
  return count === 1 ? "1 outgoing user" : `${count} outgoing users`;
}
