/**
 * Steps of the bulk-setup tests (design.md flow 8), against a running harness: ask for a batch,
 * find its card and its thread, read its attached records, publish them, click its buttons.
 */
import { splitIntoStrings } from "../../src/dkim/record.js";
import { ACTION_IDS } from "../../src/slack/ui/ids.js";
import { parseCsv } from "../helpers/csv.js";
import type { StoredMessage, UploadedFile } from "../helpers/fake-slack.js";
import type { SlashCommandArgs } from "../helpers/slack-requests.js";
import { clickButton } from "./flows.js";
import { APPROVER, CHANNEL, type Harness } from "./harness.js";
import { buttonsOf, textsOf } from "./support.js";

export interface BatchInSlack {
  channel: string;
  /** ts of the batch card (its thread's root). */
  ts: string;
  /** The card as first posted. */
  posted: StoredMessage;
}

/** The batch cards posted in `channel`, oldest first (by the metadata the bot puts on them). */
export function batchCards(harness: Harness, channel = CHANNEL): StoredMessage[] {
  return harness.slack
    .postedMessages(channel)
    .filter(
      (message) =>
        message.threadTs === undefined &&
        (message.params.metadata as { event_type?: string } | undefined)?.event_type ===
          "dkim_batch_card",
    );
}

/** `/dkim setup <domains…> [extra]` and the batch card it posts (the `nth` in the channel). */
export async function bulkSetUp(
  harness: Harness,
  domains: readonly string[],
  options: Partial<SlashCommandArgs> & { extra?: string; separator?: string } = {},
): Promise<BatchInSlack> {
  const { extra = "", separator = " ", ...args } = options;
  const channel = args.channelId ?? CHANNEL;
  const before = batchCards(harness, channel).length;
  const ack = await harness.command(`setup ${domains.join(separator)} ${extra}`.trim(), args);
  if (ack.status !== 200 || ack.body !== "") {
    throw new Error(`bulk setup: HTTP ${ack.status} ${ack.body}`);
  }
  const card = await harness.slack.waitUntil(
    () => batchCards(harness, channel)[before],
    `a batch card in ${channel}`,
    20_000,
  );
  return { channel, ts: card.ts, posted: structuredClone(card) };
}

export function currentCard(harness: Harness, batch: BatchInSlack): StoredMessage {
  const message = harness.slack.message(batch.channel, batch.ts);
  if (message === undefined) throw new Error("the batch card is gone");
  return message;
}

export function cardText(harness: Harness, batch: BatchInSlack): string {
  return textsOf(currentCard(harness, batch).blocks).join("\n");
}

/** Waits until the card's text matches `pattern`. */
export function waitForCard(
  harness: Harness,
  batch: BatchInSlack,
  pattern: RegExp,
  timeoutMs = 60_000,
): Promise<StoredMessage> {
  return harness.slack.waitUntil(
    () => pattern.test(cardText(harness, batch)) && currentCard(harness, batch),
    `the batch card matching ${pattern}`,
    timeoutMs,
  );
}

export function batchReplies(harness: Harness, batch: BatchInSlack): StoredMessage[] {
  return harness.slack.threadReplies(batch.channel, batch.ts);
}

export function replyTextsOf(harness: Harness, batch: BatchInSlack): string[] {
  return batchReplies(harness, batch).map((reply) =>
    [reply.text ?? "", ...textsOf(reply.blocks)].join("\n"),
  );
}

export function waitForBatchReply(
  harness: Harness,
  batch: BatchInSlack,
  pattern: RegExp,
  timeoutMs = 60_000,
): Promise<StoredMessage> {
  return harness.slack.waitUntil(
    () =>
      batchReplies(harness, batch).find((reply) =>
        pattern.test([reply.text ?? "", ...textsOf(reply.blocks)].join("\n")),
      ),
    `a reply matching ${pattern} in the batch thread`,
    timeoutMs,
  );
}

/** The zone file and the CSV attached in the batch's thread, once both are there. */
export async function attachedRecords(
  harness: Harness,
  batch: BatchInSlack,
  timeoutMs = 120_000,
): Promise<{ zone: UploadedFile; csv: UploadedFile; rows: string[][] }> {
  const files = await harness.slack.waitUntil(
    () => {
      const found = harness.slack
        .uploadedFiles(batch.channel)
        .filter((file) => file.threadTs === batch.ts);
      return found.length >= 2 ? found : undefined;
    },
    "the zone file and the CSV in the batch thread",
    timeoutMs,
  );
  const zone = files.find((file) => file.filename.endsWith(".zone"));
  const csv = files.find((file) => file.filename.endsWith(".csv"));
  if (zone === undefined || csv === undefined) throw new Error("no .zone and .csv attached");
  return { zone, csv, rows: parseCsv(csv.bytes?.toString("utf8") ?? "").slice(1) };
}

/** Publishes every record of the CSV on the loopback DNS, split as a DNS admin would. */
export function publishRows(harness: Harness, rows: readonly string[][]): void {
  for (const [name, , value] of rows) {
    if (name !== undefined && value !== undefined)
      harness.dns.setTxt(name, splitIntoStrings(value));
  }
}

/** The label of the card's button `actionId` now, or undefined. */
export function buttonLabel(
  harness: Harness,
  batch: BatchInSlack,
  actionId: string,
): string | undefined {
  const found = buttonsOf(currentCard(harness, batch).blocks).find(
    (button) => button.action_id === actionId,
  ) as { text?: { text?: string } } | undefined;
  return found?.text?.text;
}

/** Clicks a button of the card as it is now (as the approver by default): its response_url. */
export function clickCard(
  harness: Harness,
  batch: BatchInSlack,
  actionId: string,
  options: { userId?: string; value?: string; triggerId?: string } = {},
): Promise<string> {
  return clickButton(harness, structuredClone(currentCard(harness, batch)), actionId, {
    userId: options.userId ?? APPROVER,
    ...(options.value === undefined ? {} : { value: options.value }),
    ...(options.triggerId === undefined ? {} : { triggerId: options.triggerId }),
  });
}

export const BATCH_ACTIONS = ACTION_IDS;
