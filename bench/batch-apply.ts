/**
 * Apply throughput (issue 16): "Approve all live (100)" on one batch card against a
 * SpamExperts stand-in that answers every call 200 ms after it came. The bot keeps at most
 * DKIM_APPLY_CONCURRENCY applies (and as many SpamExperts connections) going, so the ideal is
 * (domains x 2 calls x 200 ms) / concurrency; the target is within 1.3 x of that, with Slack
 * calls in the card's channel at about one a second (the pacer's burst of 3 allowed).
 */
import { performance } from "node:perf_hooks";
import { splitIntoStrings } from "../src/dkim/record.js";
import { ACTION_IDS } from "../src/slack/ui/ids.js";
import { buttonValue, textsOf } from "../test/e2e/support.js";
import { parseCsv } from "../test/helpers/csv.js";
import type { RecordedCall, StoredMessage } from "../test/helpers/fake-slack.js";
import type { LogTally, LoopReading } from "./protocol.js";
import { APPROVER, expectOk, REQUESTER, type Rig, SIGNING_SECRET, startRig } from "./rig.js";
import type { BenchScenario, BenchSection, Verdict } from "./section.js";
import { signedClick, signedCommand } from "./sender.js";
import { fixed, ms } from "./stats.js";

const LATENCY_MS = 200;
const CALLS_PER_DOMAIN = 2;
/** Within this factor of the ideal (domains x 2 calls x latency / concurrency). */
const THROUGHPUT_FACTOR = 1.3;
/** The pacer's burst: at most this many calls in any second of a channel. */
const BURST = 3;
/** "About one a second" sustained, made concrete. */
const SUSTAINED_PER_SECOND = 1.1;
const WAIT_MS = 180_000;

export interface ApplyRun {
  concurrency: number;
  domains: number;
  /** Click sent -> the last SpamExperts call answered. */
  applyMs: number;
  idealMs: number;
  /** Most SpamExperts calls open at once, seen by the stand-in. */
  peakInFlight: number;
  seCalls: number;
  /** Click sent -> the card shows every request active and no run going on. */
  cardFinalMs: number;
  /** Click sent -> the run's summary reply in the thread. */
  summaryMs: number;
  /** Web API calls in the card's channel from the click to the summary reply. */
  slackCalls: number;
  /** Most of those calls in any 1-second window. */
  maxPerSecond: number;
  /** Calls after the burst, per second over the rest of the run (first to last call). */
  sustainedPerSecond: number;
  /** Web API calls without a channel (users.info and the like) in the same span. */
  otherCalls: number;
  clickAckMs: number;
  /** The bot's CPU from the click to the summary reply, per request: event loop / all threads. */
  cpuPerRequestMs: { mainMs: number; processMs: number };
  /** The bot's event-loop delay over the same span. */
  loop: LoopReading;
}

interface Sizes {
  domains: number;
  concurrencies: number[];
}

const FULL: Sizes = { domains: 100, concurrencies: [4, 8, 16] };
const SMOKE: Sizes = { domains: 6, concurrencies: [4] };

function batchCard(rig: Rig, channel: string): StoredMessage | undefined {
  return rig.slack
    .postedMessages(channel)
    .find(
      (message) =>
        message.threadTs === undefined &&
        (message.params.metadata as { event_type?: string } | undefined)?.event_type ===
          "dkim_batch_card",
    );
}

function cardText(message: StoredMessage): string {
  return [message.text ?? "", ...textsOf(message.blocks)].join("\n");
}

function channelOf(call: RecordedCall): string | undefined {
  const { channel, channel_id: channelId } = call.params;
  if (typeof channel === "string") return channel;
  if (typeof channelId === "string") return channelId;
  return undefined;
}

/** Most items of `times` (ms, sorted) in any window of `windowMs`. */
export function maxInWindow(times: readonly number[], windowMs: number): number {
  let best = 0;
  let start = 0;
  for (let end = 0; end < times.length; end += 1) {
    while ((times[end] ?? 0) - (times[start] ?? 0) >= windowMs) start += 1;
    best = Math.max(best, end - start + 1);
  }
  return best;
}

