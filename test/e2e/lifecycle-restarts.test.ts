/**
 * A restart in the middle of each step of a key's life after Active (issue 12): right after a
 * monitoring alert was recorded, across a key-age reminder, and in the middle of a rotation's
 * apply. What was told is not told again; what was recorded but not told is told once after
 * the restart; a rotation cut short resumes and ends with the new key active, the old retiring.
 */
import { describe, expect, it } from "vitest";
import { splitIntoStrings } from "../../src/dkim/record.js";
import { ACTION_IDS } from "../../src/slack/ui/ids.js";
import type { StoredMessage } from "../helpers/fake-slack.js";
import { faults } from "../helpers/fake-spamexperts.js";
import {
  apiRequestsFor,
  CERTIFICATE,
  clickApprove,
  clickButton,
  eventually,
  publish,
  type RequestInSlack,
  recordName,
  replies,
  replyTexts,
  requestMessagesFor,
  SELECTOR,
  setUp,
  waitForActive,
  waitForReply,
  waitForState,
} from "./flows.js";
import { APPROVER, CHANNEL, type Harness, useBot } from "./harness.js";
import { buttonsOf, recordValueShown, textsOf } from "./support.js";

async function activeKey(
  harness: Harness,
  domain: string,
  selector: string,
  extra = "",
): Promise<RequestInSlack> {
  const request = await setUp(harness, domain, selector, { extra });
  publish(harness, request);
  await clickApprove(harness, request);
  await waitForActive(harness, request);
  return request;
}

/** `/dkim rotate <domain> selector=<selector>` and the rotation's card, once posted. */
async function rotate(
  harness: Harness,
  old: RequestInSlack,
  selector: string,
): Promise<RequestInSlack> {
  const ack = await harness.command(`rotate ${old.domain} selector=${selector}`);
  expect(ack.status).toBe(200);
  const card = await harness.slack.waitUntil(
    () => requestMessagesFor(harness, CHANNEL, old.domain)[1],
    `the rotation's card for ${old.domain}`,
  );
  const posted = structuredClone(card);
  expect(textsOf(posted.blocks).join("\n")).toContain(`replaces selector \`${old.selector}\``);
  return {
    domain: old.domain,
    selector,
    channel: CHANNEL,
    ts: posted.ts,
    value: recordValueShown(posted),
    posted,
  };
}

/** Monitoring cycles the running bot has logged so far. */
function monitoringCycles(harness: Harness): number {
  return harness.bot.lines.filter((line) => line.includes("Monitoring cycle done.")).length;
}

/** Waits until the running bot has done `count` more monitoring cycles than `since`. */
async function moreCycles(harness: Harness, since: number, count = 2): Promise<void> {
  await eventually(
    () => monitoringCycles(harness) >= since + count,
    `${count} more monitoring cycles`,
    30_000,
  );
}

/** Waits for the bot's log line of `kind` recorded for `domain` (logged once it is stored). */
function eventRecorded(harness: Harness, domain: string, kind: string): Promise<string> {
  return harness.bot.waitForLine(
    (line) =>
      line.includes('"msg":"request event"') &&
      line.includes(`"event":"${kind}"`) &&
      line.includes(`"domain":"${domain}"`),
    30_000,
  );
}

/**
 * Slack answers the bot's next chat.postMessage with a 429 asking it to wait 30 s: what the
 * bot records next stays untold in this process until long after the test kills it.
 */
async function holdBackNextPost(harness: Harness): Promise<() => Promise<void>> {
  const before = harness.slack.calls("chat.postMessage").length;
  harness.slack.rateLimit("chat.postMessage", 30, 1);
  return async () => {
    await harness.slack.waitUntil(
      () =>
        harness.slack
          .calls("chat.postMessage")
          .slice(before)
          .some((call) => call.fault?.kind === "rate-limited"),
      "the post Slack held back",
    );
  };
}

/**
 * Waits until the card is redrawn after `reply` was posted. The notifier redraws the card only
 * once it has told the event and recorded it as told: a kill after this must not repeat it.
 * (A kill between Slack taking a reply and the bot recording it, a few milliseconds, would:
 * thread replies are told at least once.)
 */
