/**
 * A domain's whole life, end to end, with the variables shortened so that it runs in seconds:
 * setup -> active -> rotate -> the new key active, the old one retiring -> the overlap over ->
 * the revoked value published -> retired; a record deleted after Active and restored; a
 * rotation whose apply fails; the refusals; and restarts in the middle.
 */
import { describe, expect, it } from "vitest";
import { splitIntoStrings } from "../../src/dkim/record.js";
import { ACTION_IDS } from "../../src/slack/ui/ids.js";
import type { StoredMessage } from "../helpers/fake-slack.js";
import { faults } from "../helpers/fake-spamexperts.js";
import {
  apiCallsFor,
  CERTIFICATE,
  clickApprove,
  clickButton,
  commandAnswer,
  currentMessage,
  eventually,
  headline,
  publish,
  type RequestInSlack,
  recordName,
  replies,
  replyTexts,
  requestMessagesFor,
  setUp,
  waitForActive,
  waitForReply,
  waitForState,
} from "./flows.js";
import { APPROVER, CHANNEL, useBot } from "./harness.js";
import { buttonsOf, recordValueShown, textsOf } from "./support.js";

const ENV = {
  // About a second between monitoring cycles, and an overlap of about four seconds.
  DKIM_MONITOR_HOURS: "0.0003",
  DKIM_ROTATION_OVERLAP_DAYS: "0.00005",
  DKIM_ROTATE_AFTER_DAYS: "0",
};
const harness = useBot(ENV);

