/**
 * `/dkim help`: the grammar with examples, and the rules this installation runs with (who
 * may approve, DNS and self-approval rules, dry run), so nobody has to ask an admin.
 */
import type { KeyBits } from "../../dkim/keys.js";
import { defaultSelector, KEY_SIZE_CHOICES } from "../../dkim/names.js";
import { DEFAULT_COMMAND, usageOf } from "../command-parser.js";
import {
  approverMention,
  channelMention,
  inlineCode as code,
  escapeText,
  joinWords,
  keySizeText,
} from "./format.js";
import { DRY_RUN_NOTICE } from "./request-message.js";

export interface HelpOptions {
  /** The slash command as configured in Slack. */
  command?: string;
  approvers: readonly string[];
  allowSelfApproval: boolean;
  requireDns: boolean;
  dryRun: boolean;
  defaultBits: KeyBits;
  requestTtlDays: number;
  /** Undefined: any channel. */
  allowedChannels?: readonly string[] | undefined;
  /** For the example of the default selector. */
  now: Date;
  /** DKIM_BATCH_MAX: most domains in one bulk setup. */
  batchMax?: number;
  /** After Active (DKIM_ROTATION_OVERLAP_DAYS, DKIM_ROTATE_AFTER_DAYS, DKIM_MONITOR_HOURS). */
  lifecycle?: { overlapDays: number; rotateAfterDays: number; monitorHours: number };
}

/** "7 days", "1 day", "0.5 days". */
function daysText(days: number): string {
  return `${days} ${days === 1 ? "day" : "days"}`;
}

export function helpText(options: HelpOptions): string {
  const command = options.command ?? DEFAULT_COMMAND;
  const example = defaultSelector(options.now);
  const approvers =
    options.approvers.length === 0
      ? "nobody yet"
      : joinWords(options.approvers.map(approverMention));
  const lines = [
    "*DKIM for SpamExperts*: the bot makes the key, shows the DNS record to publish, and once an approver agrees installs the key on the cluster. Everything that happens is posted in the request's thread.",
    "",
    "*Commands*",
    `• ${code(usageOf("setup", command))}: ask for DKIM on a domain. Example: ${code(`${command} setup example.com`)} or ${code(`${command} setup example.com selector=${example} bits=4096 user=mailer@example.com`)}`,
    `• Several domains (spaces, commas or new lines between them) make one batch with one card${options.batchMax === undefined ? "" : `, up to ${options.batchMax}`}: ${code(`${command} setup a.example b.example, c.example`)}. The records come as a zone file and a CSV in its thread; *Approve all live (N)* approves every domain whose record is live. \`user=\` works with one domain only.`,
    `• ${code(`${command} setup`)} alone opens a form with the same fields (one domain per line for a batch).`,
    `• ${code(usageOf("rotate", command))}: a new key for a domain that signs with one of the bot's keys, with a new selector and the same outgoing users; the old key stays published for the overlap. Example: ${code(`${command} rotate example.com`)}`,
    `• ${code(usageOf("status", command))}: open and recent requests.`,
    `• ${code(usageOf("domains", command))}: every domain of the cluster and how its DKIM stands, counts first; a state word or part of a name narrows it down. Example: ${code(`${command} domains none`)} or ${code(`${command} domains .nl`)}`,
    `• ${code(usageOf("check", command))}: what DNS publishes for a domain, also one the bot did not set up. Example: ${code(`${command} check example.com ${example}`)}`,
    `• ${code(usageOf("help", command))}: this text.`,
    "",
    "*Defaults*",
    `• Selector: s + the year and month in UTC, e.g. \`${example}\` (with -2, -3 … when the domain used it before: a selector is never reused).`,
    `• Key size: ${keySizeText(options.defaultBits)}; \`bits=\` takes ${KEY_SIZE_CHOICES}.`,
    "• Outgoing users: the domain itself (domain-level signing). Give `user=` once per outgoing user to sign for those instead.",
    "• `testing` publishes the record with t=y.",
    "",
    "*Approval*",
    `• Who may approve: ${approvers}.`,
    options.allowSelfApproval
      ? "• The requester may approve their own request."
      : "• The requester may not approve their own request: someone else must.",
    options.requireDns
      ? "• Approve works once the TXT record is live and matches the key; the bot checks DNS again at the click."
      : "• Approve works whether or not the TXT record is live yet; publish it before mail is signed.",
    `• A request nobody approves expires after ${options.requestTtlDays} ${options.requestTtlDays === 1 ? "day" : "days"}.`,
  ];
  const life = options.lifecycle;
  if (life !== undefined) {
    lines.push(
      "",
      "*After Active*",
      `• Every ${life.monitorHours === 1 ? "hour" : `${life.monitorHours} hours`} the bot checks each active key's record and says in its thread (and the alert channel) when it breaks or comes back.`,
      `• After a rotation the old key's record stays for ${daysText(life.overlapDays)}, for mail in transit; then the bot says to remove or revoke it, and retires the key once DNS shows it.`,
      life.rotateAfterDays > 0
        ? `• A key older than ${daysText(life.rotateAfterDays)} gets a reminder to rotate it (again every 30 days while it stays).`
        : "• Key-age reminders are off (DKIM_ROTATE_AFTER_DAYS=0).",
    );
  }
  if (options.allowedChannels !== undefined && options.allowedChannels.length > 0) {
    lines.push(
      "",
      `${escapeText(command)} works in ${joinWords(options.allowedChannels.map(channelMention))}.`,
    );
  }
  if (options.dryRun) lines.push("", `:construction: ${DRY_RUN_NOTICE}`);
  return lines.join("\n");
}
