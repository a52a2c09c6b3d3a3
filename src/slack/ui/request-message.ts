/**
 * The request card: the one message in the channel that says what a DKIM request is, where it
 * stands, what to do next and who does it, and the record to publish. It is redrawn on every
 * change. A busy channel holds several of these, so the card stays short: a few lines before
 * the record, the record once (the split form goes to the first thread reply, recordReply),
 * and everything that happened in the thread.
 */
import type { Button, KnownBlock } from "@slack/types";
import { nameRelativeToZone } from "../../dkim/names.js";
import type { DkimRequest, RecordToPublish } from "../../requests/model.js";
import { dnsStatusText } from "./dns-status.js";
import {
  actorText,
  approversSubject,
  approversText,
  button,
  clip,
  codeBlock,
  context,
  escapeText,
  inlineCode,
  keySizeText,
  LIMITS,
  outgoingUsersText,
  plainText,
  quoteLines,
  type SlackMessage,
  section,
  slackTime,
  userMention,
  usersText,
} from "./format.js";
import { ACTION_IDS, BLOCK_IDS, encodeActionValue } from "./ids.js";
import { STATE_BADGES } from "./state-badge.js";

export interface RequestMessageOptions {
  dryRun: boolean;
  record: RecordToPublish;
  /**
   * DKIM_APPROVERS, so the card names who approves. Without it the card says "an approver";
   * the first post should carry it, since only a posted mention notifies (an edit does not).
   */
  approvers?: readonly string[] | undefined;
  /** Now, for what depends on it (a retiring key's overlap); default the real time. */
  now?: Date;
  /** The card is posted late (the bot stopped before it could): when it was asked for. */
  delayedSince?: string | undefined;
}

/** The value that revokes an RSA key (RFC 6376 3.6.1: empty p=), for people to publish. */
export const REVOKED_VALUE = "v=DKIM1; k=rsa; p=";

export const DRY_RUN_NOTICE =
  "*DRY RUN*: no SpamExperts cluster is configured; Approve shows the calls it would make and changes nothing.";

/** Where the split form is, for providers that take at most 255 characters per string. */
export const SPLIT_FORM_POINTER =
  "DNS provider with a 255-character limit per string (e.g. Route 53)? The split form is the first reply in the thread.";

const MAX_REASON = 200;
/** The card quotes the start of the API's error; the failure reply in the thread has all of it. */
const MAX_ERROR = 300;
/** The card names a few outgoing users and counts the rest. */
const MAX_USERS_TEXT = 120;

export function requestMessage(request: DkimRequest, options: RequestMessageOptions): SlackMessage {
  const blocks: KnownBlock[] = [
    section([headline(request, options), ...nowLines(request, options)].join("\n")),
  ];
  if (options.dryRun && isOpen(request)) blocks.push(context(`:construction: ${DRY_RUN_NOTICE}`));
  if (showsRecord(request)) {
    blocks.push(section(factsText(request)));
    blocks.push(...recordBlocks(request, options.record));
    if (retireIsDue(request, options)) {
      blocks.push(
        section(`*Revoked value* (instead of removing the record)\n${codeBlock(REVOKED_VALUE)}`),
      );
    }
  } else if (request.state === "retired") {
    blocks.push(
      context("The key is retired: SpamExperts no longer signs with it, and its record is gone."),
    );
  } else {
    blocks.push(
      context(
        "The key of this request is erased. If you published its TXT record, you can remove it.",
      ),
    );
  }
  const buttons = buttonsFor(request, options);
  if (buttons.length > 0) {
    blocks.push({ type: "actions", block_id: BLOCK_IDS.requestActions, elements: buttons });
  }
  if (options.delayedSince !== undefined) {
    blocks.push(
      context(
        `:hourglass: Posted late: asked for ${slackTime(options.delayedSince)}; the bot stopped before it could post this card.`,
      ),
    );
  }
  blocks.push(context(footerText(request)));
  return { text: fallbackText(request, options), blocks };
}

