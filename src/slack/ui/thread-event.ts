/**
 * The replies in a request's thread: what happened, as few replies as say it. Slack already
 * shows the author and the time of each reply, so a reply starts with what happened and names
 * a person only where one acted ("Approved by @x"). Which event becomes which reply is decided
 * in thread-rules.ts; these builders only draw them. A reply shows what its event carries plus
 * the request's public facts, and events never carry key material.
 */
import type { KnownBlock } from "@slack/types";
import { quoteStrings } from "../../dkim/record.js";
import type {
  AuditDetails,
  AuditEvent,
  DkimRequest,
  RecordToPublish,
} from "../../requests/model.js";
import { isPublicKeyText } from "../../requests/redact.js";
import { describeCall } from "../../spamexperts/dry-run.js";
import {
  actorText,
  approversText,
  button,
  clip,
  codeBlock,
  context,
  escapeText,
  inlineCode,
  outgoingUsersText,
  quoteLines,
  type SlackMessage,
  section,
  slackTime,
  userMention,
  usersText,
} from "./format.js";
import { ACTION_IDS, BLOCK_IDS, encodeActionValue } from "./ids.js";
import {
  markRetiredButton,
  needsSplitForm,
  REVOKED_VALUE,
  rotateButton,
  showsRecord,
} from "./request-message.js";
import { STATE_BADGES, stateBadge } from "./state-badge.js";

/**
 * The detail keys read here (requests/service.ts writes them). All optional: a reply reads
 * well without them.
 * - `summary`: the DNS verdict sentence (dns-live, dns-problem)
 * - `message`: the sentence of the first DNS problem (dns-problem)
 * - `status`: the DNS verdict's status (dns-live, dns-problem); `previous`: the one before
 * - `call`: the API call, e.g. `api_set_dkim_selector` (certificate-installed, selector-enabled, failed)
 * - `username`: the outgoing user (selector-enabled, failed)
 * - `text` or `apiText`: the API's own response text (certificate-installed, selector-enabled, failed)
 * - `dryRun`: the call was only recorded (certificate-installed, selector-enabled, active)
 * - `step`: where applying stopped, "certificate" or "selector for <user>" (failed)
 * - `error`: the explanation of a failure, the API's words included (failed)
 * - `reason`: the reason given (rejected, cancelled)
 * - `ttlDays`: how long the request could wait (expired)
 * - `selector`: the new key's selector (rotation-started)
 * - `replacedBy`, `retireAfter`: the successor's selector and the end of the overlap (retiring)
 * - `ageDays`, `rotateAfterDays`: the key's age and the limit (rotation-due)
 * - `zone`, `wanted`: the managed zone and what the bot tried (dns-published, dns-publish-failed, ...)
 * - `expiresAt`, `ttlDays`: when the request expires, and DKIM_REQUEST_TTL_DAYS (expiry-reminder)
 * - `firstLive`: false when the record was live before (dns-live): the approvers were told then
 */
export const EVENT_DETAIL_KEYS = [
  "summary",
  "message",
  "status",
  "previous",
  "call",
  "username",
  "text",
  "apiText",
  "step",
  "error",
  "reason",
  "ttlDays",
  "selector",
  "replacedBy",
  "retireAfter",
  "zone",
  "wanted",
  "expiresAt",
] as const;

type DetailKey = (typeof EVENT_DETAIL_KEYS)[number];

export interface ThreadReplyOptions {
  dryRun: boolean;
  /** DKIM_APPROVERS: named when the record turns live, since they act next. */
  approvers?: readonly string[] | undefined;
}

const MAX_API_TEXT = 1500;
const MAX_SENTENCE = 500;
/** Room for the list of outgoing users in an apply reply. */
const MAX_USERS_TEXT = 600;
/** Calls a dry-run apply reply spells out; the rest are counted. */
const MAX_CALLS_SHOWN = 3;
/** API remarks (on calls that succeeded) an apply reply quotes; the audit trail keeps all. */
const MAX_NOTES = 3;

// --- the record's split form: the thread's first reply -------------------------------------

