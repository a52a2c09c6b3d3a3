/**
 * Who may approve, when, and what a refused click says. Every refusal goes to the clicker only
 * (the click's response_url) with the reason, and no refusal reaches SpamExperts. Two approvers
 * clicking at once give one apply; Reject asks for a reason and ends the request.
 */
import { describe, expect, it } from "vitest";
import { ACTION_IDS, CALLBACK_IDS, REJECT_FIELDS } from "../../src/slack/ui/ids.js";
import { APPROVER, GROUP, GROUP_MEMBER, OUTSIDER, useBot } from "./harness.js";
import {
  buttonsOf,
  buttonValue,
  clickWithOwnUrl,
  currentMessage,
  type PostedRequest,
  publishRecord,
  responseAt,
  setUpRequest,
  spamExpertsCallsFor,
  textsOf,
  waitForActive,
} from "./support.js";

const harness = useBot();

const APPLIED = ["api_set_dkim_certificate", "api_set_dkim_selector"];

/** Clicks Approve on the request message as `userId`; resolves with the click's response_url. */
async function approve(
  posted: PostedRequest,
  userId: string,
  value = buttonValue(posted.message, ACTION_IDS.approve),
): Promise<string> {
  const { ack, responseUrl } = await clickWithOwnUrl(harness, {
    actionId: ACTION_IDS.approve,
    value,
    userId,
    channelId: posted.channel,
    messageTs: posted.ts,
  });
  expect(ack.status).toBe(200);
  return responseUrl;
}

/** The answer only the clicker sees: ephemeral, and not replacing the request message. */
async function refusalAt(responseUrl: string): Promise<string> {
  const answer = await responseAt(harness.slack, responseUrl);
  expect(answer.body).toMatchObject({ response_type: "ephemeral", replace_original: false });
  return answer.text;
}

/** Still open: the message keeps its three buttons and says it is waiting. */
function expectStillPending(posted: PostedRequest): void {
  const message = currentMessage(harness.slack, posted);
  expect(buttonsOf(message.blocks).map((button) => button.action_id)).toEqual([
    ACTION_IDS.checkDns,
    ACTION_IDS.approve,
    ACTION_IDS.reject,
  ]);
  expect(textsOf(message.blocks).join("\n")).toContain("Waiting for DNS and approval");
}

describe("refused approvals", () => {
  it("refuses the requester approving their own request", async () => {
    const posted = await setUpRequest(harness, "self.example", "a1", { userId: APPROVER });
    publishRecord(harness, "self.example", "a1", posted.value);

    const text = await refusalAt(await approve(posted, APPROVER));
    expect(text).toMatch(/You asked for this request, so someone else must approve it/);
    expect(spamExpertsCallsFor(harness.spamExperts, "self.example")).toEqual([]);
    expectStillPending(posted);
  });

  it("refuses someone who is not an approver, naming who is", async () => {
    const posted = await setUpRequest(harness, "outsider.example", "a1");
    publishRecord(harness, "outsider.example", "a1", posted.value);

    const text = await refusalAt(await approve(posted, OUTSIDER));
    expect(text).toMatch(/^Only .* can approve DKIM requests: ask one of them\.$/);
    expect(text).toContain(`<@${APPROVER}>`);
    expect(text).toContain(`<!subteam^${GROUP}>`);
    expect(spamExpertsCallsFor(harness.spamExperts, "outsider.example")).toEqual([]);
    expectStillPending(posted);
  });

  it("refuses while DNS is not live, then applies once the record is published", async () => {
    const { spamExperts } = harness;
    const posted = await setUpRequest(harness, "dnswait.example", "b1");

    const text = await refusalAt(await approve(posted, APPROVER));
    expect(text).toMatch(/Not approved yet/);
    expect(text).toContain("b1._domainkey.dnswait.example");
    expect(text).toMatch(/not live/);
    expect(spamExpertsCallsFor(spamExperts, "dnswait.example")).toEqual([]);

    publishRecord(harness, "dnswait.example", "b1", posted.value);
    await approve(posted, APPROVER);
    await waitForActive(harness.slack, posted);
    expect(spamExpertsCallsFor(spamExperts, "dnswait.example")).toEqual(APPLIED);
  });

  it("refuses an Approve whose key is not the request's", async () => {
    const posted = await setUpRequest(harness, "keychange.example", "c1");
    publishRecord(harness, "keychange.example", "c1", posted.value);
    const [requestId, fingerprint] = buttonValue(posted.message, ACTION_IDS.approve).split("|");
    const otherKey = `SHA256:${"A".repeat(43)}`;
    expect(fingerprint).not.toBe(otherKey);

    const text = await refusalAt(await approve(posted, APPROVER, `${requestId}|${otherKey}`));
    expect(text).toMatch(/the key of this request is not the one you were shown/);
    expect(spamExpertsCallsFor(harness.spamExperts, "keychange.example")).toEqual([]);
    expectStillPending(posted);
  });

  it("tells a second click on a handled request who handled it", async () => {
    const posted = await setUpRequest(harness, "twice.example", "d1");
    publishRecord(harness, "twice.example", "d1", posted.value);
    await approve(posted, APPROVER);
    await waitForActive(harness.slack, posted);

    const text = await refusalAt(await approve(posted, GROUP_MEMBER));
    expect(text).toMatch(/Already approved by <@UAPPROVER1>/);
    expect(text).toMatch(/<!date\^\d+\^/);
    expect(text).toContain("Active");
    expect(spamExpertsCallsFor(harness.spamExperts, "twice.example")).toEqual(APPLIED);
  });
});

