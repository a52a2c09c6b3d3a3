/**
 * The audit trail in the request's thread: one short reply per event, with who and when.
 * A reply shows only what the event carries (plus the request's public facts), and events
 * never carry key material.
 */
import type { KnownBlock } from "@slack/types";
import type { AuditDetails, AuditEvent, DkimRequest } from "../../requests/model.js";
import { describeCall } from "../../spamexperts/dry-run.js";
import {
  actorText,
  clip,
  codeBlock,
  escapeText,
  inlineCode,
  keySizeText,
  quoteLines,
  section,
  slackTime,
} from "./format.js";
import { ACTION_IDS, BLOCK_IDS, encodeActionValue } from "./ids.js";
import { button } from "./request-message.js";
import { STATE_BADGES } from "./state-badge.js";

/**
 * The detail keys read here (requests/service.ts writes them). All optional: a reply reads
 * well without them.
 * - `summary`: the DNS verdict sentence (dns-live, dns-problem)
 * - `message`: the sentence of the first DNS problem (dns-problem)
 * - `dns`: the DNS verdict at the click (approved)
 * - `call`: the API call, e.g. `api_set_dkim_selector` (certificate-installed, selector-enabled, failed)
 * - `username`: the outgoing user (selector-enabled, failed)
 * - `text` or `apiText`: the API's own response text (certificate-installed, selector-enabled, failed)
 * - `dryRun`: the call was only recorded (certificate-installed, selector-enabled, active)
 * - `step`: where applying stopped, "certificate" or "selector for <user>" (failed)
 * - `error`: the explanation of a failure, the API's words included (failed)
 * - `description`: the call as it would have been made, without secrets (dry run)
 * - `reason`: the reason given (rejected, cancelled)
 * - `ttlDays`: how long the request could wait (expired)
 */
export const EVENT_DETAIL_KEYS = [
  "summary",
  "message",
  "dns",
  "call",
  "username",
  "text",
  "apiText",
  "step",
  "error",
  "description",
  "reason",
  "ttlDays",
] as const;

export interface ThreadEventOptions {
  dryRun: boolean;
}

const MAX_API_TEXT = 1500;
const MAX_SENTENCE = 500;

export function threadEventText(
  event: AuditEvent,
  request: DkimRequest,
  options: ThreadEventOptions,
): string {
  const { title, emoji, lines } = describe(event, request, options.dryRun);
  const head = `${emoji} *${title}* · ${actorText(event.actorId)} · ${slackTime(event.at)}`;
  return [head, ...lines.filter((line) => line !== "")].join("\n");
}

