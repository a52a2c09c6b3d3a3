/** Reading what the bot posted, as a person (or Slack) would see it. */
import { splitIntoStrings } from "../../src/dkim/record.js";
import type { FakeSlack, RecordedCall, StoredMessage } from "../helpers/fake-slack.js";
import type { FakeSpamExperts } from "../helpers/fake-spamexperts.js";
import type {
  BlockActionArgs,
  SlackHttpResponse,
  SlashCommandArgs,
} from "../helpers/slack-requests.js";
import { CHANNEL, type Harness } from "./harness.js";

/** All strings inside a Block Kit structure, in order. */
export function textsOf(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(textsOf);
  if (value !== null && typeof value === "object") return Object.values(value).flatMap(textsOf);
  return [];
}

interface ButtonElement {
  type: "button";
  action_id: string;
  value?: string;
}

export function buttonsOf(blocks: unknown): ButtonElement[] {
  const found: ButtonElement[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) {
      value.forEach(walk);
    } else if (value !== null && typeof value === "object") {
      const record = value as Record<string, unknown>;
      if (record.type === "button" && typeof record.action_id === "string") {
        found.push(record as unknown as ButtonElement);
      }
      Object.values(record).forEach(walk);
    }
  };
  walk(blocks);
  return found;
}

export function buttonValue(message: Pick<StoredMessage, "blocks">, actionId: string): string {
  const button = buttonsOf(message.blocks).find((b) => b.action_id === actionId);
  if (button?.value === undefined) throw new Error(`no ${actionId} button on the message`);
  return button.value;
}

/** The TXT value shown in the request message's code block. */
export function recordValueShown(message: Pick<StoredMessage, "blocks">): string {
  for (const text of textsOf(message.blocks)) {
    const match = /```(v=DKIM1;[^`]*)```/.exec(text);
    if (match?.[1] !== undefined) return match[1].trim();
  }
  throw new Error("no TXT value shown on the request message");
}

// ---- helpers for the input, approval and verification tests ----------------------------

/** What a person reads in an answer (ack body or response_url post): its text and block texts. */
export function answerText(body: unknown): string {
  if (body === null || typeof body !== "object") return typeof body === "string" ? body : "";
  const record = body as Record<string, unknown>;
  const parts = [typeof record.text === "string" ? record.text : "", ...textsOf(record.blocks)];
  return parts.filter((part) => part !== "").join("\n");
}

/** The top-level messages (not thread replies) the bot posted in `channel` about `domain`. */
export function requestMessagesFor(
  slack: FakeSlack,
  channel: string,
  domain: string,
): StoredMessage[] {
  return slack
    .postedMessages(channel)
    .filter(
      (message) =>
        message.threadTs === undefined &&
        textsOf(message.blocks).some((text) => text.includes(`*${domain}*`)),
    );
}

/** Every chat.postMessage that mentions `domain` anywhere (request messages, replies, DMs). */
export function postsMentioning(slack: FakeSlack, domain: string): RecordedCall[] {
  return slack.calls("chat.postMessage").filter((call) => call.rawBody.includes(domain));
}

/** SpamExperts API calls made for `domain`. */
export function spamExpertsCallsFor(spamExperts: FakeSpamExperts, domain: string): string[] {
  return spamExperts.requests
    .filter((request) => request.params.domain === domain)
    .map((request) => String(request.params.call));
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
  const post = await harness.slack.waitForResponse((p) => p.url === responseUrl);
  return { ack, via: "response_url", body: post.body, text: answerText(post.body), responseUrl };
}

/** Clicks a button with a response_url of its own; resolves with the ack and that URL. */
export async function clickWithOwnUrl(
  harness: Harness,
  args: Partial<BlockActionArgs> & { actionId: string },
): Promise<{ ack: SlackHttpResponse; responseUrl: string }> {
  const responseUrl = args.responseUrl ?? harness.slack.responseUrl();
  const ack = await harness.click({ ...args, responseUrl });
  return { ack, responseUrl };
}

/** The first POST to `responseUrl`, once it comes, with the text a person reads in it. */
export async function responseAt(
  slack: FakeSlack,
  responseUrl: string,
): Promise<{ body: unknown; text: string }> {
  const post = await slack.waitForResponse((p) => p.url === responseUrl);
  return { body: post.body, text: answerText(post.body) };
}

export interface PostedRequest {
  ts: string;
  channel: string;
  /** The request message as first posted, buttons and all (see `currentMessage` for now). */
  message: StoredMessage;
  /** The TXT value shown for DNS. */
  value: string;
}

/**
 * `/dkim setup <domain> selector=<selector> ...` by `userId` (default the requester), and the
 * request message it posts.
 */
export async function setUpRequest(
  harness: Harness,
  domain: string,
  selector: string,
  args: Partial<SlashCommandArgs> & { extra?: string } = {},
): Promise<PostedRequest> {
  const { extra, ...commandArgs } = args;
  const channel = commandArgs.channelId ?? CHANNEL;
  const ack = await harness.command(
    `setup ${domain} selector=${selector}${extra === undefined ? "" : ` ${extra}`}`,
    commandArgs,
  );
  if (ack.status !== 200) throw new Error(`setup ${domain}: HTTP ${ack.status} ${ack.body}`);
  const message = await harness.slack.waitUntil(
    () => requestMessagesFor(harness.slack, channel, domain)[0],
    `the request message for ${domain}`,
  );
  // A copy: the fake updates its stored message in place on chat.update.
  const asPosted = structuredClone(message);
  return { ts: message.ts, channel, message: asPosted, value: recordValueShown(asPosted) };
}

/** Publishes the request's TXT record on the loopback DNS, split as a DNS admin would. */
export function publishRecord(harness: Harness, domain: string, selector: string, value: string) {
  harness.dns.setTxt(`${selector}._domainkey.${domain}`, splitIntoStrings(value));
}

/** The request message as it stands now (after chat.update calls). */
export function currentMessage(slack: FakeSlack, posted: PostedRequest): StoredMessage {
  const message = slack.message(posted.channel, posted.ts);
  if (message === undefined) throw new Error(`no message ${posted.ts} in ${posted.channel}`);
  return message;
}

/** Slack mrkdwn as a person reads it: `&lt;`, `&gt;` and `&amp;` shown as the characters. */
export function readable(text: string): string {
  return text.replace(/&(lt|gt|amp);/g, (_match, entity: string) =>
    entity === "lt" ? "<" : entity === "gt" ? ">" : "&",
  );
}

/**
 * The request message in its final Active state and the thread's reply saying so. Once both
 * are there, the bot has nothing left to send for the request (the last redraw is done).
 */
export async function waitForActive(slack: FakeSlack, posted: PostedRequest): Promise<void> {
  await slack.waitUntil(() => {
    const message = slack.message(posted.channel, posted.ts);
    return (
      message !== undefined &&
      buttonsOf(message.blocks).length === 0 &&
      textsOf(message.blocks).some((text) => text.includes("*Active*"))
    );
  }, "the request message in its final Active state");
  await slack.waitUntil(
    () =>
      slack
        .threadReplies(posted.channel, posted.ts)
        .some((reply) => (reply.text ?? "").includes("*Active*")),
    "the thread reply saying the request is active",
  );
}