/**
 * The TXT value as character-strings of at most 255, for DNS providers that take it so
 * (Route 53, zone files). Undefined when the value fits one string: the card's value is enough.
 */
export function recordReply(
  request: DkimRequest,
  record: RecordToPublish,
): SlackMessage | undefined {
  if (!showsRecord(request) || !needsSplitForm(record)) return undefined;
  const count = record.strings.length;
  const text = `Split form of the TXT value, for DNS providers with a 255-character limit per string: ${count} strings.`;
  return {
    text,
    blocks: [
      section(
        `:clipboard: *Split form* of the TXT value, for DNS providers that take at most 255 characters per string (e.g. Route 53, zone files): the same value as ${count} quoted strings. Paste them in this order, quotes included:\n${codeBlock(quoteStrings(record.strings))}`,
      ),
      context(
        "Providers that take one long value (most web panels) want the single TXT value in the request message instead; they split it themselves.",
      ),
    ],
  };
}

// --- replies that stand alone ---------------------------------------------------------------

/** DNS news, the outcome (Active), a decision (rejected, cancelled) or expiry: one reply each. */
export function eventReply(
  event: AuditEvent,
  request: DkimRequest,
  options: ThreadReplyOptions,
): SlackMessage {
  const text = eventText(event, request, options);
  return { text, blocks: [section(text)] };
}

function eventText(event: AuditEvent, request: DkimRequest, options: ThreadReplyOptions): string {
  const details = event.details;
  const domain = `*${escapeText(request.domain)}*`;
  switch (event.kind) {
    case "dns-live": {
      // "Live and matches the key." reads on from the title: "DNS record is live and matches…"
      const summary = sentence(details, "summary");
      const rest = summary.startsWith("Live and ")
        ? ` ${summary.slice("Live ".length)}`
        : summary === ""
          ? "."
          : `: ${summary}`;
      // Ready to approve: the approvers are mentioned (and so notified) the first time only.
      const who =
        request.state === "pending" &&
        details.firstLive !== false &&
        options.approvers !== undefined &&
        options.approvers.length > 0
          ? `\n${approversText(options.approvers)}: you can approve it now.`
          : "";
      return `:white_check_mark: *DNS record is live*${rest}${who}`;
    }
    case "dns-problem": {
      const message = sentence(details, "message") || sentence(details, "summary");
      const gone = text(details, "status") === "missing";
      return `:warning: *${gone ? "DNS record is gone" : "DNS record is not right yet"}*${message === "" ? "." : `: ${message}`}`;
    }
    case "active": {
      const users = outgoingUsersText(request.usernames.length);
      return options.dryRun || details.dryRun === true
        ? `:white_check_mark: *Active* (DRY RUN): the key would now be installed on the cluster and signing enabled for ${users}; nothing was changed.`
        : `:white_check_mark: *Active*: SpamExperts signs mail for ${domain} with selector ${inlineCode(request.selector)} (${users}). The bot's copy of the private key is erased.`;
    }
    case "rejected":
      return withReason(
        `${STATE_BADGES.rejected.emoji} *Rejected* by ${actorText(event.actorId)}`,
        details,
      );
    case "cancelled":
      return withReason(
        `${STATE_BADGES.cancelled.emoji} *Cancelled* by ${actorText(event.actorId)}`,
        details,
      );
    case "expiry-reminder":
      return expiryReminderText(details, request, options);
    case "expired": {
      const days = details.ttlDays;
      const within =
        typeof days === "number" ? ` within ${days} ${days === 1 ? "day" : "days"}` : "";
      return `${STATE_BADGES.expired.emoji} *Expired*: nobody approved it${within}; the key is erased. Start again with \`/dkim setup\`.`;
    }
    case "rotation-started": {
      const selector = text(details, "selector");
      return `:arrows_counterclockwise: *Rotation started* by ${actorText(event.actorId)}: a new key${selector === undefined ? "" : ` with selector ${inlineCode(selector)}`} waits for its DNS record and an approval. This key signs until it is active.`;
    }
    case "retiring": {
      const by = text(details, "replacedBy");
      const until = text(details, "retireAfter");
      return `${STATE_BADGES.retiring.emoji} *Replaced*${by === undefined ? "" : ` by selector ${inlineCode(by)}`}: SpamExperts signs with the new key now. *Keep this key's TXT record published*${until === undefined ? "" : ` until ${slackTime(until)}`}, for mail still in transit; the bot says when it may go.`;
    }
    case "retired":
      return event.actorId === "system"
        ? `${STATE_BADGES.retired.emoji} *Retired*: DNS shows the old record gone or revoked. Nothing more to do.`
        : `${STATE_BADGES.retired.emoji} *Retired* by ${actorText(event.actorId)}.`;
    case "dns-published":
      return `:inbox_tray: *Published* in zone ${inlineCode(text(details, "zone") ?? "")} by dkim-bot: the TXT record is there now; the DNS check tells when it is live.`;
    case "dns-removed":
      return `:outbox_tray: *Record removed* from zone ${inlineCode(text(details, "zone") ?? "")} by dkim-bot: the key was never used, so nothing is left behind.`;
    case "dns-revoked":
      return `:outbox_tray: *Record revoked* in zone ${inlineCode(text(details, "zone") ?? "")} by dkim-bot (now \`v=DKIM1; k=rsa; p=\`): verifiers see the old key as revoked; the key is retired once DNS shows it.`;
    case "dns-publish-failed": {
      const zone = inlineCode(text(details, "zone") ?? "");
      const wanted = text(details, "wanted");
      const what =
        wanted === "removed"
          ? "remove the record"
          : wanted === "revoked"
            ? "revoke the record"
            : "publish the record";
      const byHand =
        wanted === "published"
          ? "The card shows it: publish it by hand, or fix the cause; the bot tries again."
          : "Do it by hand, or fix the cause; the bot tries again.";
      return `:warning: *Could not ${what}* in zone ${zone}: ${sentence(details, "message")}\n${byHand}`;
    }
    case "monitor-recovered":
      return `:white_check_mark: *DNS record is back* for ${domain} (selector ${inlineCode(request.selector)}): ${sentence(details, "summary") || "live and matching."} Mail verifies again.`;
    default:
      // The apply's own events have their replies below; anything else says what it is.
      return `${stateBadge(request.state)}: ${escapeText(event.kind)}.`;
  }
}

