/**
 * The request message: the one message in the channel that says what a DKIM request is, what
 * to publish, where it stands and what to click. It is re-rendered on every state change.
 */
import type { Button, KnownBlock } from "@slack/types";
import { quoteStrings } from "../../dkim/record.js";
import type { DkimRequest, RecordToPublish } from "../../requests/model.js";
import { dnsStatusText } from "./dns-status.js";
import {
  actorText,
  clip,
  codeBlock,
  context,
  escapeText,
  inlineCode,
  joinWords,
  keySizeText,
  LIMITS,
  plainText,
  quoteLines,
  type SlackMessage,
  section,
  slackTime,
  userMention,
} from "./format.js";
import { ACTION_IDS, BLOCK_IDS, encodeActionValue } from "./ids.js";
import { STATE_BADGES } from "./state-badge.js";

export interface RequestMessageOptions {
  dryRun: boolean;
  record: RecordToPublish;
}

export const DRY_RUN_NOTICE =
  "*DRY RUN*: no SpamExperts cluster is configured; Approve shows the calls it would make and changes nothing.";

export const PASTING_HINT =
  "Providers that take one long value want the single TXT value. Those with a 255-character limit per string (e.g. Route 53) take the quoted strings, in order, quotes included.";

const MAX_REASON = 500;
const MAX_ERROR = 1500;
/** Room left in a field for the list of outgoing users (a field holds at most 2000 characters). */
const MAX_USERS_TEXT = 1800;

export function requestMessage(request: DkimRequest, options: RequestMessageOptions): SlackMessage {
  const blocks: KnownBlock[] = [section(headline(request))];
  if (options.dryRun) blocks.push(section(`:construction: ${DRY_RUN_NOTICE}`));
  blocks.push(...nowBlocks(request));
  blocks.push({ type: "section", fields: fieldsOf(request) });
  if (showsRecord(request)) {
    blocks.push(...recordBlocks(options.record));
  } else {
    blocks.push(
      context(
        "The key of this request is erased. If you published its TXT record, you can remove it.",
      ),
    );
  }
  const buttons = buttonsFor(request, options.dryRun);
  if (buttons.length > 0) {
    blocks.push({ type: "actions", block_id: BLOCK_IDS.requestActions, elements: buttons });
  }
  blocks.push(
    context(`Request \`${escapeText(request.id)}\` · created ${slackTime(request.createdAt)}`),
  );
  return { text: fallbackText(request, options.dryRun), blocks };
}

function headline(request: DkimRequest): string {
  const badge = STATE_BADGES[request.state];
  return `${badge.emoji} *${badge.label}* · DKIM for *${escapeText(request.domain)}* · requested by ${userMention(request.requesterId)}`;
}

/** What happens now (open states) or how it ended (final states), who and when. */
function nowBlocks(request: DkimRequest): KnownBlock[] {
  const decided =
    request.decidedBy === null
      ? ""
      : ` by ${actorText(request.decidedBy)}${request.decidedAt === null ? "" : ` · ${slackTime(request.decidedAt)}`}`;
  switch (request.state) {
    case "pending":
      return [
        section(
          request.lastDnsCheck?.status === "live"
            ? "*Next:* the TXT record is live: an approver clicks *Approve*."
            : "*Next:* 1. Publish the TXT record below. 2. An approver clicks *Approve* once DNS is live.",
        ),
      ];
    case "applying":
      return [context(`:gear: Applying… approved${decided}. Each step is reported in the thread.`)];
    case "failed": {
      const said =
        request.lastError === null ? "" : `\n${quoteLines(clip(request.lastError, MAX_ERROR))}`;
      return [
        section(
          `*Applying stopped*${decided === "" ? "" : ` (approved${decided})`}. Fix the cause, then click *Retry*: it goes on from the step that failed.${said}`,
        ),
        context(progressText(request)),
      ];
    }
    case "active":
      return [
        section(
          `*Active*: SpamExperts signs mail for *${escapeText(request.domain)}* with selector ${inlineCode(request.selector)}. Approved${decided}. Keep the TXT record published.`,
        ),
      ];
    case "rejected": {
      const reason =
        request.rejectReason === null
          ? ""
          : `\n${quoteLines(clip(request.rejectReason, MAX_REASON))}`;
      return [section(`*Rejected*${decided}.${reason}`)];
    }
    case "cancelled":
      return [section(`*Cancelled*${decided}.`)];
    case "expired":
      return [
        section(
          `*Expired*${request.decidedAt === null ? "" : ` · ${slackTime(request.decidedAt)}`}: nobody approved it in time. Start again with \`/dkim setup\`.`,
        ),
      ];
  }
}

