/**
 * The short ephemeral replies to the person who clicked or typed: why nothing happened and
 * what to do instead. One sentence or two, the same state names as everywhere else.
 */

import type { RefusalReason } from "../../requests/errors.js";
import { type DkimRequest, recordNameOf } from "../../requests/model.js";
import {
  actorText,
  channelMention,
  clip,
  escapeText,
  inlineCode,
  joinWords,
  slackTime,
  userMention,
  withMentions,
} from "./format.js";
import { stateBadge } from "./state-badge.js";

export function selfApprovalText(): string {
  return "You asked for this request, so someone else must approve it.";
}

export function dnsNotLiveText(summary: string, recordName: string): string {
  const verdict = summary.trim() === "" ? "" : ` ${escapeText(clip(summary.trim(), 500))}`;
  return `Not approved yet: the TXT record at ${inlineCode(recordName)} is not live and matching.${verdict} Publish it as shown on the request, then click Approve again.`;
}

export function keyChangedText(): string {
  return "Nothing was applied: the key of this request is not the one you were shown. Read the request message again, then approve.";
}

export function notRequesterText(request: Pick<DkimRequest, "requesterId">): string {
  return `Only the requester, ${userMention(request.requesterId)}, can cancel this request.`;
}

/** A second request for a domain and selector that already have an open one: which, and whose. */
export function requestConflictText(existing: DkimRequest): string {
  return `${inlineCode(recordNameOf(existing))} already has an open request (${stateBadge(existing.state)}, asked by ${userMention(existing.requesterId)} · ${slackTime(existing.createdAt)}). Finish, reject or cancel that one first (${inlineCode(`/dkim status ${existing.domain}`)}), or choose another ${inlineCode("selector=")}.`;
}

/** A click on a request someone already handled: who did what, and when. */
export function alreadyHandledText(request: DkimRequest): string {
  const by = request.decidedBy === null ? "" : ` by ${actorText(request.decidedBy)}`;
  const when = request.decidedAt === null ? "" : ` · ${slackTime(request.decidedAt)}`;
  const now = `Now: ${stateBadge(request.state)}.`;
  switch (request.state) {
    case "applying":
    case "active":
    case "failed":
      return `Already approved${by}${when}. ${now}`;
    case "rejected":
      return `Already rejected${by}${when}.${request.rejectReason === null ? "" : ` Reason: ${escapeText(clip(request.rejectReason, 300))}`}`;
    case "cancelled":
      return `Already cancelled${by}${when}.`;
    case "expired":
      return `This request expired${when} without approval. Start again with \`/dkim setup\`.`;
    case "pending":
      return `This request is still open. ${now}`;
    case "retiring":
      return `This key was replaced${request.replacedBy === null ? "" : ` by selector ${inlineCode(request.replacedBy.selector)}`} and is retiring. ${now}`;
    case "retired":
      return `This key is retired${request.retiredAt === null ? "" : ` · ${slackTime(request.retiredAt)}`}: nothing more to do.`;
  }
}

export function channelNotAllowedText(
  allowedChannels: readonly string[],
  command = "/dkim",
): string {
  return `${escapeText(command)} works only in ${joinWords(allowedChannels.map(channelMention))}.`;
}

export function botNotInChannelText(botName = "dkim-bot"): string {
  return `I am not in this channel yet: invite me with \`/invite @${escapeText(botName)}\`, then try again.`;
}

/** The parser's message, which already names the problem and the usage. */
export function badCommandText(message: string, command = "/dkim"): string {
  // The parser's message ends with a usage line, so the pointer to help goes on its own line.
  return `${escapeText(message)}\nMore: ${inlineCode(`${command} help`)}`;
}

export function unknownRequestText(): string {
  return "This request is no longer known to the bot. See `/dkim status`.";
}

export interface RefusalContext {
  /**
   * The service's own sentence. Who may do what is the service's to say: it knows the action
   * (approve, reject, retry) and the approver list.
   */
  serviceMessage: string;
  /** The DNS verdict sentence, for dns-not-ready. */
  dnsSummary?: string;
}