/**
 * Before expiry (once): when the request ends, and who can still act, mentioned so Slack
 * notifies them: the requester (while the record is not live) and the approvers.
 */
function expiryReminderText(
  details: AuditDetails,
  request: DkimRequest,
  options: ThreadReplyOptions,
): string {
  const expiresAt = text(details, "expiresAt");
  const days = details.ttlDays;
  const when = expiresAt === undefined ? "soon" : slackTime(expiresAt);
  const ttl = typeof days === "number" ? ` (DKIM_REQUEST_TTL_DAYS is ${days})` : "";
  const head = `:alarm_clock: *Expires ${when}*${ttl} unless it is approved; then its key is erased and it must be asked for again.`;
  const approvers =
    options.approvers === undefined || options.approvers.length === 0
      ? "An approver"
      : approversText(options.approvers);
  const requester = userMention(request.requesterId);
  const next =
    request.lastDnsCheck?.status === "live"
      ? `${approvers}: the TXT record is live, so it waits only for you (approve or reject it). Asked by ${requester}.`
      : `${requester}: publish the TXT record shown on the card (or Cancel if it is no longer needed). ${approvers}: approve it once DNS is live.`;
  return `${head}\n${next}`;
}

// --- notices: after Active, what people must act on -------------------------------------------

export interface NoticeOptions extends ThreadReplyOptions {
  /** Whether its button (Rotate, Mark retired) still applies; the notifier redraws without. */
  buttons: boolean;
}

/**
 * A broken record of a key that signs, an old key, or an old record whose overlap is over:
 * what happened, what it means for mail, what to do, who must do it, and the button for it.
 */
