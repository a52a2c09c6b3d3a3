/**
 * The card and its thread as a busy person reads them, end to end: a happy path is told in a
 * few replies, the apply's steps in one, nothing that says nothing new, no actor-and-time line
 * under Slack's own, and no button left on a reply once its action no longer applies. Also the
 * answers around it: a refusal that names a person with a mention that renders, a record
 * published with the zone twice, and fingerprints that stay readable.
 */
import { describe, expect, it } from "vitest";
import { generateKeyPair } from "../../src/dkim/keys.js";
import { buildRecordValue, splitIntoStrings } from "../../src/dkim/record.js";
import { ACTION_IDS } from "../../src/slack/ui/ids.js";
import type { StoredMessage } from "../helpers/fake-slack.js";
import { faults } from "../helpers/fake-spamexperts.js";
import {
  clickApprove,
  clickButton,
  commandAnswer,
  currentMessage,
  publish,
  type RequestInSlack,
  recordName,
  replies,
  replyTexts,
  responseAt,
  SELECTOR,
  setUp,
  waitForActive,
  waitForReply,
  waitForState,
} from "./flows.js";
import { REQUESTER, useBot } from "./harness.js";
import { buttonsOf, textsOf } from "./support.js";

const harness = useBot();

/** Every button left in the thread, with the reply it is on. */
function threadButtons(request: RequestInSlack): Array<{ reply: string; action: string }> {
  return replies(harness, request).flatMap((reply: StoredMessage) =>
    buttonsOf(reply.blocks).map((button) => ({
      reply: (reply.text ?? "").slice(0, 60),
      action: button.action_id,
    })),
  );
}

/** Waits until the card shows `text` (the notifier redrew it after an event). */
function waitForCard(request: RequestInSlack, text: string) {
  return harness.slack.waitUntil(
    () => textsOf(currentMessage(harness, request).blocks).some((each) => each.includes(text)),
    `the card of ${request.domain} showing "${text}"`,
    20_000,
  );
}

