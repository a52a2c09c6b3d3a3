/**
 * Telling the people who must act (issue 14), end to end against the built bot: the card's
 * mentions of the approvers (users and groups), the "ready to approve" mention once per
 * request, Cancel by the requester only, Reject's form refused before it opens, and App Home
 * (app_home_opened -> views.publish; Approve, Check DNS and Rotate from Home, each with its
 * thread reply and Home redrawn).
 */
import { describe, expect, it } from "vitest";
import { ACTION_IDS } from "../../src/slack/ui/ids.js";
import type { RecordedCall } from "../helpers/fake-slack.js";
import { sendAppHomeOpened, sendHomeBlockAction } from "../helpers/slack-requests.js";
import {
  answersAt,
  clickButton,
  currentMessage,
  eventually,
  newTriggerId,
  publish,
  publishedHome,
  recordName,
  replies,
  setUp,
  waitForActive,
  waitForFinal,
  waitForReply,
} from "./flows.js";
import {
  APPROVER,
  CHANNEL,
  GROUP,
  GROUP_MEMBER,
  type Harness,
  OUTSIDER,
  REQUESTER,
  SIGNING_SECRET,
  useBot,
} from "./harness.js";
import { buttonsOf, textsOf } from "./support.js";

const APPROVER_MENTIONS = [`<@${APPROVER}>`, `<!subteam^${GROUP}>`];

/** The chat.postMessage that posted the card of `domain` (not a later chat.update). */
function cardPost(harness: Harness, domain: string): RecordedCall | undefined {
  return harness.slack
    .calls("chat.postMessage")
    .find(
      (call) =>
        call.params.thread_ts === undefined &&
        textsOf(call.params.blocks).some((text) => text.includes(`*${domain}*`)),
    );
}

/** Opens Home as `userId` and resolves with the view views.publish drew for them. */
async function openHome(harness: Harness, userId: string): Promise<Record<string, unknown>> {
  const before = harness.slack.calls("views.publish").length;
  const ack = await sendAppHomeOpened(harness.bot.url, SIGNING_SECRET, { userId });
  expect(ack.status).toBe(200);
  return publishedHome(harness, userId, before);
}

function homeText(view: Record<string, unknown>): string {
  return textsOf(view.blocks).join("\n");
}

describe("the card and the thread mention the people who act", () => {
  const harness = useBot();

  it("the card's first post mentions the approver users and groups, in its blocks and its notification text", async () => {
    const request = await setUp(harness, "mentions.example", "m1");
    const post = cardPost(harness, request.domain);
    if (post === undefined) throw new Error("no card was posted");
    const blocks = textsOf(post.params.blocks).join("\n");
    for (const mention of APPROVER_MENTIONS) {
      expect(blocks).toContain(mention);
      expect(String(post.params.text)).toContain(mention);
    }
    expect(blocks).toContain(`<@${REQUESTER}> publishes the TXT record below`);
    // Replies do not repeat the mentions: the record's split form, if any, names nobody.
    for (const reply of replies(harness, request)) {
      for (const mention of APPROVER_MENTIONS) expect(reply.text ?? "").not.toContain(mention);
    }
  });

  it("tells the approvers once, with a mention, when the record is live; not again when it comes back", async () => {
    const request = await setUp(harness, "ready.example", "r1");
    publish(harness, request);
    await clickButton(harness, request.posted, ACTION_IDS.checkDns, { userId: REQUESTER });
    const live = await waitForReply(harness, request, /DNS record is live/);
    for (const mention of APPROVER_MENTIONS) expect(live.text).toContain(mention);
    // Posted (a mention notifies only when posted), not an edit of an earlier reply.
    expect(live.edits).toBe(0);
    expect(live.text).toContain("you can approve it now");

    harness.dns.remove(recordName(request));
    await clickButton(harness, request.posted, ACTION_IDS.checkDns, { userId: REQUESTER });
    await waitForReply(harness, request, /DNS record is gone/);
    publish(harness, request);
    await clickButton(harness, request.posted, ACTION_IDS.checkDns, { userId: REQUESTER });
    await eventually(
      () =>
        replies(harness, request).filter((reply) => /DNS record is live/.test(reply.text ?? ""))
          .length === 2,
      "a second 'live' reply",
    );
    const again = replies(harness, request).filter((reply) =>
      /DNS record is live/.test(reply.text ?? ""),
    );
    expect(again[1]?.text).not.toContain(`<@${APPROVER}>`);
    expect(again[1]?.text).not.toContain("subteam");
  });
});

