/**
 * What reaches the bot but must not act: requests Slack did not sign (bad or no signature, a
 * stale timestamp) get 401 and nothing else; deliveries Slack retries (X-Slack-Retry-Num) are
 * acked and ignored; commands from channels outside DKIM_ALLOWED_CHANNELS get one sentence.
 * And when the bot is not in the channel, the person is told to invite it and the request
 * does not stay open.
 */
import { setTimeout as pause } from "node:timers/promises";
import { beforeAll, describe, expect, it } from "vitest";
import { ACTION_IDS } from "../../src/slack/ui/ids.js";
import type { SignOptions } from "../helpers/slack-requests.js";
import {
  apiCallsFor,
  clickButton,
  commandAnswer,
  currentMessage,
  publish,
  replyTexts,
  requestMessagesFor,
  responseAt,
  setUp,
  statusLines,
  waitForActive,
} from "./flows.js";
import { APPROVER, CHANNEL, useBot } from "./harness.js";
import { buttonsOf, buttonValue, textsOf } from "./support.js";

/** Allowed, but the bot is not a member (until a test invites it). */
const NO_BOT_CHANNEL = "CNOBOT";
/** Not in DKIM_ALLOWED_CHANNELS. */
const OTHER_CHANNEL = "COTHER";

const harness = useBot({ DKIM_ALLOWED_CHANNELS: `${CHANNEL},${NO_BOT_CHANNEL}` });

beforeAll(async () => {
  // Bolt checks its token once at start-up; that call must not count as traffic of a test.
  await harness.slack.waitForCall("auth.test");
});

const UNSIGNED: ReadonlyArray<{ name: string; sign: SignOptions }> = [
  { name: "a bad signature", sign: { signature: "bad" } },
  { name: "no signature", sign: { signature: "missing" } },
  { name: "a stale timestamp", sign: { stale: true } },
];

/**
 * Where the Web API and response_url traffic stands now, to prove later that nothing came.
 * Slack's seq numbers count both.
 */
function trafficMark(): number {
  const { slack } = harness;
  const seqs = [...slack.calls(), ...slack.responses()].map((entry) => entry.seq);
  return Math.max(0, ...seqs);
}

function trafficSince(mark: number): string[] {
  const { slack } = harness;
  return [
    ...slack.calls().filter((call) => call.seq > mark),
    ...slack.responses().filter((post) => post.seq > mark),
  ].map((entry) => ("method" in entry ? entry.method : `response_url ${entry.id}`));
}

/**
 * A 401 is answered before any listener runs, so nothing can follow it; a short bounded pause
 * still gives a wrongly accepted request the time to show itself.
 */
async function expectNoTrafficSince(mark: number): Promise<void> {
  await pause(300);
  expect(trafficSince(mark)).toEqual([]);
}

describe("requests Slack did not sign", () => {
  for (const { name, sign } of UNSIGNED) {
    it(`answers a command with ${name} with 401 and does nothing`, async () => {
      const { slack, spamExperts } = harness;
      const domain = `unsigned-${sign.signature ?? "stale"}.example`;
      const mark = trafficMark();
      const responseUrl = slack.responseUrl();
      const response = await harness.command(`setup ${domain} selector=v1`, {
        ...sign,
        responseUrl,
      });
      expect(response.status).toBe(401);
      await expectNoTrafficSince(mark);

      // A signed command after it is served, and finds no request for the domain.
      expect(await statusLines(harness, domain)).toEqual([]);
      expect(slack.responses(responseUrl)).toEqual([]);
      expect(slack.calls().filter((call) => call.rawBody.includes(domain))).toEqual([]);
      expect(spamExperts.requests).toHaveLength(0);
    });
  }

  it("answers unsigned Approve clicks with 401, and the request stays pending", async () => {
    const { slack } = harness;
    const request = await setUp(harness, "click-verify.example", "v1");
    publish(harness, request);
    const value = buttonValue(request.posted, ACTION_IDS.approve);

    const mark = trafficMark();
    const responseUrls: string[] = [];
    for (const { sign } of UNSIGNED) {
      const responseUrl = slack.responseUrl();
      responseUrls.push(responseUrl);
      const response = await harness.click({
        actionId: ACTION_IDS.approve,
        value,
        userId: APPROVER,
        messageTs: request.ts,
        responseUrl,
        ...sign,
      });
      expect(response.status).toBe(401);
    }
    await expectNoTrafficSince(mark);

    // A signed click afterwards is served: DNS is live, so only the signature held them back.
    const checkUrl = await clickButton(harness, request.posted, ACTION_IDS.checkDns);
    expect((await responseAt(harness, checkUrl)).text).toMatch(/\*Live\*/);
    // ...and says so in the thread and on the message, the last it sends for this request.
    await slack.waitUntil(
      () =>
        replyTexts(harness, request).some((text) => text.includes("*DNS record is live*")) &&
        textsOf(currentMessage(harness, request).blocks).some((text) =>
          text.includes("the TXT record is live"),
        ),
      "the thread reply and the message saying DNS is live",
    );

    for (const url of responseUrls) expect(slack.responses(url)).toEqual([]);
    expect(apiCallsFor(harness, "click-verify.example")).toEqual([]);
    expect(buttonsOf(currentMessage(harness, request).blocks)).toHaveLength(4);
    const [line] = await statusLines(harness, "click-verify.example");
    expect(line).toContain("Waiting for DNS and approval");
  });
});