function clickOn(rig: Rig, card: StoredMessage, actionId: string) {
  return signedClick(SIGNING_SECRET, {
    actionId,
    value: buttonValue(card, actionId),
    userId: APPROVER,
    channelId: card.channel,
    messageTs: card.ts,
    responseUrl: rig.slack.responseUrl(),
  });
}

async function oneRun(domains: number, concurrency: number, index: number) {
  const rig = await startRig({
    env: { DKIM_APPLY_CONCURRENCY: String(concurrency) },
    spamExperts: { latencyMs: LATENCY_MS },
  });
  try {
    const channel = `CBATCHAPPLY${index}`;
    const names = Array.from({ length: domains }, (_, n) => `a${n + 1}.example`);
    const ack = await rig.send(
      signedCommand(SIGNING_SECRET, {
        text: `setup ${names.join(" ")} selector=s1 bits=1024`,
        userId: REQUESTER,
        channelId: channel,
        responseUrl: rig.slack.responseUrl(),
      }),
    );
    expectOk(ack.status, "/dkim setup of the batch");
    const posted = await rig.slack.waitUntil(
      () => batchCard(rig, channel),
      "the batch card",
      WAIT_MS,
    );
    // The records, as the bot attaches them (CSV), published on the loopback DNS server.
    const csv = await rig.slack.waitUntil(
      () =>
        rig.slack
          .uploadedFiles(channel)
          .find((file) => file.threadTs === posted.ts && file.filename.endsWith(".csv")),
      "the batch's CSV in its thread",
      WAIT_MS,
    );
    const rows = parseCsv(csv.bytes?.toString("utf8") ?? "").slice(1);
    for (const [name, , value] of rows) {
      if (name !== undefined && value !== undefined) rig.dns.setTxt(name, splitIntoStrings(value));
    }
    const current = () => rig.slack.message(channel, posted.ts) ?? posted;
    await rig.slack.waitUntil(
      () => /not checked yet/.test(cardText(current())),
      "the card with every key made",
      WAIT_MS,
    );
    const checked = await rig.send(clickOn(rig, current(), ACTION_IDS.batchCheckDns));
    expectOk(checked.status, "Check DNS");
    const allLive = new RegExp(`Approve all live \\(${domains}\\)`);
    await rig.slack.waitUntil(
      () => allLive.test(cardText(current())),
      `the card offering Approve all live (${domains})`,
      WAIT_MS,
    );
    // Let the card's and thread's own news (all live) go out, so the span below is the apply's.
    await rig.slack.waitUntil(
      () =>
        rig.slack
          .threadReplies(channel, posted.ts)
          .some((reply) => /Every record of this batch is live/.test(cardText(reply))),
      "the all-live reply",
      WAIT_MS,
    );
    await new Promise((resolve) => setTimeout(resolve, 3000));

    rig.spamExperts.reset();
    let lastAnswer = 0;
    rig.spamExperts.onAnswer(() => {
      lastAnswer = performance.now();
    });
    const callsBefore = rig.slack.calls().length;
    await rig.bot.resetLoop();
    const cpuBefore = await rig.bot.cpu();
    const click = clickOn(rig, current(), ACTION_IDS.batchApproveLive);
    const clickedAt = Date.now();
    const sent = performance.now();
    const clicked = await rig.send(click);
    expectOk(clicked.status, "Approve all live");
    const finalRe = new RegExp(`${domains} active`);
    const cardFinal = rig.slack.waitUntil(
      () => {
        const card = current();
        const text = cardText(card);
        return finalRe.test(text) && !/Applying|applying/.test(text) ? performance.now() : false;
      },
      "the card's final state",
      WAIT_MS,
    );
    const summary = rig.slack.waitUntil(
      () =>
        rig.slack
          .threadReplies(channel, posted.ts)
          .some((reply) => /\*Approved\* by/.test(cardText(reply)))
          ? performance.now()
          : false,
      "the run's summary reply",
      WAIT_MS,
    );
    const [cardFinalAt, summaryAt] = await Promise.all([cardFinal, summary]);
    const cpuAfter = await rig.bot.cpu();
    const loop = await rig.bot.readLoop();
    const seCalls = rig.spamExperts.requests.length;
    if (seCalls !== domains * CALLS_PER_DOMAIN) {
      throw new Error(`bench: ${seCalls} SpamExperts calls, expected ${domains * 2}`);
    }
    const calls = rig.slack.calls().slice(callsBefore);
    const inChannel = calls
      .filter((call) => channelOf(call) === channel)
      .map((call) => call.at.getTime() - clickedAt)
      .sort((a, b) => a - b);
    const afterBurst = inChannel.slice(BURST);
    const span = ((afterBurst.at(-1) ?? 0) - (inChannel[0] ?? 0)) / 1000;
    const run: ApplyRun = {
      concurrency,
      domains,
      applyMs: lastAnswer - sent,
      idealMs: (domains * CALLS_PER_DOMAIN * LATENCY_MS) / concurrency,
      peakInFlight: rig.spamExperts.peakInFlight,
      seCalls,
      cardFinalMs: cardFinalAt - sent,
      summaryMs: summaryAt - sent,
      slackCalls: inChannel.length,
      maxPerSecond: maxInWindow(inChannel, 1000),
      sustainedPerSecond: span > 0 ? afterBurst.length / span : Number.NaN,
      otherCalls: calls.filter((call) => channelOf(call) === undefined).length,
      clickAckMs: clicked.ms,
      cpuPerRequestMs: {
        mainMs: (cpuAfter.mainMs - cpuBefore.mainMs) / domains,
        processMs: (cpuAfter.processMs - cpuBefore.processMs) / domains,
      },
      loop,
    };
    const logs = await rig.bot.logs();
    return { run, logs };
  } finally {
    await rig.close();
  }
}