describe("more than five approvers", () => {
  const approvers = ["UAPPA", "UAPPB", GROUP, "UAPPC", "UAPPD", "UAPPE", "SSECOPS"];
  const harness = useBot({ DKIM_APPROVERS: approvers.join(",") });

  it("the card mentions the groups and says 'and N more'", async () => {
    const request = await setUp(harness, "many.example", "n1");
    const post = cardPost(harness, request.domain);
    const blocks = textsOf(post?.params.blocks).join("\n");
    expect(blocks).toContain(
      `then one of <!subteam^${GROUP}>, <!subteam^SSECOPS> and 5 more clicks *Approve*.`,
    );
    expect(blocks).not.toContain("<@UAPPA>");
    expect(request.domain).toBe("many.example");
  });
});

describe("the reminder before expiry (a TTL of a fraction of a day)", () => {
  // 0.0003 days is about 26 s: the reminder comes halfway (about 13 s in), then expiry.
  const harness = useBot({ DKIM_REQUEST_TTL_DAYS: "0.0003", DKIM_DNS_POLL_SECONDS: "1" });

  it("mentions the requester and the approvers once in the thread, then the request expires as before", async () => {
    const request = await setUp(harness, "soon.example", "e1");
    const reminder = await waitForReply(harness, request, /\*Expires /, 40_000);
    expect(reminder.text).toContain(`<@${REQUESTER}>: publish the TXT record`);
    for (const mention of APPROVER_MENTIONS) expect(reminder.text).toContain(mention);
    expect(reminder.text).toContain("DKIM_REQUEST_TTL_DAYS is 0.0003");
    await waitForReply(harness, request, /\*Expired\*/, 40_000);
    await waitForFinal(harness, request, "Expired");
    const reminders = replies(harness, request).filter((reply) =>
      /\*Expires /.test(reply.text ?? ""),
    );
    expect(reminders).toHaveLength(1);
  }, 90_000);
});

describe("Cancel and Reject: who may", () => {
  const harness = useBot();

  it("Cancel is the requester's: anyone else is refused, the requester's cancel shows on the card", async () => {
    const request = await setUp(harness, "cancel.example", "c1");
    const refused = await clickButton(harness, request.posted, ACTION_IDS.cancel, {
      userId: APPROVER,
    });
    const [answer] = await answersAt(harness, refused, 1);
    expect(answer).toBe(`Only the requester, <@${REQUESTER}>, can cancel this request.`);
    expect(textsOf(currentMessage(harness, request).blocks).join("\n")).toContain(
      "*Waiting for DNS and approval*",
    );

    await clickButton(harness, request.posted, ACTION_IDS.cancel, { userId: REQUESTER });
    const card = await waitForFinal(harness, request, "Cancelled");
    expect(textsOf(card.blocks).join("\n")).toContain(`*Cancelled* by <@${REQUESTER}>`);
    const reply = await waitForReply(harness, request, /\*Cancelled\* by/);
    expect(reply.text).toContain(`<@${REQUESTER}>`);
  });

  it("Reject's form does not open for someone who may not reject; the requester is pointed to Cancel", async () => {
    const request = await setUp(harness, "noreject.example", "j1");
    for (const [userId, expected] of [
      [OUTSIDER, "can reject this request: ask one of them."],
      [REQUESTER, "click Cancel on its card to withdraw it."],
    ] as const) {
      const triggerId = newTriggerId();
      const url = await clickButton(harness, request.posted, ACTION_IDS.reject, {
        userId,
        triggerId,
      });
      const [answer] = await answersAt(harness, url, 1);
      expect(answer).toContain(expected);
      expect(
        harness.slack.calls("views.open").some((call) => call.params.trigger_id === triggerId),
      ).toBe(false);
    }
    // An approver still gets the form.
    const triggerId = newTriggerId();
    await clickButton(harness, request.posted, ACTION_IDS.reject, { triggerId });
    await harness.slack.waitForCall("views.open", (call) => call.params.trigger_id === triggerId);
  });
});

