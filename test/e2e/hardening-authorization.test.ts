/**
 * Issue 9, approvals from the wrong place and silent waits: another workspace or org, the
 * channel rule for every action
 * (a click from outside DKIM_ALLOWED_CHANNELS; a request whose channel was removed from it,
 * after a restart with a new list), the setup form's channel, group membership asked at each
 * click, a failing or slow group lookup told to the clicker at once, `/dkim status` hiding a
 * private channel's requests from non-members, and a slow SpamExperts told as in progress.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ACTION_IDS, CALLBACK_IDS, REJECT_FIELDS } from "../../src/slack/ui/ids.js";
import { faults } from "../helpers/fake-spamexperts.js";
import {
  answersAt,
  apiCallsFor,
  clickApprove,
  commandAnswer,
  currentMessage,
  publish,
  type RequestInSlack,
  setUp,
  submitSetupForm,
  waitForActive,
} from "./flows.js";
import { APPROVER, CHANNEL, GROUP, GROUP_MEMBER, OUTSIDER, REQUESTER, useBot } from "./harness.js";
import { buttonsOf, buttonValue, statusLinesIn } from "./support.js";

/** Allowed at first; removed from DKIM_ALLOWED_CHANNELS by the restart at the end. */
const SECOND = "CSECONDOPS";
/** Allowed; private, with the requester in it but not the outsider. */
const PRIVATE = "CPRIVATEOPS";
/** Never allowed. */
const OTHER = "COTHEROPS";

const harness = useBot({
  DKIM_ALLOWED_CHANNELS: `${CHANNEL},${SECOND},${PRIVATE}`,
  // The slow-SpamExperts case below waits 4 s for one call.
  SPAMEXPERTS_TIMEOUT_MS: "10000",
});

const APPLIED = ["api_set_dkim_certificate", "api_set_dkim_selector"];

beforeAll(async () => {
  await harness.slack.waitForCall("auth.test");
  harness.slack.setChannel(PRIVATE, { isPrivate: true, members: [REQUESTER, APPROVER] });
});

/** A published request in `channel`, ready for Approve. */
async function readyRequest(domain: string, channel = CHANNEL): Promise<RequestInSlack> {
  const request = await setUp(harness, domain, "h1", { channelId: channel });
  publish(harness, request);
  return request;
}

/** Clicks `actionId` on the request as `userId` from `channelId`; the click's answers. */
async function clickFrom(
  request: RequestInSlack,
  actionId: string,
  channelId: string | undefined,
  userId = APPROVER,
): Promise<string> {
  const responseUrl = harness.slack.responseUrl();
  const ack = await harness.click({
    actionId,
    value: buttonValue(request.posted, actionId),
    userId,
    channelId: channelId ?? CHANNEL,
    messageTs: request.ts,
    responseUrl,
  });
  expect(ack.status).toBe(200);
  return responseUrl;
}

function expectNothingApplied(request: RequestInSlack): void {
  expect(apiCallsFor(harness, request.domain)).toEqual([]);
  expect(buttonsOf(currentMessage(harness, request).blocks).map((b) => b.action_id)).toContain(
    ACTION_IDS.approve,
  );
}

describe("the channel rule holds for clicks", () => {
  it("refuses an Approve clicked in a channel outside DKIM_ALLOWED_CHANNELS", async () => {
    const request = await readyRequest("click-elsewhere.example");
    const responseUrl = await clickFrom(request, ACTION_IDS.approve, OTHER);
    const [answer] = await answersAt(harness, responseUrl, 1);
    expect(answer).toBe(
      `dkim-bot's buttons work only in <#${CHANNEL}>, <#${SECOND}> and <#${PRIVATE}>, as \`/dkim\` does, so nothing was done.`,
    );
    expectNothingApplied(request);

    // The same click from the request's own channel goes through.
    await clickApprove(harness, request);
    await waitForActive(harness, request);
    expect(apiCallsFor(harness, request.domain)).toEqual(APPLIED);
  });
});