export function noticeReply(
  event: AuditEvent,
  request: DkimRequest,
  options: NoticeOptions,
): SlackMessage {
  const head = noticeText(event, request, options);
  const blocks: KnownBlock[] = [section(head)];
  if (event.kind === "retire-due") {
    blocks.push(
      section(
        `*Revoked value*, to publish at ${inlineCode(`${request.selector}._domainkey.${request.domain}`)} instead of removing the record:\n${codeBlock(REVOKED_VALUE)}`,
      ),
    );
  }
  if (options.buttons) {
    blocks.push({
      type: "actions",
      block_id: BLOCK_IDS.noticeActions,
      elements: [event.kind === "retire-due" ? markRetiredButton(request) : rotateButton(request)],
    });
  }
  return { text: head, blocks };
}

function noticeText(event: AuditEvent, request: DkimRequest, options: ThreadReplyOptions): string {
  const details = event.details;
  const approvers =
    options.approvers === undefined || options.approvers.length === 0
      ? undefined
      : approversText(options.approvers);
  const ask = (what: string) => (approvers === undefined ? "" : `\n${approvers}: ${what}`);
  const domain = `*${escapeText(request.domain)}*`;
  const selector = inlineCode(request.selector);
  switch (event.kind) {
    case "monitor-problem": {
      const gone = text(details, "status") === "missing";
      const message = sentence(details, "message") || sentence(details, "summary");
      const signing = request.state === "active";
      const effect = gone
        ? signing
          ? "*Mail from this domain fails DKIM now*: SpamExperts signs with this key, and verifiers find no record."
          : "Mail signed with this key shortly before the rotation fails DKIM until the record is back."
        : signing
          ? "Verifiers may fail mail signed with this key until it is fixed."
          : "Mail still in transit signed with this key may fail DKIM.";
      return `:rotating_light: *DNS record ${gone ? "gone" : "broken"}* for ${domain} (selector ${selector}): ${message || "it no longer matches the key."}\n${effect}${ask("publish the record again (the card shows it), or rotate the key.")}`;
    }
    case "rotation-due": {
      const age = typeof details.ageDays === "number" ? details.ageDays : undefined;
      const limit =
        typeof details.rotateAfterDays === "number" ? details.rotateAfterDays : undefined;
      return `:calendar: *Time to rotate* the DKIM key of ${domain} (selector ${selector})${age === undefined ? "" : `: it is ${age} days old`}${limit === undefined ? "" : ` (DKIM_ROTATE_AFTER_DAYS is ${limit})`}. M3AAWG advises a new key about twice a year.${ask("click *Rotate* to start one; it goes through the same approval.")}`;
    }
    case "retire-due":
      return `:broom: *The old key can go*: the overlap after the rotation of ${domain} is over. Remove the TXT record of selector ${selector}, or publish the revoked value below; the bot retires the key once DNS shows it.${ask("or click *Mark retired* once it is done.")}`;
    default:
      return eventText(event, request, options);
  }
}

/**
 * A notice as the alert channel gets it (DKIM_ALERT_CHANNEL): the same words, a link to the
 * key's thread, the approvers mentioned, and its button.
 */
export function alertMessage(
  event: AuditEvent,
  request: DkimRequest,
  options: NoticeOptions & { permalink?: string | undefined },
): SlackMessage {
  const reply =
    event.kind === "monitor-recovered"
      ? eventReply(event, request, options)
      : noticeReply(event, request, options);
  const link =
    options.permalink === undefined
      ? []
      : [
          context(
            `<${options.permalink}|The key's card and thread> · request \`${escapeText(request.id)}\``,
          ),
        ];
  return { text: reply.text, blocks: [...reply.blocks, ...link] };
}

function withReason(head: string, details: AuditDetails): string {
  const reason = text(details, "reason");
  return reason === undefined ? head : `${head}\n${quoteLines(clip(reason, MAX_SENTENCE))}`;
}

// --- the apply: one reply, edited as its steps complete -------------------------------------

/**
 * The reply of one run of the apply, opened by the approval (or a retry, or the resume after a
 * restart) and edited as each step completes, so 100 outgoing users make one reply, not 100.
 * It shows the request's progress as a whole; `notes` are what the API said on steps that
 * succeeded (rare, and worth reading).
 */