describe("App Home", () => {
  const harness = useBot();
  const PRIVATE = "CPRIVATEOPS";

  it("shows an approver what waits for them and a requester their open requests; nothing of a private channel they are not in", async () => {
    harness.slack.setChannel(PRIVATE, { isPrivate: true, members: [REQUESTER, GROUP_MEMBER] });
    const request = await setUp(harness, "home.example", "h1");
    const secret = await setUp(harness, "secret.example", "h1", { channelId: PRIVATE });
    for (const each of [request, secret]) {
      publish(harness, each);
      await clickButton(harness, each.posted, ACTION_IDS.checkDns, { userId: REQUESTER });
      await waitForReply(harness, each, /DNS record is live/);
    }

    const approverHome = homeText(await openHome(harness, APPROVER));
    expect(approverHome).toContain("*Waiting for your approval*");
    expect(approverHome).toContain("home.example");
    expect(approverHome).not.toContain("secret.example");
    expect(approverHome).toContain("*The fleet*");
    // Each item links to its card.
    expect(approverHome).toMatch(
      new RegExp(
        `<https://fake-team\\.slack\\.com/archives/${CHANNEL}/p${request.ts.replace(".", "")}\\|home\\.example>`,
      ),
    );

    const memberHome = homeText(await openHome(harness, GROUP_MEMBER));
    expect(memberHome).toContain("secret.example");

    const requesterHome = homeText(await openHome(harness, REQUESTER));
    expect(requesterHome).not.toContain("*Waiting for your approval*");
    expect(requesterHome).toContain("You are not an approver");
    expect(requesterHome).toContain("*Your open requests* · 2");
    expect(requesterHome).toContain("home.example");
    expect(requesterHome).toContain("secret.example");
  });

  it("an Approve from Home applies under the card's rules, tells the thread, and redraws Home", async () => {
    const request = await setUp(harness, "fromhome.example", "a1");
    publish(harness, request);
    await clickButton(harness, request.posted, ACTION_IDS.checkDns, { userId: REQUESTER });
    await waitForReply(harness, request, /DNS record is live/);
    const view = await openHome(harness, APPROVER);
    const approve = buttonsOf(view.blocks).find(
      (button) =>
        button.action_id === ACTION_IDS.approve &&
        button.value?.startsWith(`${requestIdOf(harness, request.domain)}|`),
    );
    if (approve?.value === undefined) throw new Error("no Approve for fromhome.example on Home");

    // Someone who is not an approver clicking the same button is refused, on their Home.
    const refusedBefore = harness.slack.calls("views.publish").length;
    await sendHomeBlockAction(harness.bot.url, SIGNING_SECRET, {
      actionId: ACTION_IDS.approve,
      value: approve.value,
      userId: OUTSIDER,
      viewId: "VHOMEOUTSIDER",
    });
    const refusedHome = homeText(await publishedHome(harness, OUTSIDER, refusedBefore));
    expect(refusedHome).toContain("can approve DKIM requests");

    const before = harness.slack.calls("views.publish").length;
    const ack = await sendHomeBlockAction(harness.bot.url, SIGNING_SECRET, {
      actionId: ACTION_IDS.approve,
      value: approve.value,
      userId: APPROVER,
      viewId: "VHOMEAPPROVER",
      blocks: view.blocks as unknown[],
    });
    expect(ack.status).toBe(200);
    const opened = await waitForReply(harness, request, /\*Approved\* by/);
    expect(opened.text).toContain(`<@${APPROVER}>`);
    await waitForActive(harness, request);
    const redrawn = homeText(await publishedHome(harness, APPROVER, before));
    expect(redrawn).toContain("*Approve* for *fromhome.example*: done.");
    expect(redrawn).not.toMatch(/\|fromhome\.example>\* `a1` · asked by/);
  });
});