describe("the thread of a happy path", () => {
  it("has at most 5 replies with one outgoing user, each saying something new", async () => {
    const request = await setUp(harness, "shape-happy.example", "s1", {
      extra: "bits=2048 user=mailer@shape-happy.example",
    });
    // The card holds the value once; the split form is the thread's first reply.
    const card = textsOf(request.posted.blocks).join("\n");
    const body = request.value.slice(60, 120);
    expect(card.split(body)).toHaveLength(2);
    expect(card).toContain("```s1._domainkey```");
    const split = await waitForReply(harness, request, /Split form/);
    const strings = [
      ...(textsOf(split.blocks)
        .join("\n")
        .match(/"[^"]*"/g) ?? []),
    ].map((s) => s.slice(1, -1));
    expect(strings).toEqual(splitIntoStrings(request.value));

    // A first check before anything is published: the clicker hears it; the card already says
    // no record is there yet, and the thread is not told.
    const checked = await clickButton(harness, request.posted, ACTION_IDS.checkDns);
    expect((await responseAt(harness, checked)).text).toContain("No DKIM record is published yet");
    await waitForCard(request, "No record seen yet");
    publish(harness, request);
    await clickButton(harness, request.posted, ACTION_IDS.checkDns);
    await waitForReply(harness, request, /\*DNS record is live\*/);
    await clickApprove(harness, request);
    await waitForActive(harness, request);

    const thread = replyTexts(harness, request);
    expect(thread.length, thread.join("\n---\n")).toBeLessThanOrEqual(5);
    expect(thread).toHaveLength(4);
    expect(thread.join("\n")).not.toContain("No DKIM record is published yet");
    expect(thread.join("\n")).not.toMatch(/· dkim-bot · |· <@\w+> · <!date/);
    // The apply's steps are one reply, and it names who approved.
    const apply = thread.filter((text) => /Certificate installed|Signing enabled/.test(text));
    expect(apply).toHaveLength(1);
    expect(apply[0]).toContain("*Approved* by <@UAPPROVER1>");
    expect(apply[0]).toContain("Signing enabled for `mailer@shape-happy.example`");
    expect(threadButtons(request)).toEqual([]);
  });

  it("tells 20 outgoing users in as many replies as one", async () => {
    const users = Array.from({ length: 20 }, (_, i) => `user${i}@shape-many.example`);
    const request = await setUp(harness, "shape-many.example", "s1", {
      extra: users.map((user) => `user=${user}`).join(" "),
    });
    publish(harness, request);
    await clickApprove(harness, request);
    await waitForActive(harness, request);
    const thread = replyTexts(harness, request);
    // DNS live (checked at the click), the apply, Active (a 1024-bit value needs no split form).
    expect(thread, thread.join("\n---\n")).toHaveLength(3);
    expect(thread[1]).toContain("Signing enabled for 20 of 20 outgoing users");
  });
});

describe("buttons on older replies", () => {
  it("leaves no Retry in the thread after failed -> retry -> active", async () => {
    const domain = "shape-retry.example";
    const request = await setUp(harness, domain, "s1", { extra: `user=mailer@${domain}` });
    publish(harness, request);
    harness.spamExperts.failNext(SELECTOR, faults.apiError("Outgoing user is locked"));
    await clickApprove(harness, request);
    await waitForState(harness, request, "Failed");
    const failure = await waitForReply(harness, request, /\*Failed\*/);
    // While the request is failed, the failure reply is where Retry is (and only there).
    expect(threadButtons(request).map((button) => button.action)).toEqual([ACTION_IDS.retry]);

    await clickButton(harness, failure, ACTION_IDS.retry);
    await waitForActive(harness, request);
    expect(threadButtons(request)).toEqual([]);
    expect(replyTexts(harness, request).join("\n")).toContain("Retried by <@UAPPROVER1>");
  });

  it("takes the Retry off a failure reply posted before a restart, once the request moves on", async () => {
    const domain = "shape-restart-retry.example";
    const request = await setUp(harness, domain, "s1");
    publish(harness, request);
    harness.spamExperts.failNext(SELECTOR, faults.apiError("Outgoing user is locked"));
    await clickApprove(harness, request);
    await waitForState(harness, request, "Failed");
    await waitForReply(harness, request, /\*Failed\*/);
    expect(await harness.bot.stop()).toBe(0);
    await harness.startBot();
    // Retry from the card this time: the failure reply's own Retry is the one to take away.
    await clickButton(harness, currentMessage(harness, request), ACTION_IDS.retry);
    await waitForActive(harness, request);
    await harness.slack.waitUntil(
      () => threadButtons(request).length === 0,
      "no button left in the thread after the restart",
    );
  });
});

describe("answers to the person", () => {
  it("names the asker of an open request with a mention that renders", async () => {
    await setUp(harness, "shape-open.example", "s1");
    const answer = await commandAnswer(harness, "setup shape-open.example selector=s1");
    expect(answer.text).toContain(`asked by <@${REQUESTER}>`);
    expect(answer.text).not.toContain("&lt;@");
  });

  it("recognises a record published with the zone twice, and says what to type", async () => {
    const request = await setUp(harness, "shape-zone.example", "s1");
    harness.dns.setTxt(
      `${recordName(request)}.shape-zone.example`,
      splitIntoStrings(request.value),
    );
    const url = await clickButton(harness, request.posted, ACTION_IDS.checkDns);
    const { text } = await responseAt(harness, url);
    expect(text).toContain(
      "The record is published at s1._domainkey.shape-zone.example.shape-zone.example, not at s1._domainkey.shape-zone.example",
    );
    expect(text).toContain("Type only s1._domainkey as the name");
    // The thread says it with the same advice; the card in the verdict's one sentence.
    const reply = await waitForReply(harness, request, /not right yet/);
    expect(reply.text).toContain("Type only s1._domainkey as the name");
    await waitForCard(request, "zone twice: type only s1._domainkey as the name");
  });

  it("shows fingerprints readable in the thread", async () => {
    const request = await setUp(harness, "shape-other.example", "s1");
    const { publicKeyBase64, fingerprint } = await generateKeyPair(1024);
    harness.dns.setTxt(recordName(request), splitIntoStrings(buildRecordValue(publicKeyBase64)));
    await clickButton(harness, request.posted, ACTION_IDS.checkDns);
    const reply = await waitForReply(harness, request, /different key/);
    expect(reply.text).toContain(fingerprint);
    expect(reply.text).not.toContain("[redacted]");
  });
});