/** `:hourglass_flowing_sand: *Waiting for DNS and approval* · DKIM for *example.com*` */
function headline(request: DkimRequest, options: RequestMessageOptions): string {
  const badge = STATE_BADGES[request.state];
  const dry = options.dryRun && request.state === "active" ? " (DRY RUN)" : "";
  return `${badge.emoji} *${badge.label}*${dry} · DKIM for *${escapeText(request.domain)}*`;
}

/** What happens next and who does it (open states), or how it ended (final states). */
function nowLines(request: DkimRequest, options: RequestMessageOptions): string[] {
  const approvers =
    options.approvers === undefined || options.approvers.length === 0
      ? "an approver"
      : approversSubject(options.approvers);
  const decided = decidedText(request);
  switch (request.state) {
    case "pending": {
      const dns = request.lastDnsCheck?.status;
      const rotation =
        request.rotationOf === null
          ? []
          : [
              `*Rotation:* replaces selector ${inlineCode(request.rotationOf.selector)}, which signs until this key is active.`,
            ];
      if (dns === "live") {
        return [...rotation, `*Next:* the TXT record is live: ${approvers} clicks *Approve*.`];
      }
      const managed = request.publication;
      if (managed !== null && !managed.state.startsWith("failed") && dns !== "wrong") {
        return [
          ...rotation,
          `*Next:* dkim-bot publishes the TXT record in zone ${inlineCode(managed.zone)} itself; once it is live, ${approvers} clicks *Approve*.`,
        ];
      }
      const publish =
        dns === "wrong" ? "fixes the TXT record (see DNS)" : "publishes the TXT record below";
      const failedZone = managed?.state.startsWith("failed") ? managed.zone : undefined;
      const couldNot =
        failedZone === undefined
          ? []
          : [`dkim-bot could not publish it in zone ${inlineCode(failedZone)} (see the thread).`];
      return [
        ...rotation,
        ...couldNot,
        `*Next:* ${userMention(request.requesterId)} ${publish}, then ${approvers} clicks *Approve*.`,
      ];
    }
    case "applying":
      return [`Approved${decided}. Each step is reported in the thread.`];
    case "failed": {
      const said =
        request.lastError === null ? [] : [quoteLines(clip(request.lastError, MAX_ERROR))];
      const stillSigns =
        request.rotationOf === null
          ? []
          : [
              `Selector ${inlineCode(request.rotationOf.selector)} still signs mail for *${escapeText(request.domain)}*: nothing changed for it.`,
            ];
      return [
        `*Applying stopped* (approved${decided}):`,
        ...said,
        ...stillSigns,
        `*Next:* fix the cause, then ${approvers} clicks *Retry* (done steps are kept).`,
      ];
    }
    case "active":
      return [
        options.dryRun
          ? `*DRY RUN*: the key would now be installed and signing enabled for ${outgoingUsersText(request.usernames.length)}; nothing was changed. Approved${decided}.`
          : `SpamExperts signs mail for *${escapeText(request.domain)}* with selector ${inlineCode(request.selector)} (${outgoingUsersText(request.usernames.length)}). Approved${decided}. Keep the TXT record published.`,
      ];
    case "rejected": {
      const reason =
        request.rejectReason === null
          ? []
          : [quoteLines(clip(request.rejectReason, MAX_REASON * 2))];
      return [`*Rejected*${decided}.`, ...reason];
    }
    case "cancelled":
      return [`*Cancelled*${decided}.`];
    case "expired":
      return [
        `*Expired*${request.decidedAt === null ? "" : ` · ${slackTime(request.decidedAt)}`}: nobody approved it in time. Start again with \`/dkim setup\`.`,
      ];
    case "retiring": {
      const by =
        request.replacedBy === null
          ? "a newer key"
          : `selector ${inlineCode(request.replacedBy.selector)}`;
      const until = request.retireAfter === null ? "" : slackTime(request.retireAfter);
      if (retireIsDue(request, options)) {
        return [
          `Replaced by ${by} · ${slackTime(request.updatedAt)}. The overlap is over.`,
          `*Next:* remove this TXT record, or publish the revoked value below. The bot retires the key once DNS shows it; ${approvers} can also click *Mark retired*.`,
        ];
      }
      return [
        `Replaced by ${by} · ${slackTime(request.updatedAt)}. *Keep this TXT record published until ${until}*: mail signed with this key may still be in transit.`,
      ];
    }
    case "retired": {
      const by =
        request.retiredBy === null || request.retiredBy === "system"
          ? ": DNS shows its record gone or revoked"
          : ` by ${actorText(request.retiredBy)}`;
      return [
        `*Retired*${request.retiredAt === null ? "" : ` · ${slackTime(request.retiredAt)}`}${by}.${request.replacedBy === null ? "" : ` Replaced by selector ${inlineCode(request.replacedBy.selector)}.`}`,
      ];
    }
  }
}

