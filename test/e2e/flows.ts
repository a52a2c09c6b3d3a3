/**
 * Steps of the request flow shared by the fault, restart, secret, dry-run and DNS-watcher
 * end-to-end tests: set up a request, publish its record, click its buttons, and wait for the
 * request message or its thread to reach a given point.
 */
import { splitIntoStrings } from "../../src/dkim/record.js";
import { ACTION_IDS } from "../../src/slack/ui/ids.js";
import type { StoredMessage } from "../helpers/fake-slack.js";
import type { FakeSpamExperts, RecordedRequest } from "../helpers/fake-spamexperts.js";
import { APPROVER, CHANNEL, type Harness } from "./harness.js";
import { buttonsOf, buttonValue, recordValueShown, textsOf } from "./support.js";

export interface RequestInSlack {
  domain: string;
  selector: string;
  /** ts of the request message in CHANNEL (the thread's root). */
  ts: string;
  /** The request id, read from the buttons the bot made. */
  requestId: string;
  /** The TXT value shown for DNS. */
  value: string;
  /** The request message as first posted (with its buttons). */
  posted: StoredMessage;
}

/** Resolves once `probe` gives a value, checking every 25 ms; for state outside fake Slack. */
export async function eventually<T>(
  probe: () => T | undefined | false,
  description: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** `/dkim setup <domain> selector=<selector> [extra]` by the requester, and its request message. */
export async function setUp(
  harness: Harness,
  domain: string,
  selector: string,
  extra = "",
): Promise<RequestInSlack> {
  const ack = await harness.command(`setup ${domain} selector=${selector} ${extra}`.trim());
  if (ack.status !== 200) throw new Error(`setup ${domain}: HTTP ${ack.status} ${ack.body}`);
  const call = await harness.slack.waitForCall(
    "chat.postMessage",
    (c) =>
      c.params.channel === CHANNEL &&
      c.params.thread_ts === undefined &&
      c.response.ok === true &&
      textsOf(c.params.blocks).some((text) => text.includes(`*${domain}*`)),
    20_000,
  );
  const ts = String(call.response.ts);
  const posted = harness.slack.message(CHANNEL, ts);
  if (posted === undefined) throw new Error(`the request message for ${domain} is not stored`);
  const requestId = buttonValue(posted, ACTION_IDS.approve).split("|")[0] ?? "";
  return { domain, selector, ts, requestId, value: recordValueShown(posted), posted };
}

export function recordName(request: Pick<RequestInSlack, "domain" | "selector">): string {
  return `${request.selector}._domainkey.${request.domain}`;
}

/** Publishes the request's record on the loopback DNS, split as the request message shows it. */
export function publish(harness: Harness, request: RequestInSlack): void {
  harness.dns.setTxt(recordName(request), splitIntoStrings(request.value));
}

/** Clicks Approve on the request message as first posted (the value the bot put there). */
export async function clickApprove(harness: Harness, request: RequestInSlack): Promise<void> {
  const ack = await harness.click({
    actionId: ACTION_IDS.approve,
    value: buttonValue(request.posted, ACTION_IDS.approve),
    userId: APPROVER,
    messageTs: request.ts,
  });
  if (ack.status !== 200) throw new Error(`Approve: HTTP ${ack.status} ${ack.body}`);
}

/** The request message as it stands now (after every chat.update). */
export function currentMessage(harness: Harness, request: RequestInSlack): StoredMessage {
  const message = harness.slack.message(CHANNEL, request.ts);
  if (message === undefined) throw new Error(`request message ${request.ts} is gone`);
  return message;
}

/** The headline of the request message, e.g. ":x: *Failed* · DKIM for *example.com* · …". */
export function headline(harness: Harness, request: RequestInSlack): string {
  const texts = textsOf(currentMessage(harness, request).blocks);
  return texts.find((text) => text.includes(" · DKIM for ")) ?? "";
}

/** Waits until the request message's headline shows `label` (a state badge, e.g. "Active"). */
export function waitForState(
  harness: Harness,
  request: RequestInSlack,
  label: string,
  timeoutMs = 20_000,
): Promise<StoredMessage> {
  return harness.slack.waitUntil(
    () => headline(harness, request).includes(`*${label}*`) && currentMessage(harness, request),
    `the request message of ${request.domain} showing ${label}`,
    timeoutMs,
  );
}

export function replies(harness: Harness, request: RequestInSlack): StoredMessage[] {
  return harness.slack.threadReplies(CHANNEL, request.ts);
}

export function replyTexts(harness: Harness, request: RequestInSlack): string[] {
  return replies(harness, request).map((reply) => reply.text ?? "");
}

/** Waits for a reply in the request's thread whose text matches `pattern`. */
export function waitForReply(
  harness: Harness,
  request: RequestInSlack,
  pattern: RegExp,
  timeoutMs = 20_000,
): Promise<StoredMessage> {
  return harness.slack.waitUntil(
    () => replies(harness, request).find((reply) => pattern.test(reply.text ?? "")),
    `a reply matching ${pattern} in the thread of ${request.domain}`,
    timeoutMs,
  );
}

/** The SpamExperts requests made for a domain, in order. */
export function apiRequestsFor(spamExperts: FakeSpamExperts, domain: string): RecordedRequest[] {
  return spamExperts.requests.filter((request) => request.params.domain === domain);
}

export function apiCallsFor(spamExperts: FakeSpamExperts, domain: string): string[] {
  return apiRequestsFor(spamExperts, domain).map((request) => request.params.call ?? "");
}

/** Whether the message has no buttons left. */
export function hasNoButtons(message: Pick<StoredMessage, "blocks">): boolean {
  return buttonsOf(message.blocks).length === 0;
}
