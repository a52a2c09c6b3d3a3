/**
 * Faults of the outside world during an apply, end to end: an `ERROR:` answer from the API,
 * 503s that pass and one that does not, and Slack's rate limit on thread replies. The request
 * must say what went wrong in its thread, stay retryable, and go on from the step that failed.
 */
import { describe, expect, it } from "vitest";
import { ACTION_IDS } from "../../src/slack/ui/ids.js";
import { faults } from "../helpers/fake-spamexperts.js";
import {
  apiCallsFor,
  CERTIFICATE,
  clickApprove,
  clickButton,
  currentMessage,
  headline,
  publish,
  type RequestInSlack,
  replies,
  replyTexts,
  SELECTOR,
  setUp,
  waitForReply,
  waitForState,
} from "./flows.js";
import { useBot } from "./harness.js";
import { buttonsOf, hasActiveButtonsOnly, textsOf } from "./support.js";

const harness = useBot();

/** The failure reply of the thread (the one with a Retry button), once it is posted. */
async function failureReply(request: RequestInSlack) {
  return waitForReply(harness, request, /\*Failed\*/);
}

async function clickRetry(request: RequestInSlack): Promise<void> {
  await clickButton(harness, await failureReply(request), ACTION_IDS.retry);
}

describe("an ERROR: answer from the API", () => {
  it("shows the API's own text, marks the request Failed, and Retry goes on from the selector", async () => {
    const { spamExperts } = harness;
    const domain = "api-error.example";
    const apiText = "Outgoing user mailer@api-error.example is locked by the administrator";
    const request = await setUp(harness, domain, "s1", { extra: `user=mailer@${domain}` });
    publish(harness, request);
    spamExperts.failNext(SELECTOR, faults.apiError(apiText));

    await clickApprove(harness, request);
    await waitForState(harness, request, "Failed");

    const failure = await failureReply(request);
    expect(failure.text).toContain(apiText);
    expect(failure.text).toContain(SELECTOR);
    expect(buttonsOf(failure.blocks).map((b) => b.action_id)).toEqual([ACTION_IDS.retry]);
    // The request message says Failed (and is not approvable again).
    expect(textsOf(currentMessage(harness, request).blocks).join("\n")).toMatch(/Failed/);
    expect(
      buttonsOf(currentMessage(harness, request).blocks).map((b) => b.action_id),
    ).not.toContain(ACTION_IDS.approve);
    expect(apiCallsFor(harness, domain)).toEqual([CERTIFICATE, SELECTOR]);

    await clickRetry(request);
    const final = await waitForState(harness, request, "Active");
    expect(hasActiveButtonsOnly(final)).toBe(true);
    await waitForReply(harness, request, /\*Active\*/);
    // The certificate was installed once; only the selector call was made again.
    expect(apiCallsFor(harness, domain)).toEqual([CERTIFICATE, SELECTOR, SELECTOR]);
    const thread = replyTexts(harness, request);
    expect(thread.some((text) => /\*Retry\* by <@UAPPROVER1>/.test(text))).toBe(true);
    // The failure reply lost its Retry once the request was retried: no stale button is left.
    for (const reply of replies(harness, request)) expect(buttonsOf(reply.blocks)).toEqual([]);
  });
});

describe("HTTP 503 from the API", () => {
  it("retries a call that fails twice with 503 and ends active after the third attempt", async () => {
    const { spamExperts } = harness;
    const domain = "flaky.example";
    const request = await setUp(harness, domain, "s1");
    publish(harness, request);
    spamExperts.failNext(CERTIFICATE, faults.unavailable(), 2);

    await clickApprove(harness, request);
    await waitForState(harness, request, "Active");
    await waitForReply(harness, request, /\*Active\*/);

    expect(apiCallsFor(harness, domain)).toEqual([CERTIFICATE, CERTIFICATE, CERTIFICATE, SELECTOR]);
    expect(replyTexts(harness, request).some((text) => /\*Failed\*/.test(text))).toBe(false);
  });

  it("fails after the last attempt of a lasting 503, and Retry works once the API is back", async () => {
    const { spamExperts } = harness;
    const domain = "outage.example";
    const request = await setUp(harness, domain, "s1");
    publish(harness, request);
    // Every attempt of the selector call (3 by default) meets the outage.
    spamExperts.failNext(SELECTOR, faults.unavailable(), 3);

    await clickApprove(harness, request);
    await waitForState(harness, request, "Failed");
    const failure = await failureReply(request);
    expect(failure.text).toContain("Service Unavailable");
    expect(buttonsOf(failure.blocks).map((b) => b.action_id)).toEqual([ACTION_IDS.retry]);
    expect(apiCallsFor(harness, domain)).toEqual([CERTIFICATE, SELECTOR, SELECTOR, SELECTOR]);

    // The outage is over: the fake answers normally again.
    await clickRetry(request);
    await waitForState(harness, request, "Active");
    // Told to the end, so that nothing of this request is still on its way to Slack when the
    // next test holds back "the next" thread reply.
    await waitForReply(harness, request, /\*Active\*/);
    expect(apiCallsFor(harness, domain)).toEqual([
      CERTIFICATE,
      SELECTOR,
      SELECTOR,
      SELECTOR,
      SELECTOR,
    ]);
  });
});

describe("Slack's rate limit", () => {
  it("waits out a 429 on a thread reply: the reply still arrives and the flow completes", async () => {
    const { slack } = harness;
    const domain = "ratelimited.example";
    const request = await setUp(harness, domain, "s1");
    publish(harness, request);
    // The next chat.postMessage is the first reply of this request's thread.
    slack.rateLimit("chat.postMessage", 1, 1);

    await clickApprove(harness, request);
    await waitForState(harness, request, "Active");
    await waitForReply(harness, request, /\*Active\*/);

    const limited = slack.calls("chat.postMessage").filter((call) => call.status === 429);
    expect(limited).toHaveLength(1);
    const [refused] = limited;
    expect(refused?.params.thread_ts).toBe(request.ts);
    // The same reply was sent again after Retry-After, and Slack took it.
    const resent = slack
      .calls("chat.postMessage")
      .filter((call) => call.status === 200 && call.seq > (refused?.seq ?? 0))
      .find((call) => call.rawBody === refused?.rawBody);
    expect(resent?.response.ok).toBe(true);
    expect(replies(harness, request).map((reply) => reply.ts)).toContain(resent?.response.ts);

    expect(apiCallsFor(harness, domain)).toEqual([CERTIFICATE, SELECTOR]);
    const thread = replyTexts(harness, request);
    for (const title of ["*Approved*", "Certificate installed", "Signing enabled", "*Active*"]) {
      expect(thread.filter((text) => text.includes(title))).toHaveLength(1);
    }
    expect(headline(harness, request)).toContain("*Active*");
  });
});
