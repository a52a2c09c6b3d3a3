import { describe, expect, it } from "vitest";
import { publicKeyOf } from "../../src/dkim/keys.js";
import { parseRecord, splitIntoStrings } from "../../src/dkim/record.js";
import { ACTION_IDS } from "../../src/slack/ui/ids.js";
import { APPROVER, CHANNEL, useBot } from "./harness.js";
import { buttonsOf, buttonValue, recordValueShown, textsOf } from "./support.js";

const harness = useBot();

describe("from /dkim setup to signing on the cluster", () => {
  it("answers GET /healthz", async () => {
    const response = await fetch(`${harness.bot.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok", dryRun: false });
  });

  it("sets up, waits for DNS, applies on approval and records every step in the thread", async () => {
    const { slack, spamExperts, dns } = harness;
    const ack = await harness.command("setup Example.com selector=s1 user=mailer@example.com");
    expect(ack.status).toBe(200);

    const posted = await slack.waitForCall(
      "chat.postMessage",
      (call) => call.params.channel === CHANNEL && call.params.thread_ts === undefined,
    );
    const ts = String(posted.response.ts);
    const message = slack.message(CHANNEL, ts);
    if (message === undefined) throw new Error("request message not stored");
    const value = recordValueShown(message);
    expect(textsOf(message.blocks).join("\n")).toContain("s1._domainkey.example.com");
    expect(buttonsOf(message.blocks).map((b) => b.action_id)).toEqual([
      ACTION_IDS.checkDns,
      ACTION_IDS.approve,
      ACTION_IDS.reject,
    ]);

    // Publish the record as a DNS admin would: split in strings of at most 255.
    dns.setTxt("s1._domainkey.example.com", splitIntoStrings(value));
    await harness.click({
      actionId: ACTION_IDS.checkDns,
      value: buttonValue(message, ACTION_IDS.checkDns),
      messageTs: ts,
    });
    await slack.waitUntil(
      () => slack.threadReplies(CHANNEL, ts).some((reply) => /live/i.test(reply.text ?? "")),
      "a thread reply saying DNS is live",
    );

    await harness.click({
      actionId: ACTION_IDS.approve,
      value: buttonValue(message, ACTION_IDS.approve),
      userId: APPROVER,
      messageTs: ts,
    });
    await slack.waitUntil(
      () =>
        buttonsOf(slack.message(CHANNEL, ts)?.blocks).length === 0 &&
        /Active/.test(textsOf(slack.message(CHANNEL, ts)?.blocks).join("\n")),
      "the request message in its final state, without buttons",
    );
    await slack.waitUntil(
      () => slack.threadReplies(CHANNEL, ts).some((reply) => /\*Active\*/.test(reply.text ?? "")),
      "the thread reply saying the request is active",
    );

    const calls = spamExperts.requests.map((request) => request.params.call);
    expect(calls).toEqual(["api_set_dkim_certificate", "api_set_dkim_selector"]);
    const [certificateCall, selectorCall] = spamExperts.requests;
    const certificate = String(certificateCall?.params.certificate);
    expect(certificate).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/);
    // The key installed is the one whose public half was posted for DNS.
    expect(publicKeyOf(certificate).publicKeyBase64).toBe(parseRecord(value).publicKey);
    expect(certificateCall?.params).toMatchObject({ domain: "example.com", selector: "s1" });
    expect(selectorCall?.params).toMatchObject({
      domain: "example.com",
      selector: "s1",
      username: "mailer@example.com",
    });

    const thread = slack.threadReplies(CHANNEL, ts).map((reply) => reply.text ?? "");
    expect(thread.join("\n")).toMatch(/<@UAPPROVER1>/);
    expect(thread.some((text) => /certificate/i.test(text))).toBe(true);
    expect(thread.some((text) => /mailer@example\.com/.test(text))).toBe(true);
  });
});