/** The failure reply with a Retry button under it while the request is still failed. */
export function failedEventBlocks(
  event: AuditEvent,
  request: DkimRequest,
  options: ThreadEventOptions,
): KnownBlock[] {
  const blocks: KnownBlock[] = [section(threadEventText(event, request, options))];
  if (event.kind === "failed" && request.state === "failed") {
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
  return blocks;
}

/** The reply as chat.postMessage takes it: blocks only where a button is needed. */
export function threadEventMessage(
  event: AuditEvent,
  request: DkimRequest,
  options: ThreadEventOptions,
): { text: string; blocks?: KnownBlock[] } {
  const text = threadEventText(event, request, options);
  if (event.kind !== "failed") return { text };
  return { text, blocks: failedEventBlocks(event, request, options) };
}

interface Described {
  emoji: string;
  title: string;
  lines: string[];
}

function describe(event: AuditEvent, request: DkimRequest, dryRunMode: boolean): Described {
  const details = event.details;
  // The event knows best whether its call was only recorded; the mode covers older events.
  const dryRun = dryRunMode || details.dryRun === true;
  const domain = `*${escapeText(request.domain)}*`;
  const selector = inlineCode(request.selector);
  switch (event.kind) {
    case "created":
      return {
        emoji: ":new:",
        title: "Request created",
        lines: [
          `DKIM for ${domain}, selector ${selector}, ${keySizeText(request.bits)}, key ${inlineCode(request.fingerprint)}.`,
        ],
      };
    case "dns-live":
      return {
        emoji: ":white_check_mark:",
        title: "DNS record is live",
        lines: [sentence(details, "summary")],
      };
    case "dns-problem": {
      const summary = sentence(details, "summary");
      const message = sentence(details, "message");
      return {
        emoji: ":warning:",
        title: "DNS record is not right yet",
        lines: [summary, message === summary ? "" : message],
      };
    }
    case "approved":
      return {
        emoji: ":+1:",
        title: "Approved",
        lines: [
          text(details, "dns") === undefined ? "" : `DNS: ${sentence(details, "dns")}`,
          dryRun ? "DRY RUN: the calls are only shown, nothing changes." : "",
        ],
      };
    case "certificate-installed":
      return dryRun
        ? {
            emoji: ":construction:",
            title: "DRY RUN: certificate not installed",
            lines: wouldHaveCalled(
              details,
              describeCall("api_set_dkim_certificate", {
                domain: request.domain,
                certificate: `[redacted: ${request.bits}-bit RSA private key, ${request.fingerprint}]`,
                selector: request.selector,
              }),
            ),
          }
        : {
            emoji: ":closed_lock_with_key:",
            title: "Certificate installed",
            lines: [
              `${inlineCode(callOf(details, "api_set_dkim_certificate"))} succeeded.`,
              ...apiSaid(details),
            ],
          };
    case "selector-enabled": {
      const user = text(details, "username");
      const forUser = user === undefined ? "" : ` for ${inlineCode(clip(user, 254))}`;
      return dryRun
        ? {
            emoji: ":construction:",
            title: `DRY RUN: signing not enabled${forUser}`,
            lines: wouldHaveCalled(
              details,
              describeCall("api_set_dkim_selector", {
                domain: request.domain,
                selector: request.selector,
                username: user ?? request.domain,
              }),
            ),
          }
        : {
            emoji: ":pencil2:",
            title: `Signing enabled${forUser}`,
            lines: [
              `${inlineCode(callOf(details, "api_set_dkim_selector"))} succeeded.`,
              ...apiSaid(details),
            ],
          };
    }
    case "active":
      return {
        ...badge("active"),
        lines: [
          dryRun
            ? `DRY RUN: every call was shown and no cluster was changed. Selector ${selector} for ${domain}.`
            : `SpamExperts signs mail for ${domain} with selector ${selector}. The bot's copy of the private key is erased.`,
        ],
      };
    case "failed": {
      // The bot's sentence says what went wrong and what to do; it usually quotes the API's
      // own text too, which is shown on its own only when it does not.
      const error = text(details, "error");
      const apiText = text(details, "apiText");
      const said =
        apiText !== undefined && error?.includes(apiText) !== true ? apiSaid(details) : [];
      return {
        ...badge("failed"),
        lines: [
          failedStep(details),
          ...(error === undefined ? [] : [quoteLines(clip(error, MAX_API_TEXT))]),
          ...said,
          "Fix the cause, then click *Retry*: it goes on from the step that failed.",
        ],
      };
    }
    case "retried":
      return {
        emoji: ":repeat:",
        title: "Retry",
        lines: ["Going on from the step that failed."],
      };
    case "rejected":
      return { ...badge("rejected"), lines: [reasonLines(details)] };
    case "cancelled":
      return { ...badge("cancelled"), lines: [reasonLines(details)] };
    case "expired": {
      const days = details.ttlDays;
      const within =
        typeof days === "number" ? ` within ${days} ${days === 1 ? "day" : "days"}` : "";
      return {
        ...badge("expired"),
        lines: [
          `Nobody approved it${within}; the key is erased. Start again with \`/dkim setup\`.`,
        ],
      };
    }
    case "resumed":
      return {
        emoji: ":arrows_counterclockwise:",
        title: "Resumed",
        lines: ["The bot restarted while applying; it goes on from the last step that succeeded."],
      };
  }
}

/** Which step failed, from `call` and `username`, or from the service's `step`. */
function failedStep(details: AuditDetails): string {
  const call = text(details, "call");
  const user = text(details, "username");
  if (call !== undefined) {
    return `${inlineCode(call)}${user === undefined ? "" : ` for ${inlineCode(clip(user, 254))}`} failed.`;
  }
  const step = text(details, "step");
  if (step === "certificate") return "Installing the certificate failed.";
  const selectorFor = step?.match(/^selector for (.+)$/s)?.[1];
  if (selectorFor !== undefined) {
    return `Enabling signing for ${inlineCode(clip(selectorFor, 254))} failed.`;
  }
  return step === undefined
    ? "Applying stopped."
    : `Applying stopped at: ${escapeText(clip(step, 300))}.`;
}

function badge(state: "active" | "failed" | "rejected" | "cancelled" | "expired") {
  const { emoji, label } = STATE_BADGES[state];
  return { emoji, title: label };
}

/** A non-empty string detail, or undefined. */
function text(details: AuditDetails, key: (typeof EVENT_DETAIL_KEYS)[number]): string | undefined {
  const value = details[key];
  if (typeof value !== "string" || value.trim() === "") return undefined;
  // Events never carry keys; should one slip through a bug upstream, it still stays out of Slack.
  return LOOKS_LIKE_KEY.test(value) ? "[hidden: this text looked like key material]" : value.trim();
}

const LOOKS_LIKE_KEY = /-----BEGIN|PRIVATE KEY-----|MII[A-Za-z0-9+/]{60}/;

function sentence(details: AuditDetails, key: (typeof EVENT_DETAIL_KEYS)[number]): string {
  const value = text(details, key);
  return value === undefined ? "" : escapeText(clip(value, MAX_SENTENCE));
}

function callOf(details: AuditDetails, fallback: string): string {
  return text(details, "call") ?? fallback;
}

/** The API's own words, quoted so nobody mistakes them for the bot's. */
function apiSaid(details: AuditDetails): string[] {
  const said = text(details, "apiText") ?? text(details, "text");
  return said === undefined ? [] : ["The API said:", quoteLines(clip(said, MAX_API_TEXT))];
}

/** The event's own description of the call, else one made from the request's public facts. */
function wouldHaveCalled(details: AuditDetails, described: string): string[] {
  const description = text(details, "description") ?? described;
  return ["Would have called:", codeBlock(clip(description, MAX_API_TEXT))];
}

function reasonLines(details: AuditDetails): string {
  const reason = text(details, "reason");
  return reason === undefined ? "" : quoteLines(clip(reason, MAX_SENTENCE));
}