async function cardRedrawnAfter(
  harness: Harness,
  request: RequestInSlack,
  reply: StoredMessage,
): Promise<void> {
  const posted = harness.slack
    .calls("chat.postMessage")
    .find((call) => call.response.ts === reply.ts);
  if (posted === undefined) throw new Error("no chat.postMessage for the reply");
  await harness.slack.waitUntil(
    () =>
      harness.slack
        .calls("chat.update")
        .some((call) => call.params.ts === request.ts && call.seq > posted.seq),
    `the card of ${request.domain} redrawn after the reply`,
  );
}

function count(harness: Harness, request: RequestInSlack, pattern: RegExp): number {
  return replyTexts(harness, request).filter((text) => pattern.test(text)).length;
}

describe("a restart right after a monitoring alert was recorded", () => {
  const ENV = { DKIM_MONITOR_HOURS: "0.0003", DKIM_ROTATE_AFTER_DAYS: "0" };
  const harness = useBot(ENV);

  it("tells an alert a kill cut short once after the restart, and a told one not again after a stop", async () => {
    const key = await activeKey(harness, "alert-restart.example", "s1");
    const heldBack = await holdBackNextPost(harness);
    harness.dns.remove(recordName(key));
    await eventRecorded(harness, key.domain, "monitor-problem");
    await heldBack();
    // Recorded, not told: the crash comes now.
    await harness.bot.kill();
    expect(count(harness, key, /DNS record gone/)).toBe(0);

    await harness.startBot(ENV);
    const alert = await waitForReply(harness, key, /DNS record gone/, 30_000);
    expect(alert.text).toContain("Mail from this domain fails DKIM now");
    expect(alert.text).toContain(`<@${APPROVER}>`);
    expect(buttonsOf(alert.blocks).map((button) => button.action_id)).toEqual([ACTION_IDS.rotate]);
    // The record is still missing at the new process's cycles: no second alert.
    await moreCycles(harness, monitoringCycles(harness));
    expect(count(harness, key, /DNS record gone/)).toBe(1);

    // Told, then a clean stop and a start: not told again, and the recovery is told once.
    expect(await harness.bot.stop()).toBe(0);
    await harness.startBot(ENV);
    await moreCycles(harness, monitoringCycles(harness));
    expect(count(harness, key, /DNS record gone/)).toBe(1);
    harness.dns.setTxt(recordName(key), splitIntoStrings(key.value));
    const back = await waitForReply(harness, key, /DNS record is back/, 30_000);
    // Killed once the bot has recorded that it told it (see cardRedrawnAfter).
    await cardRedrawnAfter(harness, key, back);
    await harness.bot.kill();
    await harness.startBot(ENV);
    await moreCycles(harness, monitoringCycles(harness));
    expect(count(harness, key, /DNS record gone/)).toBe(1);
    expect(count(harness, key, /DNS record is back/)).toBe(1);
  });
});

describe("a restart across a key-age reminder", () => {
  // A key is "old" about 9 s after it turned active; monitoring runs about every second.
  const ENV = { DKIM_MONITOR_HOURS: "0.0003", DKIM_ROTATE_AFTER_DAYS: "0.0001" };
  const harness = useBot(ENV);

  it("tells the reminder once across a kill and a stop, and its Rotate button still starts a rotation", async () => {
    const key = await activeKey(harness, "remind-restart.example", "s1");
    const heldBack = await holdBackNextPost(harness);
    await eventRecorded(harness, key.domain, "rotation-due");
    await heldBack();
    await harness.bot.kill();
    expect(count(harness, key, /Time to rotate/)).toBe(0);

    await harness.startBot(ENV);
    const reminder = await waitForReply(harness, key, /Time to rotate/, 30_000);
    expect(reminder.text).toContain(`<@${APPROVER}>`);
    await moreCycles(harness, monitoringCycles(harness));
    expect(count(harness, key, /Time to rotate/)).toBe(1);

    expect(await harness.bot.stop()).toBe(0);
    await harness.startBot(ENV);
    await moreCycles(harness, monitoringCycles(harness));
    expect(count(harness, key, /Time to rotate/)).toBe(1);

    // The reminder's Rotate, posted by a process two restarts ago, still works.
    await clickButton(harness, reminder, ACTION_IDS.rotate, { userId: APPROVER });
    const rotation = await harness.slack.waitUntil(
      () => requestMessagesFor(harness, CHANNEL, key.domain)[1],
      "the rotation's card",
    );
    expect(textsOf(rotation.blocks).join("\n")).toContain("replaces selector `s1`");
    await waitForReply(harness, key, /Rotation started/);
    await eventually(
      () => replies(harness, key).every((reply) => buttonsOf(reply.blocks).length === 0),
      "no Rotate left in the old key's thread",
    );
    expect(requestMessagesFor(harness, CHANNEL, key.domain)).toHaveLength(2);
  });
});