/** A retiring key past its overlap: its record may go now. */
export function retireIsDue(
  request: Pick<DkimRequest, "state" | "retireAfter">,
  options: { now?: Date },
): boolean {
  return (
    request.state === "retiring" &&
    request.retireAfter !== null &&
    Date.parse(request.retireAfter) <= (options.now ?? new Date()).getTime()
  );
}

/** ` by <@U…> · today 10:42`, or "" before anyone decided. */
function decidedText(request: DkimRequest): string {
  if (request.decidedBy === null) return "";
  const when = request.decidedAt === null ? "" : ` · ${slackTime(request.decidedAt)}`;
  return ` by ${actorText(request.decidedBy)}${when}`;
}

/** DNS verdict, then the key and what it signs for: the facts an approver checks. */
function factsText(request: DkimRequest): string {
  const users =
    request.usernames.length === 1 && request.usernames[0] === request.domain
      ? "the domain itself"
      : usersText(request.usernames, MAX_USERS_TEXT);
  const testing = request.testing ? " with t=y (testing)" : "";
  const lines = [
    `*DNS:* ${dnsStatusText(request.lastDnsCheck)}`,
    `*Key:* ${keySizeText(request.bits)} ${inlineCode(request.fingerprint)}${testing} · *signs for* ${users}`,
  ];
  const noted = [
    request.reason === null ? "" : `*Reason:* ${escapeText(clip(request.reason, MAX_REASON))}`,
    request.ticket === null ? "" : `*Ticket:* ${escapeText(clip(request.ticket, MAX_REASON))}`,
  ].filter((line) => line !== "");
  if (noted.length > 0) lines.push(noted.join(" · "));
  return lines.join("\n");
}

/** The record stays useful while the key is (or is about to be) in use. */
export function showsRecord(request: Pick<DkimRequest, "state">): boolean {
  return ["pending", "applying", "failed", "active", "retiring"].includes(request.state);
}

function isOpen(request: Pick<DkimRequest, "state">): boolean {
  return ["pending", "applying", "failed"].includes(request.state);
}

/** Whether the TXT value needs more than one character-string (then the thread has the split). */
export function needsSplitForm(record: RecordToPublish): boolean {
  return record.value.length > 255;
}

/**
 * The name both ways (many DNS panels append the zone to what is typed, and typing the full
 * name there doubles it), then the value once, in one copyable block.
 */
function recordBlocks(request: DkimRequest, record: RecordToPublish): KnownBlock[] {
  const relative = nameRelativeToZone(record.name, request.domain);
  const blocks: KnownBlock[] = [
    {
      type: "section",
      fields: [
        field(`*DNS name* (TXT)\n${codeBlock(record.name)}`),
        field(
          `*If the panel adds* ${inlineCode(clip(request.domain, 80))}\n${codeBlock(relative)}`,
        ),
      ],
    },
    section(`*TXT value*\n${codeBlock(record.value)}`),
  ];
  if (needsSplitForm(record)) blocks.push(context(SPLIT_FORM_POINTER));
  return blocks;
}

function field(text: string) {
  return { type: "mrkdwn" as const, text: clip(text, LIMITS.sectionField) };
}

function footerText(request: DkimRequest): string {
  const asked =
    request.state === "pending" ? "" : ` · asked by ${userMention(request.requesterId)}`;
  return `Request \`${escapeText(request.id)}\`${asked} · created ${slackTime(request.createdAt)}`;
}