function progressText(request: DkimRequest): string {
  const done = request.progress.enabledUsernames;
  const certificate = request.progress.certificateInstalled
    ? "Certificate installed"
    : "Certificate not installed yet";
  const signing =
    done.length === 0
      ? "signing not enabled for any user yet"
      : `signing enabled for ${usersText(done, MAX_USERS_TEXT / 2)}`;
  return `${certificate}; ${signing}.`;
}

function fieldsOf(request: DkimRequest) {
  const key = `${keySizeText(request.bits)}${request.testing ? ", t=y (testing)" : ""}`;
  const users =
    request.usernames.length === 1 && request.usernames[0] === request.domain
      ? `${inlineCode(request.domain)} (the domain itself)`
      : usersText(request.usernames, MAX_USERS_TEXT);
  const fields = [
    field("Selector", inlineCode(request.selector)),
    field("Key", key),
    field("Fingerprint", inlineCode(request.fingerprint)),
    field("Outgoing users", users),
    field("DNS", dnsStatusText(request.lastDnsCheck)),
  ];
  if (request.reason !== null) {
    fields.push(field("Reason", escapeText(clip(request.reason, MAX_REASON))));
  }
  if (request.ticket !== null) {
    fields.push(field("Ticket", escapeText(clip(request.ticket, MAX_REASON))));
  }
  return fields;
}

function field(label: string, value: string) {
  return { type: "mrkdwn" as const, text: clip(`*${label}*\n${value}`, LIMITS.sectionField) };
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

/** The record stays useful while the key is (or is about to be) in use. */
function showsRecord(request: DkimRequest): boolean {
  return ["pending", "applying", "failed", "active"].includes(request.state);
}

function recordBlocks(record: RecordToPublish): KnownBlock[] {
  return [
    section(`*DNS name* (type TXT)\n${codeBlock(record.name)}`),
    section(`*TXT value*\n${codeBlock(record.value)}`),
    section(
      `*Zone-file form*: ${record.strings.length === 1 ? "one quoted string" : `${record.strings.length} quoted strings`} of at most 255 characters\n${codeBlock(quoteStrings(record.strings))}`,
    ),
    context(PASTING_HINT),
  ];
}

function buttonsFor(request: DkimRequest, dryRun: boolean): Button[] {
  const id = { requestId: request.id };
  const checkDns = button("Check DNS", ACTION_IDS.checkDns, encodeActionValue(id));
  switch (request.state) {
    case "pending":
      return [
        checkDns,
        {
          ...button(
            "Approve",
            ACTION_IDS.approve,
            encodeActionValue({ ...id, fingerprint: request.fingerprint }),
          ),
          style: "primary",
          confirm: approveConfirm(request, dryRun),
        },
        { ...button("Reject", ACTION_IDS.reject, encodeActionValue(id)), style: "danger" },
      ];
    case "failed":
      return [
        { ...button("Retry", ACTION_IDS.retry, encodeActionValue(id)), style: "primary" },
        checkDns,
      ];
    default:
      return [];
  }
}

export function button(text: string, actionId: string, value: string): Button {
  return { type: "button", text: plainText(text, LIMITS.buttonText), action_id: actionId, value };
}

function approveConfirm(request: DkimRequest, dryRun: boolean) {
  const users = request.usernames.length;
  const what = dryRun
    ? "DRY RUN: this shows the calls it would make and changes nothing."
    : `This installs the key on the SpamExperts cluster and enables signing for ${users === 1 ? "1 outgoing user" : `${users} outgoing users`}.`;
  return {
    title: plainText("Approve DKIM?", LIMITS.confirmTitle),
    text: {
      type: "mrkdwn" as const,
      text: clip(
        `Approve key ${inlineCode(request.fingerprint)} for *${escapeText(clip(request.domain, 80))}* (selector ${inlineCode(clip(request.selector, 40))})? ${what}`,
        LIMITS.confirmText,
      ),
    },
    confirm: plainText("Approve", 30),
    deny: plainText("Back", 30),
  };
}

function fallbackText(request: DkimRequest, dryRun: boolean): string {
  const domain = escapeText(request.domain);
  const decidedBy = request.decidedBy === null ? "" : ` by ${actorText(request.decidedBy)}`;
  const text = (() => {
    switch (request.state) {
      case "pending":
        return `DKIM setup for ${domain} requested by ${userMention(request.requesterId)}: publish the TXT record, then approve`;
      case "applying":
        return `DKIM setup for ${domain}: applying`;
      case "failed":
        return `DKIM setup for ${domain} failed: fix the cause, then retry`;
      case "active":
        return `DKIM for ${domain} is active`;
      case "rejected":
        return `DKIM setup for ${domain} was rejected${decidedBy}`;
      case "cancelled":
        return `DKIM setup for ${domain} was cancelled${decidedBy}`;
      case "expired":
        return `DKIM setup for ${domain} expired without approval`;
    }
  })();
  return dryRun ? `DRY RUN: ${text}` : text;
}