export function applyReply(
  opener: AuditEvent,
  request: DkimRequest,
  options: ThreadReplyOptions,
  notes: readonly string[] = [],
  run: { cutShort?: boolean } = {},
): SlackMessage {
  const head = openerLine(opener);
  const dryRun = options.dryRun || opener.details.dryRun === true;
  const running = run.cutShort !== true && request.state === "applying";
  const lines = [head, ...(dryRun ? dryRunLines(request) : progressLines(request, running))];
  if (run.cutShort === true) {
    lines.push(":arrows_counterclockwise: Cut short by a restart: it goes on below.");
  }
  if (notes.length > 0) {
    const shown = notes.slice(0, MAX_NOTES);
    lines.push(...shown);
    if (notes.length > shown.length) {
      lines.push(`…and ${notes.length - shown.length} more remarks in the audit trail.`);
    }
  }
  const text = lines.join("\n");
  return { text, blocks: [section(text)] };
}

function openerLine(opener: AuditEvent): string {
  switch (opener.kind) {
    case "approved":
      return `:+1: *Approved* by ${actorText(opener.actorId)}`;
    case "retried":
      return `:repeat: *Retry* by ${actorText(opener.actorId)}: going on from the step that failed.`;
    case "resumed":
      return ":arrows_counterclockwise: *Resumed* after a restart: going on from the last step that succeeded.";
    default:
      return ":gear: *Applying*";
  }
}

/** One line per step: done, or (while this run goes on) under way. */
function progressLines(request: DkimRequest, applying: boolean): string[] {
  const lines: string[] = [];
  if (request.progress.certificateInstalled) {
    lines.push(":heavy_check_mark: Certificate installed");
  } else if (applying) {
    lines.push(":hourglass_flowing_sand: Installing the certificate…");
  }
  const done = request.progress.enabledUsernames;
  const all = request.usernames;
  if (done.length > 0) {
    const count = all.length === 1 ? "" : ` ${done.length} of ${all.length} outgoing users:`;
    lines.push(`:heavy_check_mark: Signing enabled for${count} ${usersText(done, MAX_USERS_TEXT)}`);
  }
  if (applying && request.progress.certificateInstalled && done.length < all.length) {
    const next = all.find((user) => !done.includes(user));
    if (next !== undefined) {
      lines.push(`:hourglass_flowing_sand: Enabling signing for ${inlineCode(clip(next, 254))}…`);
    }
  }
  if (request.state === "failed") lines.push(":x: Stopped: the failure is below.");
  return lines;
}

/** In a dry run: the calls it would have made, the certificate described, never shown. */
function dryRunLines(request: DkimRequest): string[] {
  const calls: string[] = [];
  if (request.progress.certificateInstalled) {
    calls.push(
      describeCall("api_set_dkim_certificate", {
        domain: request.domain,
        certificate: `[redacted: ${request.bits}-bit RSA private key, ${request.fingerprint}]`,
        selector: request.selector,
      }),
    );
  }
  const users = request.progress.enabledUsernames;
  for (const username of users.slice(0, MAX_CALLS_SHOWN)) {
    calls.push(
      describeCall("api_set_dkim_selector", {
        domain: request.domain,
        selector: request.selector,
        username,
      }),
    );
  }
  const head = ":construction: DRY RUN: nothing is changed.";
  if (calls.length === 0) return [head];
  const more =
    users.length > MAX_CALLS_SHOWN
      ? [
          `…and ${users.length - MAX_CALLS_SHOWN} more ${inlineCode("api_set_dkim_selector")} calls, one per outgoing user.`,
        ]
      : [];
  return [`${head} Would have called:`, codeBlock(clip(calls.join("\n"), MAX_API_TEXT)), ...more];
}

/** What the API said on a step that succeeded, for the apply reply; undefined when nothing. */
export function stepNote(event: AuditEvent): string | undefined {
  if (event.kind !== "certificate-installed" && event.kind !== "selector-enabled") return undefined;
  const said = text(event.details, "apiText") ?? text(event.details, "text");
  if (said === undefined) return undefined;
  const user = text(event.details, "username");
  const call =
    text(event.details, "call") ??
    (event.kind === "certificate-installed" ? "api_set_dkim_certificate" : "api_set_dkim_selector");
  const forUser = user === undefined ? "" : ` for ${inlineCode(clip(user, 254))}`;
  return `${inlineCode(call)}${forUser} said:\n${quoteLines(clip(said, MAX_SENTENCE))}`;
}

