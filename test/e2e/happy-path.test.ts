import { describe, expect, it } from "vitest";
import { publicKeyOf } from "../../src/dkim/keys.js";
import { parseRecord } from "../../src/dkim/record.js";
import { ACTION_IDS } from "../../src/slack/ui/ids.js";
import {
  clickApprove,
  clickButton,
  publish,
  replyTexts,
  setUp,
  waitForActive,
  waitForReply,
} from "./flows.js";
import { useBot } from "./harness.js";
import { buttonsOf, textsOf } from "./support.js";

const harness = useBot();

describe("from /dkim setup to signing on the cluster", () => {
  it("answers GET /healthz", async () => {
    const response = await fetch(`${harness.bot.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok", dryRun: false });
  });

  it("sets up, waits for DNS, applies on approval and records every step in the thread", async () => {
    const { spamExperts } = harness;
    const request = await setUp(harness, "Example.com", "s1", {
      extra: "user=mailer@example.com",
    });
    const { posted, value } = request;
    expect(textsOf(posted.blocks).join("\n")).toContain("s1._domainkey.example.com");
    expect(buttonsOf(posted.blocks).map((b) => b.action_id)).toEqual([
      ACTION_IDS.checkDns,
      ACTION_IDS.approve,
      ACTION_IDS.reject,
      ACTION_IDS.cancel,
    ]);

    // Publish the record as a DNS admin would: split in strings of at most 255.
    publish(harness, request);
    await clickButton(harness, posted, ACTION_IDS.checkDns);
    await waitForReply(harness, request, /live/i);

    await clickApprove(harness, request);
    await waitForActive(harness, request);

    const calls = spamExperts.requests.map((sent) => sent.params.call);
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

    const thread = replyTexts(harness, request);
    expect(thread.join("\n")).toMatch(/<@UAPPROVER1>/);
    expect(thread.some((text) => /certificate/i.test(text))).toBe(true);
    expect(thread.some((text) => /mailer@example\.com/.test(text))).toBe(true);
  });

  it("logs one JSON line per request event: request id, domain, selector, actor, outcome", () => {
    const events = harness.allLines
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => entry.msg === "request event" && entry.domain === "example.com");
    expect(events.map((entry) => [entry.event, entry.state])).toEqual([
      ["created", "pending"],
      ["dns-live", "pending"],
      ["approved", "applying"],
      ["certificate-installed", "applying"],
      ["selector-enabled", "applying"],
      ["active", "active"],
    ]);
    for (const entry of events) {
      expect(entry).toMatchObject({ level: "info", selector: "s1" });
      expect(entry.requestId).toMatch(/^[a-z0-9]+$/);
      expect(typeof entry.time).toBe("string");
    }
    expect(events.find((entry) => entry.event === "approved")?.actor).toBe("UAPPROVER1");
    expect(events.find((entry) => entry.event === "created")?.actor).toBe("UREQUESTER");
  });
});
