/**
 * Who may approve, when, and what a refused click says. Every refusal goes to the clicker only
 * (the click's response_url) with the reason, and no refusal reaches SpamExperts. Two approvers
 * clicking at once give one apply; Reject asks for a reason and ends the request.
 */
import { describe, expect, it } from "vitest";
import { ACTION_IDS, CALLBACK_IDS, REJECT_FIELDS } from "../../src/slack/ui/ids.js";
import {
  apiCallsFor,
  clickApprove,
  currentMessage,
  openRejectForm,
  publish,
  type RequestInSlack,
  replyTexts,
  responseAt,
  setUp,
  submitRejectForm,
  waitForActive,
  waitForFinal,
} from "./flows.js";
import { APPROVER, GROUP, GROUP_MEMBER, OUTSIDER, useBot } from "./harness.js";
import { buttonsOf, buttonValue, textsOf } from "./support.js";

const harness = useBot();

const APPLIED = ["api_set_dkim_certificate", "api_set_dkim_selector"];

/** Clicks Approve on the request message as `userId`; resolves with the click's response_url. */
function approve(
  request: RequestInSlack,
  userId: string,
  value = buttonValue(request.posted, ACTION_IDS.approve),
): Promise<string> {
  return clickApprove(harness, request, { userId, value });
}

/** The answer only the clicker sees: ephemeral, and not replacing the request message. */
async function refusalAt(responseUrl: string): Promise<string> {
  const answer = await responseAt(harness, responseUrl);
  expect(answer.body).toMatchObject({ response_type: "ephemeral", replace_original: false });
  return answer.text;
}

/** Still open: the message keeps its three buttons and says it is waiting. */
function expectStillPending(request: RequestInSlack): void {
  const message = currentMessage(harness, request);
  expect(buttonsOf(message.blocks).map((button) => button.action_id)).toEqual([
    ACTION_IDS.checkDns,
    ACTION_IDS.approve,
    ACTION_IDS.reject,
    ACTION_IDS.cancel,
  ]);
  expect(textsOf(message.blocks).join("\n")).toContain("Waiting for DNS and approval");
}

describe("refused approvals", () => {
  it("refuses the requester approving their own request", async () => {
    const request = await setUp(harness, "self.example", "a1", { userId: APPROVER });
    publish(harness, request);

    const text = await refusalAt(await approve(request, APPROVER));
    expect(text).toMatch(/You asked for this request, so someone else must approve it/);
    expect(apiCallsFor(harness, "self.example")).toEqual([]);
    expectStillPending(request);
  });

  it("refuses someone who is not an approver, naming who is", async () => {
    const request = await setUp(harness, "outsider.example", "a1");
    publish(harness, request);

    const text = await refusalAt(await approve(request, OUTSIDER));
    expect(text).toMatch(/^Only .* can approve DKIM requests: ask one of them\.$/);
    expect(text).toContain(`<@${APPROVER}>`);
    expect(text).toContain(`<!subteam^${GROUP}>`);
    expect(apiCallsFor(harness, "outsider.example")).toEqual([]);
    expectStillPending(request);
  });

  it("refuses while DNS is not live, then applies once the record is published", async () => {
    const request = await setUp(harness, "dnswait.example", "b1");

    const text = await refusalAt(await approve(request, APPROVER));
    expect(text).toMatch(/Not approved yet/);
    expect(text).toContain("b1._domainkey.dnswait.example");
    expect(text).toMatch(/not live/);
    expect(apiCallsFor(harness, "dnswait.example")).toEqual([]);

    publish(harness, request);
    await approve(request, APPROVER);
    await waitForActive(harness, request);
    expect(apiCallsFor(harness, "dnswait.example")).toEqual(APPLIED);
  });

  it("refuses an Approve whose key is not the request's", async () => {
    const request = await setUp(harness, "keychange.example", "c1");
    publish(harness, request);
    const [requestId, fingerprint] = buttonValue(request.posted, ACTION_IDS.approve).split("|");
    const otherKey = `SHA256:${"A".repeat(43)}`;
    expect(fingerprint).not.toBe(otherKey);

    const text = await refusalAt(await approve(request, APPROVER, `${requestId}|${otherKey}`));
    expect(text).toMatch(/the key of this request is not the one you were shown/);
    expect(apiCallsFor(harness, "keychange.example")).toEqual([]);
    expectStillPending(request);
  });

  it("tells a second click on a handled request who handled it", async () => {
    const request = await setUp(harness, "twice.example", "d1");
    publish(harness, request);
    await approve(request, APPROVER);
    await waitForActive(harness, request);

    const text = await refusalAt(await approve(request, GROUP_MEMBER));
    expect(text).toMatch(/Already approved by <@UAPPROVER1>/);
    expect(text).toMatch(/<!date\^\d+\^/);
    expect(text).toContain("Active");
    expect(apiCallsFor(harness, "twice.example")).toEqual(APPLIED);
  });
});