/** The sentence for a refusal the service reported by its reason code. */
export function refusalText(
  reason: RefusalReason,
  request: DkimRequest,
  refusal: RefusalContext,
): string {
  switch (reason) {
    case "not-approver":
    case "approver-lookup-failed":
      return withMentions(refusal.serviceMessage);
    case "self-approval":
      return selfApprovalText();
    case "fingerprint-mismatch":
      return keyChangedText();
    case "dns-not-ready":
      return dnsNotLiveText(
        refusal.dnsSummary ?? request.lastDnsCheck?.summary ?? "",
        recordNameOf(request),
      );
    case "already-handled":
      return alreadyHandledText(request);
    case "not-requester":
      return notRequesterText(request);
    case "other-workspace":
      return refusal.serviceMessage;
    case "batch-changed":
    case "batch-busy":
      return withMentions(refusal.serviceMessage);
  }
}

// ---- requests the bot cannot read, and channels it may not act in ----------------------

/** A submitted form whose callback_id or shape is not one this version of the bot makes. */
export function outdatedFormText(command = "/dkim"): string {
  return `This form is outdated: it comes from an older or newer version of dkim-bot, so nothing was done. Close it and start again: \`${escapeText(command)} setup\`, or the button on the request message.`;
}

/** A button whose action id this version of the bot does not know. */
export function unknownButtonText(): string {
  return "This button is not one this version of dkim-bot knows (it may come from an older or newer version), so nothing was done. See `/dkim status` for the requests and their buttons.";
}

/** A click whose payload could not be read at all (no action, a broken channel, …). */
export function unreadableClickText(): string {
  return "This click could not be read, so nothing was done. Click the button on the request message again; if it keeps failing, ask the bot's operator to look at its log.";
}

/** A button clicked in a channel outside DKIM_ALLOWED_CHANNELS. */
export function clickChannelNotAllowedText(allowedChannels: readonly string[]): string {
  return `dkim-bot's buttons work only in ${joinWords(allowedChannels.map(channelMention))}, as \`/dkim\` does, so nothing was done.`;
}

/** A request made in a channel that was later removed from DKIM_ALLOWED_CHANNELS. */
export function requestChannelNotAllowedText(
  requestChannelId: string,
  allowedChannels: readonly string[],
): string {
  return `This request was made in ${channelMention(requestChannelId)}, which is no longer one of the channels where dkim-bot works (${joinWords(allowedChannels.map(channelMention))}), so nothing was done. Ask whoever runs dkim-bot, or start a new request in one of those channels.`;
}

/** `/dkim setup` (or its form) aimed at a direct message or a person rather than a channel. */
export function notAChannelText(conversationId: string, command = "/dkim"): string {
  const what = /^D/.test(conversationId)
    ? "a direct message"
    : /^[UW]/.test(conversationId)
      ? "a person"
      : "not a channel";
  return `A request must be posted in a channel where the approvers can see it, and this is ${what}, so nothing was created. Run \`${escapeText(command)} setup\` in a channel.`;
}

/** Said once when an action or a command is still running after a few seconds. */
export function stillWorkingText(waitingOn: WaitingOn): string {
  switch (waitingOn) {
    case "key":
      return "Still working: generating the key…";
    case "store":
      return "Still working…";
    default:
      return `Still working: waiting on ${waitingOn}…`;
  }
}

/** Whether an answer is only stillWorkingText (App Home replaces it once the action is done). */
export function isStillWorkingText(text: string): boolean {
  return text.startsWith("Still working");
}

/** What a slow action waits on, in the words a person knows. */
export type WaitingOn = "Slack" | "SpamExperts" | "DNS" | "key" | "store";

/**
 * The group lookup failed or timed out: nothing happened, and clicking again is the way on.
 * The groups are the ones the service's refusal names (as `<!subteam^S…>` mentions).
 */
export function approverLookupFailedText(serviceMessage: string, button: string): string {
  const groups = [...new Set(serviceMessage.match(/<!subteam\^S[A-Z0-9]+>/g) ?? [])];
  const named =
    groups.length === 0
      ? "the approver user groups"
      : groups.length === 1
        ? (groups[0] ?? "")
        : `${groups.slice(0, -1).join(", ")} or ${groups.at(-1)}`;
  return `Could not check your membership of ${named} with Slack, so nothing was done. Click ${escapeText(button)} again in a minute.`;
}
