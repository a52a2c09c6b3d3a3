/**
 * Steps of the end-to-end tests, against a running harness: set up a request, publish its
 * record, click its buttons, fill its forms, ask `/dkim` something, and wait for the request
 * message, its thread or the fakes to reach a given point. Reading a message is in support.ts.
 */
import { splitIntoStrings } from "../../src/dkim/record.js";
import { ACTION_IDS, CALLBACK_IDS, REJECT_FIELDS, SETUP_FIELDS } from "../../src/slack/ui/ids.js";
import type { RecordedCall, StoredMessage } from "../helpers/fake-slack.js";
import type { RecordedRequest } from "../helpers/fake-spamexperts.js";
import type {
  BlockActionArgs,
  SlackHttpResponse,
  SlashCommandArgs,
  ViewStateInput,
} from "../helpers/slack-requests.js";
import { APPROVER, CHANNEL, type Harness, REQUESTER } from "./harness.js";
import {
  answerText,
  buttonsOf,
  buttonValue,
  hasNoButtons,
  recordValueShown,
  statusLinesIn,
  textsOf,
} from "./support.js";

/** A request as `setUp` left it: where its message is, and what it showed when posted. */
export interface RequestInSlack {
  /** As the bot stores it (lower case). */
  domain: string;
  selector: string;
  channel: string;
  /** ts of the request message (the thread's root). */
  ts: string;
  /** The TXT value shown for DNS. */
  value: string;
  /** The request message as first posted, buttons and all (see `currentMessage` for now). */
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

// ---- setting up and publishing -----------------------------------------------------------

/**
 * `/dkim setup <domain> selector=<selector> [extra]` by `userId` (default the requester) in
 * `channelId` (default CHANNEL), and the request message it posts.
 */
export async function setUp(
  harness: Harness,
  domain: string,
  selector: string,
  options: Partial<SlashCommandArgs> & { extra?: string } = {},
): Promise<RequestInSlack> {
  const { extra = "", ...args } = options;
  const ack = await harness.command(`setup ${domain} selector=${selector} ${extra}`.trim(), args);
  if (ack.status !== 200) throw new Error(`setup ${domain}: HTTP ${ack.status} ${ack.body}`);
  const channel = args.channelId ?? CHANNEL;
  const stored = domain.toLowerCase();
  const message = await harness.slack.waitUntil(
    () => requestMessagesFor(harness, channel, stored)[0],
    `the request message for ${stored} in ${channel}`,
    20_000,
  );
  // A copy: the fake updates its stored message in place on chat.update.
  const posted = structuredClone(message);
  return {
    domain: stored,
    selector,
    channel,
    ts: posted.ts,
    value: recordValueShown(posted),
    posted,
  };
}

export function recordName(request: Pick<RequestInSlack, "domain" | "selector">): string {
  return `${request.selector}._domainkey.${request.domain}`;
}

/** Publishes the request's record on the loopback DNS, split as a DNS admin would. */
export function publish(harness: Harness, request: RequestInSlack): void {
  harness.dns.setTxt(recordName(request), splitIntoStrings(request.value));
}

// ---- clicks, forms and commands ----------------------------------------------------------

/**
 * Clicks the `actionId` button of `message` (by default with the value the bot put there, as
 * the approver) with a response_url of its own; resolves with that URL once the click is acked.
 */
export async function clickButton(
  harness: Harness,
  message: StoredMessage,
  actionId: string,
  options: Partial<Pick<BlockActionArgs, "userId" | "value" | "triggerId">> = {},
): Promise<string> {
  const { value = buttonValue(message, actionId), ...rest } = options;
  const responseUrl = harness.slack.responseUrl();
  const ack = await harness.click({
    actionId,
    value,
    userId: APPROVER,
    channelId: message.channel,
    messageTs: message.ts,
    responseUrl,
    ...rest,
  });
  if (ack.status !== 200) throw new Error(`${actionId}: HTTP ${ack.status} ${ack.body}`);
  return responseUrl;
}

/** Clicks Approve on the request message as first posted; resolves with the click's response_url. */
export function clickApprove(
  harness: Harness,
  request: RequestInSlack,
  options: Partial<Pick<BlockActionArgs, "userId" | "value">> = {},
): Promise<string> {
  return clickButton(harness, request.posted, ACTION_IDS.approve, options);
}

/** A trigger_id no other click or command of the run has used. */
export function newTriggerId(): string {
  return `${Date.now()}.42.${Math.random().toString(16).slice(2)}`;
}

/** The view Slack was asked to open (views.open) for `triggerId`, once the bot asked. */
export async function openedView(
  harness: Harness,
  triggerId: string,
): Promise<Record<string, unknown>> {
  const opened = await harness.slack.waitForCall(
    "views.open",
    (call) => call.params.trigger_id === triggerId,
  );
  const view = opened.params.view;
  if (view === null || typeof view !== "object") throw new Error("views.open without a view");
  return view as Record<string, unknown>;
}

/** Clicks Reject on the request message as the approver: the form it opens. */
export async function openRejectForm(
  harness: Harness,
  request: RequestInSlack,
): Promise<Record<string, unknown>> {
  const triggerId = newTriggerId();
  await clickButton(harness, request.posted, ACTION_IDS.reject, { triggerId });
  return openedView(harness, triggerId);
}

/** Submits the reject form with `reason`, as the approver. */
export function submitRejectForm(
  harness: Harness,
  view: Record<string, unknown>,
  reason: string,
): Promise<SlackHttpResponse> {
  return harness.submit({
    callbackId: CALLBACK_IDS.rejectForm,
    privateMetadata: String(view.private_metadata),
    values: { [REJECT_FIELDS.reason.blockId]: { [REJECT_FIELDS.reason.actionId]: reason } },
    userId: APPROVER,
  });
}

export interface Answer {
  ack: SlackHttpResponse;
  /** Where the answer came: the ack body, or a POST to the command's own response_url. */
  via: "ack" | "response_url";
  /** The answer as sent (JSON), e.g. to read `response_type`. */
  body: unknown;
  text: string;
  responseUrl: string;
}

/**
 * Sends `/dkim <text>` with a response_url of its own and resolves with the person's answer:
 * the ack body when it carries one, else the first POST to that response_url.
 */
export async function commandAnswer(
  harness: Harness,
  text: string,
  args: Partial<SlashCommandArgs> = {},
): Promise<Answer> {
  const responseUrl = args.responseUrl ?? harness.slack.responseUrl();
  const ack = await harness.command(text, { ...args, responseUrl });
  if (ack.status !== 200) throw new Error(`/dkim ${text}: HTTP ${ack.status} ${ack.body}`);
  if (ack.json !== undefined) {
    return { ack, via: "ack", body: ack.json, text: answerText(ack.json), responseUrl };
  }
  const { body, text: answer } = await responseAt(harness, responseUrl);
  return { ack, via: "response_url", body, text: answer, responseUrl };
}

/** The lines `/dkim status <domain>` shows, one per request. */
export async function statusLines(harness: Harness, domain: string): Promise<string[]> {
  const answer = await commandAnswer(harness, `status ${domain}`);
  return statusLinesIn(answer.text, domain);
}

/** The first POST to `responseUrl`, once it comes, with the text a person reads in it. */
export async function responseAt(
  harness: Harness,
  responseUrl: string,
): Promise<{ body: unknown; text: string }> {
  const post = await harness.slack.waitForResponse((p) => p.url === responseUrl);
  return { body: post.body, text: answerText(post.body) };
}

// ---- the request message and its thread ----------------------------------------------------

/** The request message as it stands now (after every chat.update). */
export function currentMessage(harness: Harness, request: RequestInSlack): StoredMessage {
  const message = harness.slack.message(request.channel, request.ts);
  if (message === undefined) throw new Error(`no message ${request.ts} in ${request.channel}`);
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

/** Waits until the request message shows `label` (e.g. "Rejected") and has no buttons left. */
export function waitForFinal(
  harness: Harness,
  request: RequestInSlack,
  label: string,
): Promise<StoredMessage> {
  return harness.slack.waitUntil(
    () =>
      headline(harness, request).includes(`*${label}*`) &&
      hasNoButtons(currentMessage(harness, request)) &&
      currentMessage(harness, request),
    `the request message of ${request.domain} in its final ${label} state, without buttons`,
    20_000,
  );
}

/**
 * The request message in its final Active state and the thread's reply saying so. Once both
 * are there, the bot has nothing left to send for the request (the last redraw is done).
 */
export async function waitForActive(harness: Harness, request: RequestInSlack): Promise<void> {
  // An active card keeps exactly Check DNS and Rotate: nothing of the open request is left.
  await harness.slack.waitUntil(
    () =>
      headline(harness, request).includes("*Active*") &&
      buttonsOf(currentMessage(harness, request).blocks)
        .map((button) => button.action_id)
        .join(",") === `${ACTION_IDS.checkDns},${ACTION_IDS.rotate}`,
    `the request message of ${request.domain} Active, with only Check DNS and Rotate`,
    20_000,
  );
  await waitForReply(harness, request, /\*Active\*/);
}

export function replies(harness: Harness, request: RequestInSlack): StoredMessage[] {
  return harness.slack.threadReplies(request.channel, request.ts);
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

// ---- App Home ------------------------------------------------------------------------------

/** The first App Home published for `userId` after the `after`-th views.publish call: its view. */
export async function publishedHome(
  harness: Harness,
  userId: string,
  after: number,
): Promise<{ blocks?: unknown } & Record<string, unknown>> {
  const call = await harness.slack.waitUntil(
    () =>
      harness.slack
        .calls("views.publish")
        .slice(after)
        .find((each) => each.params.user_id === userId),
    `views.publish for ${userId}`,
    20_000,
  );
  return call.params.view as Record<string, unknown>;
}

// ---- what reached the fakes ----------------------------------------------------------------

/** The SpamExperts calls of an apply, as `apiCallsFor` lists them. */
export const CERTIFICATE = "api_set_dkim_certificate";
export const SELECTOR = "api_set_dkim_selector";

/** The top-level messages (not thread replies) the bot posted in `channel` about `domain`. */
export function requestMessagesFor(
  harness: Harness,
  channel: string,
  domain: string,
): StoredMessage[] {
  return harness.slack
    .postedMessages(channel)
    .filter(
      (message) =>
        message.threadTs === undefined &&
        textsOf(message.blocks).some((text) => text.includes(`*${domain}*`)),
    );
}

/** Every chat.postMessage that mentions `domain` anywhere (request messages, replies, DMs). */
export function postsMentioning(harness: Harness, domain: string): RecordedCall[] {
  return harness.slack.calls("chat.postMessage").filter((call) => call.rawBody.includes(domain));
}

/** The SpamExperts requests made for a domain, in order. */
export function apiRequestsFor(harness: Harness, domain: string): RecordedRequest[] {
  return harness.spamExperts.requests.filter((request) => request.params.domain === domain);
}

/** The SpamExperts calls made for a domain, in order, e.g. ["api_set_dkim_certificate"]. */
export function apiCallsFor(harness: Harness, domain: string): string[] {
  return apiRequestsFor(harness, domain).map((request) => request.params.call ?? "");
}

// ---- the bot still serving ------------------------------------------------------------------

/** GET /healthz of the running bot: its status code, or 0 when nothing answers. */
export async function healthStatus(harness: Harness): Promise<number> {
  try {
    const response = await fetch(`${harness.bot.url}/healthz`);
    await response.body?.cancel();
    return response.status;
  } catch {
    return 0;
  }
}

/** Every POST to `responseUrl` so far, as the texts a person reads, once `count` have come. */
export async function answersAt(
  harness: Harness,
  responseUrl: string,
  count: number,
  timeoutMs = 20_000,
): Promise<string[]> {
  const posts = await harness.slack.waitUntil(
    () => {
      const found = harness.slack.responses(responseUrl);
      return found.length >= count ? found : undefined;
    },
    `${count} answer(s) at ${responseUrl}`,
    timeoutMs,
  );
  return posts.map((post) => answerText(post.body));
}

/**
 * Submits the setup form as Slack would, with `privateMetadata` naming `channelId` (as the bot
 * sets it when it opens the form), the key size 1024 and no testing or reason.
 */
export function submitSetupForm(
  harness: Harness,
  fields: { channelId: string; domain: string; selector: string; users?: string | null },
): Promise<SlackHttpResponse> {
  const field = (ids: { blockId: string; actionId: string }, value: ViewStateInput) => ({
    [ids.blockId]: { [ids.actionId]: value },
  });
  return harness.submit({
    callbackId: CALLBACK_IDS.setupForm,
    privateMetadata: JSON.stringify({ channelId: fields.channelId }),
    values: {
      ...field(SETUP_FIELDS.domain, fields.domain),
      ...field(SETUP_FIELDS.selector, fields.selector),
      ...field(SETUP_FIELDS.bits, { select: "1024" }),
      ...field(SETUP_FIELDS.usernames, fields.users ?? null),
      ...field(SETUP_FIELDS.testing, { checked: [] }),
      ...field(SETUP_FIELDS.reason, null),
    },
    userId: REQUESTER,
  });
}