describe("approvals that go through", () => {
  it("lets a member of an approver user group approve", async () => {
    const { slack, spamExperts } = harness;
    const posted = await setUpRequest(harness, "group.example", "e1");
    publishRecord(harness, "group.example", "e1", posted.value);

    await approve(posted, GROUP_MEMBER);
    await waitForActive(harness.slack, posted);
    expect(spamExpertsCallsFor(spamExperts, "group.example")).toEqual(APPLIED);
    expect(
      slack.calls("usergroups.users.list").some((call) => call.params.usergroup === GROUP),
    ).toBe(true);
    const thread = slack.threadReplies(posted.channel, posted.ts).map((reply) => reply.text ?? "");
    expect(thread.join("\n")).toContain(`<@${GROUP_MEMBER}>`);
  });

  it("applies once when two approvers click Approve at the same moment", async () => {
    const { slack, spamExperts } = harness;
    const posted = await setUpRequest(harness, "race.example", "f1");
    publishRecord(harness, "race.example", "f1", posted.value);

    const urls = await Promise.all([approve(posted, APPROVER), approve(posted, GROUP_MEMBER)]);
    await waitForActive(harness.slack, posted);
    // The loser is told; the winner's click needs no answer (the thread has it).
    const answered = await slack.waitUntil(() => {
      const posts = urls.filter((url) => slack.responses(url).length > 0);
      return posts.length > 0 ? posts : undefined;
    }, "the losing click's answer");
    expect(answered).toHaveLength(1);
    const [loser] = answered;
    if (loser === undefined) throw new Error("unreachable");
    expect(await refusalAt(loser)).toMatch(/Already approved by/);

    expect(spamExpertsCallsFor(spamExperts, "race.example")).toEqual(APPLIED);
    const approvedReplies = slack
      .threadReplies(posted.channel, posted.ts)
      .filter((reply) => (reply.text ?? "").includes("*Approved*"));
    expect(approvedReplies).toHaveLength(1);
  });
});

describe("Reject", () => {
  it("asks for a reason, ends the request, and refuses a later Approve", async () => {
    const { slack, spamExperts } = harness;
    const posted = await setUpRequest(harness, "reject.example", "g1");
    publishRecord(harness, "reject.example", "g1", posted.value);

    const triggerId = "1700000000.7.reject-the-request";
    const click = await harness.click({
      actionId: ACTION_IDS.reject,
      value: buttonValue(posted.message, ACTION_IDS.reject),
      userId: APPROVER,
      messageTs: posted.ts,
      triggerId,
    });
    expect(click.status).toBe(200);
    const opened = await slack.waitForCall(
      "views.open",
      (call) => call.params.trigger_id === triggerId,
    );
    const view = opened.params.view as Record<string, unknown>;
    expect(view.callback_id).toBe(CALLBACK_IDS.rejectForm);
    const privateMetadata = String(view.private_metadata);
    const reasonIs = (reason: string) => ({
      [REJECT_FIELDS.reason.blockId]: { [REJECT_FIELDS.reason.actionId]: reason },
    });

    const blank = await harness.submit({
      callbackId: CALLBACK_IDS.rejectForm,
      privateMetadata,
      values: reasonIs("   \n "),
      userId: APPROVER,
    });
    expect(blank.json).toEqual({
      response_action: "errors",
      errors: { [REJECT_FIELDS.reason.blockId]: expect.stringMatching(/reason/i) },
    });
    expectStillPending(posted);

    const reason = "Wrong selector: use the one from OPS-77";
    const submitted = await harness.submit({
      callbackId: CALLBACK_IDS.rejectForm,
      privateMetadata,
      values: reasonIs(reason),
      userId: APPROVER,
    });
    expect(submitted.status).toBe(200);
    expect(submitted.body).toBe("");

    await slack.waitUntil(() => {
      const message = currentMessage(slack, posted);
      return (
        buttonsOf(message.blocks).length === 0 &&
        textsOf(message.blocks).some((text) => text.includes("*Rejected*"))
      );
    }, "the request message in its Rejected state, without buttons");
    await slack.waitUntil(
      () =>
        slack
          .threadReplies(posted.channel, posted.ts)
          .some((reply) => (reply.text ?? "").includes(reason)),
      "a thread reply with the reason",
    );

    const text = await refusalAt(await approve(posted, GROUP_MEMBER));
    expect(text).toMatch(/Already rejected by <@UAPPROVER1>/);
    expect(text).toContain(reason);
    expect(spamExpertsCallsFor(spamExperts, "reject.example")).toEqual([]);
  });
});