function buttonsFor(request: DkimRequest, options: RequestMessageOptions): Button[] {
  const id = { requestId: request.id };
  const value = encodeActionValue(id);
  const checkDns = checkDnsButton(request);
  const reject = { ...button("Reject", ACTION_IDS.reject, value), style: "danger" as const };
  // The requester's own way out (the card says so: only they can use it).
  const cancel = button("Cancel", ACTION_IDS.cancel, value);
  switch (request.state) {
    case "pending":
      return [checkDns, approveButton(request, options.dryRun), reject, cancel];
    case "failed":
      return [
        { ...button("Retry", ACTION_IDS.retry, value), style: "primary" },
        checkDns,
        reject,
        cancel,
      ];
    case "active":
      return [checkDns, rotateButton(request)];
    case "retiring":
      return retireIsDue(request, options) ? [checkDns, markRetiredButton(request)] : [checkDns];
    default:
      return [];
  }
}

export function checkDnsButton(request: Pick<DkimRequest, "id">): Button {
  return button("Check DNS", ACTION_IDS.checkDns, encodeActionValue({ requestId: request.id }));
}

/** Approve, bound to the key shown (its fingerprint), with a confirmation of what it does. */
export function approveButton(request: DkimRequest, dryRun: boolean): Button {
  return {
    ...button(
      "Approve",
      ACTION_IDS.approve,
      encodeActionValue({ requestId: request.id, fingerprint: request.fingerprint }),
    ),
    style: "primary",
    confirm: approveConfirm(request, dryRun),
  };
}

export function rotateButton(request: Pick<DkimRequest, "id">): Button {
  return button("Rotate", ACTION_IDS.rotate, encodeActionValue({ requestId: request.id }));
}

export function markRetiredButton(request: Pick<DkimRequest, "id">): Button {
  return {
    ...button("Mark retired", ACTION_IDS.markRetired, encodeActionValue({ requestId: request.id })),
    confirm: {
      title: plainText("Mark the old key retired?", LIMITS.confirmTitle),
      text: {
        type: "mrkdwn" as const,
        text: "Only once its TXT record is removed or revoked: mail signed with it then fails DKIM.",
      },
      confirm: plainText("Mark retired", 30),
      deny: plainText("Back", 30),
    },
  };
}

function approveConfirm(request: DkimRequest, dryRun: boolean) {
  const what = dryRun
    ? "DRY RUN: this shows the calls it would make and changes nothing."
    : `This installs the key on the SpamExperts cluster and enables signing for ${outgoingUsersText(request.usernames.length)}.`;
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

/**
 * The notification's text (mobile notifications show only this). A pending card's names the
 * approvers too, so their mention notifies wherever Slack reads it.
 */
function fallbackText(request: DkimRequest, options: RequestMessageOptions): string {
  const { dryRun } = options;
  const approval =
    options.approvers === undefined || options.approvers.length === 0
      ? "approve"
      : `approval by ${approversText(options.approvers)}`;
  const domain = escapeText(request.domain);
  const decidedBy = request.decidedBy === null ? "" : ` by ${actorText(request.decidedBy)}`;
  const text = (() => {
    switch (request.state) {
      case "pending":
        return `DKIM setup for ${domain} requested by ${userMention(request.requesterId)}: publish the TXT record, then ${approval}`;
      case "applying":
        return `DKIM setup for ${domain}: applying`;
      case "failed":
        return `DKIM setup for ${domain} failed: fix the cause, then retry`;
      case "active":
        return dryRun
          ? `DKIM for ${domain} would now be active (nothing was changed)`
          : `DKIM for ${domain} is active`;
      case "rejected":
        return `DKIM setup for ${domain} was rejected${decidedBy}`;
      case "cancelled":
        return `DKIM setup for ${domain} was cancelled${decidedBy}`;
      case "expired":
        return `DKIM setup for ${domain} expired without approval`;
      case "retiring":
        return `DKIM key ${escapeText(request.selector)} of ${domain} is retiring`;
      case "retired":
        return `DKIM key ${escapeText(request.selector)} of ${domain} is retired`;
    }
  })();
  return dryRun ? `DRY RUN: ${text}` : text;
}