describe("deliveries Slack retries", () => {
  it("acks a retried command and does not act on it", async () => {
    const { slack } = harness;
    const text = "setup retried.example selector=r1";
    const mark = trafficMark();
    const retryUrl = slack.responseUrl();
    const retry = await harness.command(text, {
      retryNum: 1,
      retryReason: "http_timeout",
      responseUrl: retryUrl,
    });
    expect(retry.status).toBe(200);
    expect(retry.body).toBe("");
    await expectNoTrafficSince(mark);

    // The same command without the header acts: one request message, and only one. Had the
    // retry acted too, one of the two would have been told the request is already open.
    const originalUrl = slack.responseUrl();
    const request = await setUp(harness, "retried.example", "r1", {
      responseUrl: originalUrl,
    });
    expect(await statusLines(harness, "retried.example")).toHaveLength(1);
    expect(requestMessagesFor(harness, CHANNEL, "retried.example")).toEqual([
      expect.objectContaining({ ts: request.ts }),
    ]);
    expect(slack.responses(retryUrl)).toEqual([]);
    expect(slack.responses(originalUrl)).toEqual([]);
  });

  it("acks a retried Approve click and applies only once", async () => {
    const { slack } = harness;
    const request = await setUp(harness, "retried-click.example", "r1");
    publish(harness, request);
    const click = {
      actionId: ACTION_IDS.approve,
      value: buttonValue(request.posted, ACTION_IDS.approve),
      userId: APPROVER,
      messageTs: request.ts,
    };

    await harness.click({ ...click, responseUrl: slack.responseUrl() });
    await waitForActive(harness, request);

    // Had the retry acted, its own response_url would hear "Already approved".
    const mark = trafficMark();
    const retryUrl = slack.responseUrl();
    const retry = await harness.click({ ...click, responseUrl: retryUrl, retryNum: 1 });
    expect(retry.status).toBe(200);
    await expectNoTrafficSince(mark);
    expect(slack.responses(retryUrl)).toEqual([]);
    expect(apiCallsFor(harness, "retried-click.example")).toEqual([
      "api_set_dkim_certificate",
      "api_set_dkim_selector",
    ]);
  });
});

describe("DKIM_ALLOWED_CHANNELS", () => {
  it("answers a command from another channel with one sentence and nothing else", async () => {
    const { spamExperts } = harness;
    const mark = trafficMark();
    const answer = await commandAnswer(harness, "setup elsewhere.example selector=c1", {
      channelId: OTHER_CHANNEL,
    });
    expect(answer.via).toBe("ack");
    expect(answer.body).toMatchObject({ response_type: "ephemeral" });
    expect(answer.text).toBe(`/dkim works only in <#${CHANNEL}> and <#${NO_BOT_CHANNEL}>.`);

    const help = await commandAnswer(harness, "help", { channelId: OTHER_CHANNEL });
    expect(help.text).toBe(answer.text);
    await expectNoTrafficSince(mark);
    expect(await statusLines(harness, "elsewhere.example")).toEqual([]);
    expect(spamExperts.requests.some((r) => r.params.domain === "elsewhere.example")).toBe(false);
  });
});

describe("a channel the bot is not in", () => {
  it("tells the person to invite the bot, and the request does not stay open", async () => {
    const { slack } = harness;
    slack.setChannel(NO_BOT_CHANNEL, { botIsMember: false });

    const answer = await commandAnswer(harness, "setup nobot.example selector=n1", {
      channelId: NO_BOT_CHANNEL,
    });
    expect(answer.via).toBe("response_url");
    expect(answer.body).toMatchObject({ response_type: "ephemeral" });
    expect(answer.text).toMatch(/invite me with `\/invite @dkim-bot`/);
    expect(requestMessagesFor(harness, NO_BOT_CHANNEL, "nobot.example")).toEqual([]);
    const [line] = await statusLines(harness, "nobot.example");
    expect(line).toContain("Cancelled");

    // Invited, the same domain and selector can be asked for again.
    slack.setChannel(NO_BOT_CHANNEL, { botIsMember: true });
    const request = await setUp(harness, "nobot.example", "n1", {
      channelId: NO_BOT_CHANNEL,
    });
    expect(textsOf(request.posted.blocks).join("\n")).toContain("n1._domainkey.nobot.example");
  });
});
