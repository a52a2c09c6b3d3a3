/**
 * Nothing is lost on restart: the bot is stopped (SIGTERM) or killed (SIGKILL) and started
 * again on the same DATA_DIR, between request and approval and in the middle of an apply.
 */
import { describe, expect, it } from "vitest";
import { publicKeyOf } from "../../src/dkim/keys.js";
import { parseRecord } from "../../src/dkim/record.js";
import { faults } from "../helpers/fake-spamexperts.js";
import {
  apiCallsFor,
  apiRequestsFor,
  CERTIFICATE,
  clickApprove,
  eventually,
  publish,
  type RequestInSlack,
  replyTexts,
  SELECTOR,
  setUp,
  waitForReply,
  waitForState,
} from "./flows.js";
import { useBot } from "./harness.js";
import { hasActiveButtonsOnly } from "./support.js";

/** A long API timeout, so a slowed call is surely still in flight when the bot is stopped. */
const ENV = { SPAMEXPERTS_TIMEOUT_MS: "20000" };

const harness = useBot(ENV);

/** After a restart mid-apply: the thread says it resumed, and the request ends Active. */
async function expectResumedToActive(request: RequestInSlack): Promise<void> {
  await waitForReply(harness, request, /\*Resumed\*/);
  const final = await waitForState(harness, request, "Active");
  expect(hasActiveButtonsOnly(final)).toBe(true);
  await waitForReply(harness, request, /\*Active\*/);
}

describe("a restart between request and approval", () => {
  it("keeps the request: the old Approve button works and installs the key that was posted", async () => {
    const domain = "restart-pending.example";
    const request = await setUp(harness, domain, "s1");
    publish(harness, request);

    expect(await harness.bot.stop()).toBe(0);
    await harness.startBot(ENV);

    // The button of the message posted by the previous process.
    await clickApprove(harness, request);
    const final = await waitForState(harness, request, "Active");
    expect(hasActiveButtonsOnly(final)).toBe(true);
    // Told to the end, so that nothing of this request is still on its way to Slack when the
    // next test holds back "the next" thread reply.
    await waitForReply(harness, request, /\*Active\*/);

    expect(apiCallsFor(harness, domain)).toEqual([CERTIFICATE, SELECTOR]);
    const certificate = String(apiRequestsFor(harness, domain)[0]?.params.certificate);
    expect(certificate).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/);
    expect(publicKeyOf(certificate).publicKeyBase64).toBe(parseRecord(request.value).publicKey);
  });
});

describe("a restart during an apply", () => {
  it("resumes after a crash (SIGKILL) without installing the certificate again", async () => {
    const { spamExperts } = harness;
    const domain = "crash.example";
    const request = await setUp(harness, domain, "s1", { extra: `user=mailer@${domain}` });
    publish(harness, request);
    // The selector call hangs, so the crash comes after the certificate step was recorded.
    spamExperts.failNext(SELECTOR, faults.slow(60_000));
    // Slack holds the bot's first thread reply back for 30 s, so the crash also cuts short
    // replies whose events are already stored: they must be told after the restart.
    harness.slack.rateLimit("chat.postMessage", 30, 1);

    await clickApprove(harness, request);
    await eventually(
      () => apiCallsFor(harness, domain).includes(SELECTOR),
      "the selector call to reach SpamExperts",
    );
    await harness.bot.kill();
    expect(apiCallsFor(harness, domain)).toEqual([CERTIFICATE, SELECTOR]);

    await harness.startBot(ENV);
    await expectResumedToActive(request);

    // The certificate was not sent again; the selector call was made by the new process.
    expect(apiCallsFor(harness, domain)).toEqual([CERTIFICATE, SELECTOR, SELECTOR]);
    expect(apiRequestsFor(harness, domain)[2]?.params).toMatchObject({
      domain,
      selector: "s1",
      username: `mailer@${domain}`,
    });
    // Every event is told once, in order, including those the crash cut short: the steps in
    // the reply of the run that made them.
    const thread = replyTexts(harness, request);
    const order = [
      "*Approved*",
      "Certificate installed",
      "*Resumed*",
      "Signing enabled",
      "*Active*",
    ];
    const positions = order.map((title) => thread.findIndex((text) => text.includes(title)));
    expect(
      positions.every((position) => position >= 0),
      thread.join("\n---\n"),
    ).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    for (const title of ["*Approved*", "*Resumed*", "*Active*"]) {
      expect(thread.filter((text) => text.includes(title))).toHaveLength(1);
    }
    expect(thread.find((text) => text.includes("*Approved*"))).toContain("Cut short by a restart");
    expect(thread.some((text) => /\*Failed\*/.test(text))).toBe(false);
  });

  it("stops cleanly on SIGTERM mid-apply (exit 0), and the request ends active", async () => {
    const { spamExperts } = harness;
    const domain = "sigterm.example";
    const users = [`a@${domain}`, `b@${domain}`];
    const request = await setUp(harness, domain, "s1", {
      extra: users.map((u) => `user=${u}`).join(" "),
    });
    publish(harness, request);
    // Slow, but within SPAMEXPERTS_TIMEOUT_MS: the first selector call is in flight at SIGTERM.
    spamExperts.failNext(SELECTOR, faults.slow(3_000));

    await clickApprove(harness, request);
    await eventually(
      () => apiCallsFor(harness, domain).includes(SELECTOR),
      "the first selector call to reach SpamExperts",
    );
    const stopping = harness.bot;
    expect(await stopping.stop()).toBe(0);
    expect(stopping.lines.some((line) => line.includes('"msg":"Stopped"'))).toBe(true);
    // A clean stop lets the call in flight finish and starts no new one: nothing fails,
    // nothing touches the closed database.
    const troubles = stopping.lines.filter(
      (line) => line.includes('"level":"error"') || line.includes("Applying a DKIM request failed"),
    );
    expect(troubles).toEqual([]);

    await harness.startBot(ENV);
    // Stopped between the two users' calls: the new process goes on with the second.
    await expectResumedToActive(request);
    // One certificate call; each user's selector call succeeded exactly once.
    expect(apiCallsFor(harness, domain)).toEqual([CERTIFICATE, SELECTOR, SELECTOR]);
    expect(apiRequestsFor(harness, domain).map((r) => r.params.username)).toEqual([
      undefined,
      ...users,
    ]);
    expect(replyTexts(harness, request).some((text) => /\*Failed\*/.test(text))).toBe(false);
  });
});
