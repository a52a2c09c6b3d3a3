/**
 * Two bot processes on one PostgreSQL database, as behind a load balancer: a click on both at
 * once applies once, a command and Slack's retry of it on different replicas make one request,
 * a replica killed in the middle of an apply is finished by the other, and a table lock held
 * elsewhere for 10 s never stops the acks.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACTION_IDS } from "../../src/slack/ui/ids.js";
import { faults } from "../helpers/fake-spamexperts.js";
import { sendBlockAction, sendSlashCommand } from "../helpers/slack-requests.js";
import { DIALECTS, freshPostgresUrl } from "../helpers/test-stores.js";
import {
  apiCallsFor,
  CERTIFICATE,
  eventually,
  publish,
  replyTexts,
  requestMessagesFor,
  SELECTOR,
  setUp,
  waitForActive,
  waitForReply,
} from "./flows.js";
import {
  APPROVER,
  type BotProcess,
  CHANNEL,
  type Harness,
  printLogsOnFailure,
  REQUESTER,
  SIGNING_SECRET,
  startHarness,
} from "./harness.js";
import { buttonValue } from "./support.js";

const withPostgres = DIALECTS.includes("postgres");

describe.skipIf(!withPostgres)("two replicas on one PostgreSQL database", () => {
  let harness: Harness;
  let databaseUrl: string;
  let a: BotProcess;
  let b: BotProcess;
  const env = () => ({
    DATABASE_URL: databaseUrl,
    DKIM_ENCRYPTION_KEY: key,
    // Short leases: a dead replica's work is taken over within seconds in the test.
    DKIM_LEASE_SECONDS: "2",
  });
  const key = randomBytes(32).toString("base64");

  beforeAll(async () => {
    harness = await startHarness();
    databaseUrl = await freshPostgresUrl();
    a = await harness.startBot(env());
    b = await harness.startBot(env());
  });
  printLogsOnFailure(() => harness);
  afterAll(async () => {
    await a?.stop();
    await harness?.close();
  });

  function approveOn(bot: BotProcess, value: string, messageTs: string) {
    return sendBlockAction(bot.url, SIGNING_SECRET, {
      actionId: ACTION_IDS.approve,
      value,
      userId: APPROVER,
      channelId: CHANNEL,
      messageTs,
      responseUrl: harness.slack.responseUrl(),
    });
  }

  it("both say which store they use, and both answer /healthz", async () => {
    for (const bot of [a, b]) {
      expect(bot.lines.some((line) => line.includes('"store":"PostgreSQL database e2e_'))).toBe(
        true,
      );
      expect((await fetch(`${bot.url}/healthz`)).status).toBe(200);
    }
  });

  it("applies once when the same Approve reaches both replicas at once", async () => {
    const request = await setUp(harness, "both-click.example", "r1");
    publish(harness, request);
    const value = buttonValue(request.posted, ACTION_IDS.approve);
    const acks = await Promise.all([
      approveOn(a, value, request.ts),
      approveOn(b, value, request.ts),
    ]);
    expect(acks.map((ack) => ack.status)).toEqual([200, 200]);
    await waitForActive(harness, request);
    expect(apiCallsFor(harness, request.domain)).toEqual([CERTIFICATE, SELECTOR]);
    // Each replica paces its own posts: under load the winner's reply may come after the end.
    await waitForReply(harness, request, /Approved/);
    const approved = replyTexts(harness, request).filter((text) => /Approved/.test(text));
    expect(approved).toHaveLength(1);
  });

  it("makes one request when a command and Slack's retry of it reach different replicas", async () => {
    const domain = "retried-command.example";
    const args = {
      text: `setup ${domain} selector=r1`,
      userId: REQUESTER,
      channelId: CHANNEL,
      responseUrl: harness.slack.responseUrl(),
    };
    const [first, retry] = await Promise.all([
      sendSlashCommand(a.url, SIGNING_SECRET, args),
      sendSlashCommand(b.url, SIGNING_SECRET, {
        ...args,
        retryNum: 1,
        retryReason: "http_timeout",
      }),
    ]);
    expect([first.status, retry.status]).toEqual([200, 200]);
    await harness.slack.waitUntil(
      () => requestMessagesFor(harness, CHANNEL, domain)[0],
      "the request message",
    );
    // Give a wrongly accepted retry the time to post a second card.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(requestMessagesFor(harness, CHANNEL, domain)).toHaveLength(1);
  });

  it("finishes on the other replica an apply whose replica was killed in the middle", async () => {
    const request = await setUp(harness, "killed-replica.example", "r1");
    publish(harness, request);
    // The selector call hangs long enough to kill the replica while it is in flight.
    harness.spamExperts.failNext(SELECTOR, faults.slow(6000));
    const value = buttonValue(request.posted, ACTION_IDS.approve);
    expect((await approveOn(a, value, request.ts)).status).toBe(200);
    await eventually(
      () => apiCallsFor(harness, request.domain).includes(SELECTOR),
      "the selector call in flight",
    );
    await a.kill();
    await waitForActive(harness, request);
    const calls = apiCallsFor(harness, request.domain);
    expect(calls.filter((call) => call === CERTIFICATE)).toHaveLength(1);
    expect(replyTexts(harness, request).some((text) => /Resumed/.test(text))).toBe(true);
    // The survivor carries on alone from here.
    a = await harness.startBot(env());
  });

  it("keeps acking commands while another connection holds a table lock for 10 s", async () => {
    const locker = new pg.Client({ connectionString: databaseUrl });
    await locker.connect();
    await locker.query("BEGIN");
    await locker.query("LOCK TABLE requests, events IN ACCESS EXCLUSIVE MODE");
    let released = false;
    const responseUrls = new Map<string, string>();
    const release = setTimeout(() => {
      released = true;
      void locker.query("ROLLBACK").finally(() => locker.end());
    }, 10_000);
    try {
      const domains = ["locked-1.example", "locked-2.example", "locked-3.example"];
      const answers: Array<{ status: number; beforeRelease: boolean }> = [];
      for (const [index, domain] of domains.entries()) {
        const bot = index % 2 === 0 ? a : b;
        const responseUrl = harness.slack.responseUrl();
        responseUrls.set(domain, responseUrl);
        const ack = await sendSlashCommand(bot.url, SIGNING_SECRET, {
          text: `setup ${domain} selector=r1`,
          userId: REQUESTER,
          channelId: CHANNEL,
          responseUrl,
        });
        answers.push({ status: ack.status, beforeRelease: !released });
        const health = await fetch(`${bot.url}/healthz`);
        expect(health.status).toBe(200);
        await new Promise((resolve) => setTimeout(resolve, 1500));
      }
      // Every command was acked while the lock was still held.
      expect(answers).toEqual(domains.map(() => ({ status: 200, beforeRelease: true })));
    } finally {
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    await eventually(() => released, "the lock released", 20_000);
    clearTimeout(release);
    // Nobody was left without an answer: a request message, or a sentence saying why not.
    for (const [domain, responseUrl] of responseUrls) {
      const told = await harness.slack.waitUntil(
        () =>
          requestMessagesFor(harness, CHANNEL, domain).length > 0 ||
          harness.slack.responses(responseUrl).length > 0,
        `an answer about ${domain}`,
        20_000,
      );
      expect(told).toBe(true);
      for (const post of harness.slack.responses(responseUrl)) {
        expect(JSON.stringify(post.body)).toMatch(/locked by another connection|Request/);
      }
    }
  });
});
