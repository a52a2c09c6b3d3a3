/**
 * DKIM_ALERT_CHANNEL set to a channel of its own (issue 12): a monitoring alert, its "back"
 * and the retire notice still reach the key's thread as a reply (not broadcast into the key's
 * channel), and the alert channel gets a copy of each with a link to that reply in the thread,
 * and the button the reply has.
 */
import { describe, expect, it } from "vitest";
import { splitIntoStrings } from "../../src/dkim/record.js";
import { ACTION_IDS } from "../../src/slack/ui/ids.js";
import type { StoredMessage } from "../helpers/fake-slack.js";
import {
  clickApprove,
  clickButton,
  eventually,
  publish,
  type RequestInSlack,
  recordName,
  replies,
  requestMessagesFor,
  setUp,
  waitForActive,
  waitForReply,
  waitForState,
} from "./flows.js";
import { APPROVER, CHANNEL, GROUP, useBot } from "./harness.js";
import { buttonsOf, recordValueShown, textsOf } from "./support.js";

const ALERTS = "CDKIMALERTS";
const harness = useBot({
  // About a second between monitoring cycles, and an overlap of about four seconds.
  DKIM_MONITOR_HOURS: "0.0003",
  DKIM_ROTATION_OVERLAP_DAYS: "0.00005",
  DKIM_ROTATE_AFTER_DAYS: "0",
  DKIM_ALERT_CHANNEL: ALERTS,
});

async function activeKey(domain: string, selector: string): Promise<RequestInSlack> {
  const request = await setUp(harness, domain, selector);
  publish(harness, request);
  await clickApprove(harness, request);
  await waitForActive(harness, request);
  return request;
}

/** The link fake Slack's workspace URL gives to a reply in the thread of `request`. */
function threadLink(request: RequestInSlack, reply: StoredMessage): string {
  return `https://fake-team.slack.com/archives/${request.channel}/p${reply.ts.replace(".", "")}?thread_ts=${request.ts}&cid=${request.channel}`;
}

/** The alert channel's messages whose text matches `pattern`. */
function alertsMatching(pattern: RegExp): StoredMessage[] {
  return harness.slack.postedMessages(ALERTS).filter((message) => pattern.test(message.text ?? ""));
}

/** Waits for the alert channel's copy matching `pattern`. */
function waitForAlert(pattern: RegExp): Promise<StoredMessage> {
  return harness.slack.waitUntil(
    () => alertsMatching(pattern)[0],
    `a message matching ${pattern} in ${ALERTS}`,
    30_000,
  );
}

function buttonIds(message: Pick<StoredMessage, "blocks">): string[] {
  return buttonsOf(message.blocks).map((button) => button.action_id);
}

/** The thread reply and the alert channel's copy: the same words, a link from one to the other. */
function expectCopyOf(copy: StoredMessage, reply: StoredMessage, request: RequestInSlack): void {
  expect(copy.threadTs).toBeUndefined();
  expect(copy.text).toBe(reply.text);
  expect(textsOf(copy.blocks).join("\n")).toContain(
    `<${threadLink(request, reply)}|The key's card and thread>`,
  );
  // The reply in the key's thread is not broadcast into the key's channel: the copy is the alert.
  expect(String(reply.params.reply_broadcast)).toBe("false");
}

describe("DKIM_ALERT_CHANNEL set to a channel of its own", () => {
  it("sends a monitoring alert and its 'back' to the alert channel as a copy linking to the thread, which still gets its reply", async () => {
    const key = await activeKey("alerted.example", "s1");
    harness.dns.remove(recordName(key));

    const alert = await waitForReply(harness, key, /DNS record gone/, 30_000);
    expect(alert.text).toContain("Mail from this domain fails DKIM now");
    expect(alert.text).toContain(`<@${APPROVER}>`);
    expect(buttonIds(alert)).toEqual([ACTION_IDS.rotate]);
    const copy = await waitForAlert(/DNS record gone/);
    expectCopyOf(copy, alert, key);
    expect(copy.text).toContain(`<@${APPROVER}>`);
    expect(copy.text).toContain(`<!subteam^${GROUP}>`);
    expect(textsOf(copy.blocks).join("\n")).toContain("alerted.example");
    // The copy carries the same Rotate button, for the same key.
    expect(buttonIds(copy)).toEqual([ACTION_IDS.rotate]);
    expect(buttonsOf(copy.blocks)[0]?.value).toBe(buttonsOf(alert.blocks)[0]?.value);

    harness.dns.setTxt(recordName(key), splitIntoStrings(key.value));
    const back = await waitForReply(harness, key, /DNS record is back/, 30_000);
    expectCopyOf(await waitForAlert(/DNS record is back/), back, key);

    // Nothing of it went to the key's channel outside the thread.
    expect(
      harness.slack
        .postedMessages(CHANNEL)
        .filter(
          (message) => message.threadTs === undefined && /DNS record/.test(message.text ?? ""),
        ),
    ).toEqual([]);
    // Told once in each place, several cycles later.
    const cyclesBefore = monitoringCycles();
    await eventually(
      () => monitoringCycles() >= cyclesBefore + 2,
      "two more monitoring cycles",
      30_000,
    );
    for (const pattern of [/DNS record gone/, /DNS record is back/]) {
      expect(alertsMatching(pattern)).toHaveLength(1);
      expect(replies(harness, key).filter((reply) => pattern.test(reply.text ?? ""))).toHaveLength(
        1,
      );
    }
  });

  it("sends the retire notice to the alert channel as a copy linking to the old key's thread", async () => {
    const old = await activeKey("retire-alert.example", "s1");
    await harness.command("rotate retire-alert.example selector=s2");
    const card = await harness.slack.waitUntil(
      () => requestMessagesFor(harness, CHANNEL, "retire-alert.example")[1],
      "the rotation's card",
    );
    const posted = structuredClone(card);
    const next: RequestInSlack = {
      domain: "retire-alert.example",
      selector: "s2",
      channel: CHANNEL,
      ts: posted.ts,
      value: recordValueShown(posted),
      posted,
    };
    publish(harness, next);
    await clickApprove(harness, next);
    await waitForActive(harness, next);
    await waitForState(harness, old, "Retiring");

    const notice = await waitForReply(harness, old, /The old key can go/, 30_000);
    expect(buttonIds(notice)).toEqual([ACTION_IDS.markRetired]);
    const copy = await waitForAlert(/The old key can go/);
    expectCopyOf(copy, notice, old);
    expect(textsOf(copy.blocks).join("\n")).toContain("v=DKIM1; k=rsa; p=");
    expect(buttonIds(copy)).toEqual([ACTION_IDS.markRetired]);

    // Its button works from the alert channel as from the thread, and the thread records it.
    await clickButton(harness, copy, ACTION_IDS.markRetired);
    await waitForState(harness, old, "Retired");
    await waitForReply(harness, old, new RegExp(`\\*Retired\\* by <@${APPROVER}>`));
  });
});

/** Monitoring cycles the running bot has logged so far. */
function monitoringCycles(): number {
  return harness.bot.lines.filter((line) => line.includes("Monitoring cycle done.")).length;
}