describe("a request acts only for clicks from its own workspace", () => {
  it("refuses an Approve from another workspace and from another org, then takes the real one", async () => {
    const request = await readyRequest("other-workspace.example");
    for (const elsewhere of [{ teamId: "T0OTHERTEAM" }, { enterpriseId: "E0OTHERORG" }]) {
      const responseUrl = harness.slack.responseUrl();
      const ack = await harness.click({
        actionId: ACTION_IDS.approve,
        value: buttonValue(request.posted, ACTION_IDS.approve),
        userId: APPROVER,
        channelId: CHANNEL,
        messageTs: request.ts,
        responseUrl,
        ...elsewhere,
      });
      expect(ack.status).toBe(200);
      const [answer] = await answersAt(harness, responseUrl, 1);
      expect(answer).toBe(
        "This request belongs to another Slack workspace (or organisation), so nothing was done. Act on it from the workspace where it was made.",
      );
      expectNothingApplied(request);
    }

    await clickApprove(harness, request);
    await waitForActive(harness, request);
    expect(apiCallsFor(harness, request.domain)).toEqual(APPLIED);
  });
});

describe("the setup form re-checks its channel", () => {
  it("refuses a form whose channel is outside DKIM_ALLOWED_CHANNELS, a DM or a person", async () => {
    for (const channelId of [OTHER, "D0DIRECT1", REQUESTER]) {
      const domain = `form-${channelId.toLowerCase()}.example`;
      const response = await submitSetupForm(harness, { channelId, domain, selector: "f1" });
      expect(response.json).toMatchObject({ response_action: "update" });
      expect(JSON.stringify(response.json)).toContain("/dkim works only in");
      const status = await commandAnswer(harness, `status ${domain}`);
      expect(statusLinesIn(status.text, domain)).toEqual([]);
    }
    expect(
      harness.slack.calls("chat.postMessage").filter((c) => c.rawBody.includes("form-")),
    ).toEqual([]);
  });
});

describe("group membership is asked of Slack at each click", () => {
  it("refuses a member removed from the group at their next click", async () => {
    const first = await readyRequest("member-first.example");
    const second = await readyRequest("member-second.example");
    await clickApprove(harness, first, { userId: GROUP_MEMBER });
    await waitForActive(harness, first);

    harness.slack.setUsergroup(GROUP, []);
    try {
      const responseUrl = await clickApprove(harness, second, { userId: GROUP_MEMBER });
      const [answer] = await answersAt(harness, responseUrl, 1);
      expect(answer).toMatch(/^Only .* can approve DKIM requests: ask one of them\.$/);
      expectNothingApplied(second);
    } finally {
      harness.slack.setUsergroup(GROUP, [GROUP_MEMBER]);
    }
  });

  it("tells the clicker at once when the lookup keeps failing (HTTP 500), and a later click works", async () => {
    const request = await readyRequest("lookup-500.example");
    // Both attempts of the bounded lookup fail.
    harness.slack.fail("usergroups.users.list", { kind: "http", status: 500 }, 2);
    const responseUrl = await clickApprove(harness, request, { userId: GROUP_MEMBER });
    const [answer] = await answersAt(harness, responseUrl, 1);
    expect(answer).toBe(
      `Could not check your membership of <!subteam^${GROUP}> with Slack, so nothing was done. Click Approve again in a minute.`,
    );
    expectNothingApplied(request);

    await clickApprove(harness, request, { userId: GROUP_MEMBER });
    await waitForActive(harness, request);
    expect(apiCallsFor(harness, request.domain)).toEqual(APPLIED);
  });

  it("says it is waiting on Slack while the lookup is slow, then that it could not check", async () => {
    const request = await readyRequest("lookup-slow.example");
    harness.slack.delay("usergroups.users.list", 5000, 2);
    const responseUrl = await clickApprove(harness, request, { userId: GROUP_MEMBER });
    const answers = await answersAt(harness, responseUrl, 2, 30_000);
    expect(answers).toEqual([
      "Still working: waiting on Slack…",
      `Could not check your membership of <!subteam^${GROUP}> with Slack, so nothing was done. Click Approve again in a minute.`,
    ]);
    expectNothingApplied(request);
    // The fake answers the abandoned calls late; let them land before the next test counts.
    await harness.slack.waitUntil(
      () =>
        harness.slack.calls("usergroups.users.list").filter((c) => c.fault?.kind === "slow")
          .length === 2,
      "the slow lookups to be answered",
      40_000,
    );
  });
});