describe("approvals that go through", () => {
  it("lets a member of an approver user group approve", async () => {
    const { slack } = harness;
    const request = await setUp(harness, "group.example", "e1");
    publish(harness, request);

    await approve(request, GROUP_MEMBER);
    await waitForActive(harness, request);
    expect(apiCallsFor(harness, "group.example")).toEqual(APPLIED);
    expect(
      slack.calls("usergroups.users.list").some((call) => call.params.usergroup === GROUP),
    ).toBe(true);
    const thread = replyTexts(harness, request);
    expect(thread.join("\n")).toContain(`<@${GROUP_MEMBER}>`);
  });

  it("applies once when two approvers click Approve at the same moment", async () => {
    const { slack } = harness;
    const request = await setUp(harness, "race.example", "f1");
    publish(harness, request);

    const urls = await Promise.all([approve(request, APPROVER), approve(request, GROUP_MEMBER)]);
    await waitForActive(harness, request);
    // The loser is told; the winner's click needs no answer (the thread has it).
    const answered = await slack.waitUntil(() => {
      const posts = urls.filter((url) => slack.responses(url).length > 0);
      return posts.length > 0 ? posts : undefined;
    }, "the losing click's answer");
    expect(answered).toHaveLength(1);
    const [loser] = answered;
    if (loser === undefined) throw new Error("unreachable");
    expect(await refusalAt(loser)).toMatch(/Already approved by/);

    expect(apiCallsFor(harness, "race.example")).toEqual(APPLIED);
    const approvedReplies = replyTexts(harness, request).filter((text) =>
      text.includes("*Approved*"),
    );
    expect(approvedReplies).toHaveLength(1);
  });
});

describe("Reject", () => {
  it("asks for a reason, ends the request, and refuses a later Approve", async () => {
    const { slack } = harness;
    const request = await setUp(harness, "reject.example", "g1");
    publish(harness, request);

    const view = await openRejectForm(harness, request);
    expect(view.callback_id).toBe(CALLBACK_IDS.rejectForm);

    const blank = await submitRejectForm(harness, view, "   \n ");
    expect(blank.json).toEqual({
      response_action: "errors",
      errors: { [REJECT_FIELDS.reason.blockId]: expect.stringMatching(/reason/i) },
    });
    expectStillPending(request);

    const reason = "Wrong selector: use the one from OPS-77";
    const submitted = await submitRejectForm(harness, view, reason);
    expect(submitted.status).toBe(200);
    expect(submitted.body).toBe("");

    await waitForFinal(harness, request, "Rejected");
    await slack.waitUntil(
      () => replyTexts(harness, request).some((text) => text.includes(reason)),
      "a thread reply with the reason",
    );

    const text = await refusalAt(await approve(request, GROUP_MEMBER));
    expect(text).toMatch(/Already rejected by <@UAPPROVER1>/);
    expect(text).toContain(reason);
    expect(apiCallsFor(harness, "reject.example")).toEqual([]);
  });
});