describe("App Home: Check DNS and Rotate", () => {
  // A key is due for rotation about two seconds after it turned active.
  const harness = useBot({ DKIM_ROTATE_AFTER_DAYS: "0.00002" });

  /** Opens Home as `userId` until `find` finds something on it (a key becomes due in time). */
  async function homeUntil<T>(
    userId: string,
    find: (view: Record<string, unknown>) => T | undefined,
    description: string,
  ): Promise<{ view: Record<string, unknown>; found: T }> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const view = await openHome(harness, userId);
      const found = find(view);
      if (found !== undefined) return { view, found };
      if (Date.now() > deadline) throw new Error(`Home never showed ${description}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  function homeButton(
    view: Record<string, unknown>,
    actionId: string,
    requestId: string,
  ): string | undefined {
    return buttonsOf(view.blocks).find(
      (button) => button.action_id === actionId && button.value === requestId,
    )?.value;
  }

  it("a Check DNS from Home checks as the card's does: the thread hears the record is live, Home shows the result and is redrawn", async () => {
    const request = await setUp(harness, "checkhome.example", "k1");
    const requestId = requestIdOf(harness, request.domain);
    const { view, found: value } = await homeUntil(
      REQUESTER,
      (each) => homeButton(each, ACTION_IDS.checkDns, requestId),
      "Check DNS for checkhome.example",
    );
    expect(homeText(view)).toMatch(/checkhome\.example>\* `k1` · .*DNS not checked yet/);

    publish(harness, request);
    const before = harness.slack.calls("views.publish").length;
    const ack = await sendHomeBlockAction(harness.bot.url, SIGNING_SECRET, {
      actionId: ACTION_IDS.checkDns,
      value,
      userId: REQUESTER,
      viewId: "VHOMEREQUESTER",
      blocks: view.blocks as unknown[],
    });
    expect(ack.status).toBe(200);
    // The thread hears it as from the card: once, with the approvers mentioned.
    const live = await waitForReply(harness, request, /DNS record is live/);
    for (const mention of APPROVER_MENTIONS) expect(live.text).toContain(mention);
    // Home shows the check's result on top, and its lists as they stand now.
    const redrawn = homeText(await publishedHome(harness, REQUESTER, before));
    expect(redrawn).toContain("`k1._domainkey.checkhome.example`");
    expect(redrawn).toMatch(/checkhome\.example>\* `k1` · .*live: waiting for an approver/);
    // Nothing went to the channel outside the thread, and no second "live" reply came.
    await harness.slack.waitUntil(
      () => harness.slack.calls("views.publish").length >= before + 2,
      "Home drawn again once the click is done",
    );
    expect(
      replies(harness, request).filter((reply) => /DNS record is live/.test(reply.text ?? "")),
    ).toHaveLength(1);
  });

  it("a Rotate from Home starts a rotation as the card's does: its card, the old thread's reply, and Home redrawn", async () => {
    const request = await setUp(harness, "rotatehome.example", "s1");
    publish(harness, request);
    await clickButton(harness, request.posted, ACTION_IDS.approve);
    await waitForActive(harness, request);
    const requestId = requestIdOf(harness, request.domain);
    const { view, found: value } = await homeUntil(
      APPROVER,
      (each) => homeButton(each, ACTION_IDS.rotate, requestId),
      "Rotate for rotatehome.example",
    );
    expect(homeText(view)).toMatch(/\*Keys due for rotation \(older than 0\.00002 days\)\* · 1/);

    const before = harness.slack.calls("views.publish").length;
    const ack = await sendHomeBlockAction(harness.bot.url, SIGNING_SECRET, {
      actionId: ACTION_IDS.rotate,
      value,
      userId: APPROVER,
      viewId: "VHOMEAPPROVER",
      blocks: view.blocks as unknown[],
    });
    expect(ack.status).toBe(200);
    // The rotation's card in the key's channel, asked by the clicker, naming the old selector.
    const card = await harness.slack.waitUntil(
      () =>
        harness.slack
          .postedMessages(CHANNEL)
          .filter(
            (message) =>
              message.threadTs === undefined &&
              textsOf(message.blocks).some((text) => text.includes("*rotatehome.example*")),
          )[1],
      "the rotation's card",
    );
    const cardText = textsOf(card.blocks).join("\n");
    expect(cardText).toContain("replaces selector `s1`");
    expect(cardText).toContain(`<@${APPROVER}>`);
    // The old key's thread records it, as from the card's button.
    await waitForReply(harness, request, /Rotation started/);
    // Home is redrawn: what was done on top; the key is no longer due (a rotation is under
    // way), and the rotation is among the clicker's open requests.
    const redrawn = await harness.slack.waitUntil(
      () =>
        harness.slack
          .calls("views.publish")
          .slice(before)
          .map((call) => call.params.view as Record<string, unknown>)
          .find(
            (each) =>
              each !== undefined &&
              homeText(each).includes("*Rotate* for *rotatehome.example*: done."),
          ),
      "Home redrawn after the Rotate",
    );
    expect(homeButton(redrawn, ACTION_IDS.rotate, requestId)).toBeUndefined();
    expect(homeText(redrawn)).toContain("No key is due for rotation.");
    expect(homeText(redrawn)).toMatch(/\*Your open requests\* · 1\n[\s\S]*rotatehome\.example/);
  });
});

/** The request id in the card's buttons. */
function requestIdOf(harness: Harness, domain: string): string {
  const post = cardPost(harness, domain);
  const value = buttonsOf(post?.params.blocks).find(
    (b) => b.action_id === ACTION_IDS.checkDns,
  )?.value;
  if (value === undefined) throw new Error(`no card for ${domain}`);
  return value;
}