/** The card of the rotation (the domain's newest request message), once posted. */
async function rotationCard(domain: string, before: number): Promise<RequestInSlack> {
  const message = await harness.slack.waitUntil(
    () => requestMessagesFor(harness, CHANNEL, domain)[before],
    `the rotation's card for ${domain}`,
  );
  const posted = structuredClone(message);
  const selector = /selector=?\s*`?([a-z0-9-]+)/.exec(textsOf(posted.blocks).join("\n"))?.[1];
  const name = textsOf(posted.blocks)
    .join("\n")
    .match(/([a-z0-9-]+)\._domainkey\./)?.[1];
  return {
    domain,
    selector: name ?? selector ?? "",
    channel: CHANNEL,
    ts: posted.ts,
    value: recordValueShown(posted),
    posted,
  };
}

async function activeKey(domain: string, selector: string): Promise<RequestInSlack> {
  const request = await setUp(harness, domain, selector);
  publish(harness, request);
  await clickApprove(harness, request);
  await waitForActive(harness, request);
  return request;
}

function buttonIds(message: Pick<StoredMessage, "blocks">): string[] {
  return buttonsOf(message.blocks).map((button) => button.action_id);
}

describe("rotation with an overlap, then retirement", () => {
  it("rotates, keeps the old record for the overlap, says when it may go, and retires it once revoked", async () => {
    const old = await activeKey("life.example", "s1");
    const ack = await harness.command("rotate life.example selector=s2");
    expect(ack.status).toBe(200);
    const next = await rotationCard("life.example", 1);
    expect(next.selector).toBe("s2");
    expect(textsOf(next.posted.blocks).join("\n")).toContain("replaces selector `s1`");
    await waitForReply(harness, old, /Rotation started/);

    publish(harness, next);
    await clickApprove(harness, next);
    await waitForActive(harness, next);
    // The old key is replaced in the same moment: retiring, its record kept for the overlap.
    await waitForState(harness, old, "Retiring");
    await waitForReply(harness, old, /\*Replaced\* by selector `s2`/);
    expect(textsOf(currentMessage(harness, old).blocks).join("\n")).toMatch(
      /Keep this TXT record published until/,
    );

    // The overlap ends: one notice, with the revoked value and Mark retired, broadcast to the
    // channel (the alert channel defaults to the key's own).
    const notice = await waitForReply(harness, old, /The old key can go/, 30_000);
    expect(textsOf(notice.blocks).join("\n")).toContain("v=DKIM1; k=rsa; p=");
    expect(buttonIds(notice)).toEqual([ACTION_IDS.markRetired]);
    expect(String(notice.params.reply_broadcast)).toBe("true");
    await eventually(
      () => buttonIds(currentMessage(harness, old)).includes(ACTION_IDS.markRetired),
      "Mark retired on the old key's card",
    );

    // The revoked value is published: the next cycle retires the key, and no button is left.
    harness.dns.setTxt(recordName(old), "v=DKIM1; k=rsa; p=");
    await waitForState(harness, old, "Retired", 30_000);
    await waitForReply(harness, old, /\*Retired\*: DNS shows the old record gone or revoked/);
    await eventually(
      () => replies(harness, old).every((reply) => buttonIds(reply).length === 0),
      "no button left in the old key's thread",
    );
    expect(buttonIds(currentMessage(harness, old))).toEqual([]);
    expect(replyTexts(harness, old).filter((text) => /The old key can go/.test(text))).toHaveLength(
      1,
    );
    // The new key keeps signing and is watched like any active key.
    expect(headline(harness, next)).toContain("*Active*");
  });

  it("keeps the old key signing when the rotation's apply fails, and says so", async () => {
    const old = await activeKey("fail-rotation.example", "s1");
    await harness.command("rotate fail-rotation.example selector=s2");
    const next = await rotationCard("fail-rotation.example", 1);
    publish(harness, next);
    harness.spamExperts.failNext(CERTIFICATE, faults.apiError("no permissions for this domain"));
    await clickApprove(harness, next);
    const failed = await waitForState(harness, next, "Failed");
    expect(textsOf(failed.blocks).join("\n")).toContain(
      "Selector `s1` still signs mail for *fail-rotation.example*",
    );
    expect(headline(harness, old)).toContain("*Active*");
    expect(buttonIds(failed)).toEqual([
      ACTION_IDS.retry,
      ACTION_IDS.checkDns,
      ACTION_IDS.reject,
      ACTION_IDS.cancel,
    ]);
  });
});

describe("refusals", () => {
  it("refuses a second setup of an active domain and points to rotate", async () => {
    await activeKey("twice.example", "s1");
    const answer = await commandAnswer(harness, "setup twice.example");
    expect(answer.text).toMatch(
      /twice\.example already has an active DKIM key \(selector s1, active for 0 days\): to replace it, use .*\/dkim rotate twice\.example/,
    );
    expect(requestMessagesFor(harness, CHANNEL, "twice.example")).toHaveLength(1);
  });

  it("refuses a rotation onto the selector in use, and one of a domain without a key", async () => {
    await activeKey("reuse.example", "s1");
    const reuse = await commandAnswer(harness, "rotate reuse.example selector=s1");
    expect(reuse.text).toMatch(/Selector s1 is in use for reuse\.example \(active key/);
    const none = await commandAnswer(harness, "rotate nothing-here.example");
    expect(none.text).toContain("nothing-here.example has no active DKIM key of the bot to rotate");
  });
});

describe("monitoring after Active", () => {
  it("says once, with the approvers mentioned, that a deleted record breaks mail, and once that it is back", async () => {
    const key = await activeKey("watched.example", "s1");
    harness.dns.remove(recordName(key));
    const alert = await waitForReply(harness, key, /DNS record gone/, 30_000);
    const text = alert.text ?? "";
    expect(text).toContain("Mail from this domain fails DKIM now");
    expect(text).toContain(`<@${APPROVER}>`);
    expect(buttonIds(alert)).toEqual([ACTION_IDS.rotate]);
    expect(String(alert.params.reply_broadcast)).toBe("true");

    harness.dns.setTxt(recordName(key), splitIntoStrings(key.value));
    await waitForReply(harness, key, /DNS record is back/, 30_000);
    // Several cycles later still told once each.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const texts = replyTexts(harness, key);
    expect(texts.filter((each) => /DNS record gone/.test(each))).toHaveLength(1);
    expect(texts.filter((each) => /DNS record is back/.test(each))).toHaveLength(1);
  });
});

describe("restarts in the middle of a key's life", () => {
  it("goes on after a kill while retiring, and tells the retire notice once across a restart", async () => {
    const old = await activeKey("restart-life.example", "s1");
    await harness.command("rotate restart-life.example");
    const next = await rotationCard("restart-life.example", 1);
    // A kill right after the rotation's card: its request survives, and its Approve works.
    await harness.bot.kill();
    await harness.startBot(ENV);
    publish(harness, next);
    await clickApprove(harness, next);
    await waitForActive(harness, next);
    // The card posted before the kill is the one: no second card after the restart.
    expect(requestMessagesFor(harness, CHANNEL, "restart-life.example")).toHaveLength(2);
    await waitForState(harness, old, "Retiring");
    await waitForReply(harness, old, /The old key can go/, 30_000);
    await harness.bot.stop();
    await harness.startBot(ENV);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(replyTexts(harness, old).filter((text) => /The old key can go/.test(text))).toHaveLength(
      1,
    );
    // An approver marks it done by hand.
    const notice = replies(harness, old).find((reply) =>
      /The old key can go/.test(reply.text ?? ""),
    );
    if (notice === undefined) throw new Error("no notice");
    await clickButton(harness, currentMessage(harness, old), ACTION_IDS.markRetired);
    await waitForState(harness, old, "Retired");
    await waitForReply(harness, old, new RegExp(`\\*Retired\\* by <@${APPROVER}>`));
    expect(apiCallsFor(harness, "restart-life.example")).toHaveLength(4);
  });
});