describe("slow SpamExperts", () => {
  it("tells the approver the apply is waiting on SpamExperts, once", async () => {
    const request = await readyRequest("slow-apply.example");
    harness.spamExperts.failNext("api_set_dkim_certificate", faults.slow(4000));
    const responseUrl = await clickApprove(harness, request);
    await waitForActive(harness, request);
    const answers = await answersAt(harness, responseUrl, 1);
    expect(answers).toEqual(["Still working: waiting on SpamExperts…"]);
  });
});

describe("/dkim status shows a person only requests of channels they may see", () => {
  it("hides a private channel's request from someone not in it", async () => {
    await setUp(harness, "private-only.example", "v1", { channelId: PRIVATE });
    await setUp(harness, "public-too.example", "v1");

    const outsider = await commandAnswer(harness, "status", { userId: OUTSIDER });
    expect(statusLinesIn(outsider.text, "private-only.example")).toEqual([]);
    expect(statusLinesIn(outsider.text, "public-too.example")).toHaveLength(1);

    const member = await commandAnswer(harness, "status", { userId: REQUESTER });
    expect(statusLinesIn(member.text, "private-only.example")).toHaveLength(1);
    expect(statusLinesIn(member.text, "public-too.example")).toHaveLength(1);

    const byDomain = await commandAnswer(harness, "status private-only.example", {
      userId: OUTSIDER,
    });
    expect(statusLinesIn(byDomain.text, "private-only.example")).toEqual([]);
  });
});

describe("a request whose channel was removed from DKIM_ALLOWED_CHANNELS", () => {
  it("refuses every action on it after a restart with the new list", async () => {
    const request = await readyRequest("removed-channel.example", SECOND);
    await harness.bot.stop();
    await harness.startBot({ DKIM_ALLOWED_CHANNELS: `${CHANNEL},${PRIVATE}` });

    // From its own channel, now outside the list: the click's channel refuses it.
    const fromSecond = await clickFrom(request, ACTION_IDS.approve, SECOND);
    expect((await answersAt(harness, fromSecond, 1))[0]).toMatch(/buttons work only in/);

    // From an allowed channel: the request's own channel refuses it, for every button.
    for (const actionId of [ACTION_IDS.approve, ACTION_IDS.checkDns, ACTION_IDS.reject]) {
      const responseUrl = harness.slack.responseUrl();
      const ack = await harness.click({
        actionId,
        value: buttonValue(request.posted, actionId),
        userId: APPROVER,
        channelId: CHANNEL,
        messageTs: request.ts,
        responseUrl,
      });
      expect(ack.status).toBe(200);
      const [answer] = await answersAt(harness, responseUrl, 1);
      expect(answer).toBe(
        `This request was made in <#${SECOND}>, which is no longer one of the channels where dkim-bot works (<#${CHANNEL}> and <#${PRIVATE}>), so nothing was done. Ask whoever runs dkim-bot, or start a new request in one of those channels.`,
      );
    }
    expect(harness.slack.calls("views.open")).toHaveLength(0);

    // The reject form's submission (no channel at all) is refused the same way.
    const [requestId] = buttonValue(request.posted, ACTION_IDS.approve).split("|");
    const submitted = await harness.submit({
      callbackId: CALLBACK_IDS.rejectForm,
      privateMetadata: JSON.stringify({ requestId, channelId: SECOND, messageTs: request.ts }),
      values: { [REJECT_FIELDS.reason.blockId]: { [REJECT_FIELDS.reason.actionId]: "no" } },
      userId: APPROVER,
    });
    expect(submitted.status).toBe(200);
    await harness.slack.waitUntil(
      () =>
        harness.slack
          .calls("chat.postEphemeral")
          .some((c) => String(c.params.text).includes("is no longer one of the channels")),
      "the refusal of the reject form",
    );
    expectNothingApplied(request);
    const status = await commandAnswer(harness, "status removed-channel.example", {
      userId: REQUESTER,
    });
    expect(statusLinesIn(status.text, "removed-channel.example")[0]).toContain(
      "Waiting for DNS and approval",
    );
  });
});