// --- the failure: its own reply, with Retry while the request is failed ---------------------

export interface FailureReplyOptions extends ThreadReplyOptions {
  /** The event that moved the request out of `failed` (a retry), once there is one. */
  resolvedBy?: AuditEvent | undefined;
}

/**
 * What failed, in the API's words, and what to do. Its Retry button is there only while the
 * request is failed: the notifier redraws this reply once it is not, so no stale Retry is left.
 */
export function failureReply(
  event: AuditEvent,
  request: DkimRequest,
  options: FailureReplyOptions,
): SlackMessage {
  const details = event.details;
  // The bot's sentence says what went wrong and what to do; it usually quotes the API's own
  // text too, which is shown on its own only when it does not.
  const error = text(details, "error");
  const apiText = text(details, "apiText");
  const said =
    apiText !== undefined && error?.includes(apiText) !== true
      ? ["The API said:", quoteLines(clip(apiText, MAX_API_TEXT))]
      : [];
  const stillFailed = request.state === "failed";
  const lines = [
    `${STATE_BADGES.failed.emoji} *Failed* ${failedStep(details)}`,
    ...(error === undefined ? [] : [quoteLines(clip(error, MAX_API_TEXT))]),
    ...said,
    stillFailed
      ? "Fix the cause, then click *Retry*: it goes on from the step that failed."
      : resolvedText(request, options.resolvedBy),
  ];
  const text_ = lines.join("\n");
  const blocks: KnownBlock[] = [section(text_)];
  if (stillFailed) {
    blocks.push({
      type: "actions",
      block_id: BLOCK_IDS.failedActions,
      elements: [
        {
          ...button("Retry", ACTION_IDS.retry, encodeActionValue({ requestId: request.id })),
          style: "primary",
        },
      ],
    });
  }
  return { text: text_, blocks };
}

function resolvedText(request: DkimRequest, resolvedBy: AuditEvent | undefined): string {
  if (resolvedBy?.kind === "retried") {
    return `:repeat: Retried by ${actorText(resolvedBy.actorId)}: see below.`;
  }
  return `Now: ${stateBadge(request.state)}.`;
}

/** "at `api_set_dkim_selector` for `mailer@…`:", from `call` and `username` or the service's `step`. */
function failedStep(details: AuditDetails): string {
  const call = text(details, "call");
  const user = text(details, "username");
  const forUser = (name: string) => ` for ${inlineCode(clip(name, 254))}`;
  if (call !== undefined) {
    return `at ${inlineCode(call)}${user === undefined ? "" : forUser(user)}:`;
  }
  const step = text(details, "step");
  if (step === "certificate") return "at installing the certificate:";
  const selectorFor = step?.match(/^selector for (.+)$/s)?.[1];
  if (selectorFor !== undefined) return `at enabling signing${forUser(selectorFor)}:`;
  return step === undefined ? "while applying:" : `at ${escapeText(clip(step, 300))}:`;
}

// --- details ---------------------------------------------------------------------------------

/** A non-empty string detail, or undefined. */
function text(details: AuditDetails, key: DetailKey): string | undefined {
  const value = details[key];
  if (typeof value !== "string" || value.trim() === "") return undefined;
  // Events never carry keys; should one slip through a bug upstream, it still stays out of Slack.
  return looksLikePrivateKey(value) ? "[hidden: this text looked like key material]" : value.trim();
}

/** A PEM marker, or DER base64 that is not a public key (those are fine to show). */
function looksLikePrivateKey(value: string): boolean {
  if (/-----BEGIN|PRIVATE KEY-----/.test(value)) return true;
  return [...value.matchAll(/MII[A-Za-z0-9+/]{60,}/g)].some((match) => !isPublicKeyText(match[0]));
}

function sentence(details: AuditDetails, key: DetailKey): string {
  const value = text(details, key);
  return value === undefined ? "" : escapeText(clip(value, MAX_SENTENCE));
}