export const batchApply: BenchScenario = {
  id: "batch-apply",
  title: "apply throughput: Approve all live on a batch, SpamExperts at 200 ms a call",
  async run({ smoke, number }): Promise<BenchSection> {
    const sizes = smoke ? SMOKE : FULL;
    const runs: ApplyRun[] = [];
    const logs: LogTally[] = [];
    for (const [index, concurrency] of sizes.concurrencies.entries()) {
      const result = await oneRun(sizes.domains, concurrency, index);
      runs.push(result.run);
      logs.push(result.logs);
    }
    const verdicts: Verdict[] = runs.flatMap((run) => [
      {
        name: `Approve all live (${run.domains}), DKIM_APPLY_CONCURRENCY=${run.concurrency}: click -> last SpamExperts call answered`,
        figure: `${ms(run.applyMs)} (${fixed(run.applyMs / run.idealMs)} x the ideal ${ms(run.idealMs)})`,
        target: `<= ${THROUGHPUT_FACTOR} x ideal (${ms(THROUGHPUT_FACTOR * run.idealMs)})`,
        met: run.applyMs <= THROUGHPUT_FACTOR * run.idealMs,
      },
      {
        name: `SpamExperts calls in flight at once, DKIM_APPLY_CONCURRENCY=${run.concurrency}`,
        figure: `${run.peakInFlight}`,
        target: `<= ${run.concurrency}`,
        met: run.peakInFlight <= run.concurrency,
      },
      {
        name: `Slack calls in the card's channel during the apply, DKIM_APPLY_CONCURRENCY=${run.concurrency}`,
        figure: `${run.slackCalls} calls, at most ${run.maxPerSecond} in any second, ${fixed(run.sustainedPerSecond)}/s after the burst`,
        target: `<= ${BURST} in any second, about 1/s sustained (<= ${SUSTAINED_PER_SECOND})`,
        met: run.maxPerSecond <= BURST && !(run.sustainedPerSecond > SUSTAINED_PER_SECOND),
      },
    ]);
    const markdown = [
      `## ${number}. Apply throughput: Approve all live on ${sizes.domains} requests`,
      "",
      `One bulk \`/dkim setup\` of ${sizes.domains} domains (1024-bit keys: the key size is not what is`,
      "measured) in a channel of its own; the records from the CSV the bot attaches are published",
      "on the loopback DNS server, Check DNS is clicked on the card, and once the card offers",
      `Approve all live (${sizes.domains}) an approver clicks it. The SpamExperts stand-in answers every call`,
      `${LATENCY_MS} ms after it came (\`latencyMs\`), so the ideal is ${sizes.domains} x ${CALLS_PER_DOMAIN} calls x ${LATENCY_MS} ms /`,
      "DKIM_APPLY_CONCURRENCY. A fresh bot process per concurrency. Peak in flight is counted by the",
      "stand-in. Slack calls: every Web API call fake Slack recorded for the card's channel from",
      "the click until the run's summary reply (card redraws and thread replies; the click's own",
      "response_url answer is not a channel call); per second = most in any sliding 1-second",
      `window; sustained = calls after the first ${BURST} (the pacer's burst) per second up to the last.`,
      "",
      "| Concurrency | Click ack | Click -> last SE call | Ideal | Ratio | SE calls (peak in flight) | Click -> card final | Click -> summary reply | Slack calls (channel / other) | Max in 1 s | Sustained /s | Bot CPU per request: event loop / all | Bot loop delay p99 / max |",
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
      ...runs.map(
        (run) =>
          `| ${run.concurrency} | ${ms(run.clickAckMs)} | ${ms(run.applyMs)} | ${ms(run.idealMs)} | ${fixed(run.applyMs / run.idealMs)} | ${run.seCalls} (${run.peakInFlight}) | ${ms(run.cardFinalMs)} | ${ms(run.summaryMs)} | ${run.slackCalls} / ${run.otherCalls} | ${run.maxPerSecond} | ${fixed(run.sustainedPerSecond)} | ${ms(run.cpuPerRequestMs.mainMs)} / ${ms(run.cpuPerRequestMs.processMs)} | ${ms(run.loop.p99)} / ${ms(run.loop.max)} |`,
      ),
      "",
      `Ideal is the formula of the target; with whole rounds of calls the floor is ceil(domains /`,
      `concurrency) x 2 x ${LATENCY_MS} ms (${sizes.concurrencies.map((c) => `${c}: ${ms(Math.ceil(sizes.domains / c) * CALLS_PER_DOMAIN * LATENCY_MS)}`).join(", ")}), so at 16 the target leaves`,
      "little room for the bot's own per-request work (DNS check, state writes in SQLite, audit",
      "events), which the 2 shared cores also spend on the stand-ins in the bench process.",
      "",
      "Before the fix (main at f12b5de, same machine, same scenario): the card was redrawn as each",
      "request came back rather than once a second, 25 / 18 / 8 Slack calls in the channel at",
      "concurrency 4 / 8 / 16, up to 5 / 7 / 3 in one second and 2.08 / 2.65 / 1.21 a second",
      "sustained (**MISSED** at 4 and 8). The batch notifier forgot a card's state once nothing was",
      "left to draw, and with it when the card was last drawn, so the next request's event",
      "redrew it at once, and the channel pacer, which forgets a channel once its queue is empty,",
      "let each redraw through with a fresh burst. The notifier now remembers when a card was last",
      "drawn for the redraw interval (src/slack/batch-notifier.ts).",
      "Apply times were the same before and after (10.5 / 5.7 / 3.6 s).",
      "",
      ...verdicts.map(
        (verdict) =>
          `- ${verdict.name}: ${verdict.figure}; target ${verdict.target}: ${verdict.met ? "**MET**" : "**MISSED**"}.`,
      ),
    ];
    return { verdicts, markdown, logs };
  },
};
