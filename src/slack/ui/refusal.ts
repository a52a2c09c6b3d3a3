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
  }
}