describe("a restart in the middle of a rotation's apply", () => {
  // A long API timeout, so a slowed call is surely still in flight when the bot is stopped.
  const ENV = { SPAMEXPERTS_TIMEOUT_MS: "20000", DKIM_ROTATE_AFTER_DAYS: "0" };
  const harness = useBot(ENV);

  /** The SpamExperts calls made for the domain from the `from`-th on: call, selector, user. */
  function callsFrom(domain: string, from: number): string[] {
    return apiRequestsFor(harness, domain)
      .slice(from)
      .map((request) =>
        [request.params.call, request.params.selector, request.params.username]
          .filter((part) => part !== undefined)
          .join(" "),
      );
  }

  async function rotationInFlight(domain: string): Promise<{
    old: RequestInSlack;
    next: RequestInSlack;
    before: number;
    users: string[];
  }> {
    const users = [`a@${domain}`, `b@${domain}`];
    const old = await activeKey(
      harness,
      domain,
      "s1",
      users.map((user) => `user=${user}`).join(" "),
    );
    const next = await rotate(harness, old, "s2");
    publish(harness, next);
    return { old, next, before: apiRequestsFor(harness, domain).length, users };
  }

  async function expectRotated(old: RequestInSlack, next: RequestInSlack): Promise<void> {
    await waitForReply(harness, next, /\*Resumed\*/);
    await waitForActive(harness, next);
    await waitForState(harness, old, "Retiring");
    await waitForReply(harness, old, /\*Replaced\* by selector `s2`/);
    expect(count(harness, next, /\*Failed\*/)).toBe(0);
    expect(count(harness, next, /\*Active\*/)).toBe(1);
  }

  it("stopped (SIGTERM) while a call is in flight: resumes, makes each SpamExperts call once", async () => {
    const domain = "rotate-sigterm.example";
    const { old, next, before, users } = await rotationInFlight(domain);
    // The first user's selector call takes 3 s (within the timeout): it is in flight at SIGTERM.
    harness.spamExperts.failNext(SELECTOR, faults.slow(3_000));
    await clickApprove(harness, next);
    await eventually(
      () => callsFrom(domain, before).some((call) => call.startsWith(SELECTOR)),
      "the rotation's first selector call to reach SpamExperts",
    );
    expect(await harness.bot.stop()).toBe(0);
    await harness.startBot(ENV);

    await expectRotated(old, next);
    expect(callsFrom(domain, before)).toEqual([
      `${CERTIFICATE} s2`,
      ...users.map((user) => `${SELECTOR} s2 ${user}`),
    ]);
  });

  it("killed (SIGKILL) while a call is in flight: resumes without installing the certificate again", async () => {
    const domain = "rotate-sigkill.example";
    const { old, next, before, users } = await rotationInFlight(domain);
    // The first user's selector call hangs: the crash comes while it is in flight.
    harness.spamExperts.failNext(SELECTOR, faults.slow(60_000));
    await clickApprove(harness, next);
    await eventually(
      () => callsFrom(domain, before).some((call) => call.startsWith(SELECTOR)),
      "the rotation's first selector call to reach SpamExperts",
    );
    await harness.bot.kill();
    await harness.startBot(ENV);

    await expectRotated(old, next);
    // The certificate once; the call whose answer the crash lost is made again (setting a
    // selector is idempotent), then the second user's, once.
    expect(callsFrom(domain, before)).toEqual([
      `${CERTIFICATE} s2`,
      `${SELECTOR} s2 ${users[0]}`,
      `${SELECTOR} s2 ${users[0]}`,
      `${SELECTOR} s2 ${users[1]}`,
    ]);
  });
});
