/**
 * The read-only commands: `/dkim help` (grammar, defaults, who approves), `/dkim status`
 * (requests with their state, linked to their message) and `/dkim check` against the loopback
 * DNS, for domains the bot set up and for domains it never saw.
 */
import { describe, expect, it } from "vitest";
import { generateKeyPair } from "../../src/dkim/keys.js";
import { buildRecordValue, splitIntoStrings } from "../../src/dkim/record.js";
import {
  commandAnswer,
  currentMessage,
  openRejectForm,
  publish,
  setUp,
  submitRejectForm,
} from "./flows.js";
import { APPROVER, CHANNEL, GROUP, useBot } from "./harness.js";
import { hasNoButtons, readable, statusLinesIn } from "./support.js";

const harness = useBot();

/** A DKIM record for a key the bot never made. */
async function foreignRecord(): Promise<string> {
  const { publicKeyBase64 } = await generateKeyPair(1024);
  return buildRecordValue(publicKeyBase64);
}

describe("/dkim help", () => {
  it("answers the grammar, the defaults and who may approve, to the person only", async () => {
    const answer = await commandAnswer(harness, "help");
    expect(answer.via).toBe("ack");
    expect(answer.body).toMatchObject({ response_type: "ephemeral" });
    const text = readable(answer.text);
    expect(text).toContain(
      "/dkim setup <domain> [<domain>...] [selector=<s>] [bits=1024|2048|4096]",
    );
    expect(text).toContain("/dkim status [<domain> | open | active | failed]");
    expect(text).toContain("/dkim check <domain> [<selector>]");
    expect(text).toMatch(/Selector: s \+ the year and month in UTC, e\.g\. `s\d{6}`/);
    expect(text).toContain("Key size: 1024-bit RSA");
    expect(text).toContain(`Who may approve: <@${APPROVER}> and <!subteam^${GROUP}>`);
    expect(text).toMatch(/may not approve their own request/);
    expect(text).toMatch(/once the TXT record is live/);

    // `/dkim` alone is the same help.
    const bare = await commandAnswer(harness, "");
    expect(bare.text).toBe(answer.text);
    expect(harness.slack.calls("chat.postMessage")).toHaveLength(0);
  });
});

describe("/dkim status", () => {
  it("lists open and recent requests with their state and a link to each", async () => {
    const { slack } = harness;
    const open = await setUp(harness, "status-open.example", "s1");
    const gone = await setUp(harness, "status-gone.example", "s1");

    // Reject the second one through its button and form.
    await submitRejectForm(harness, await openRejectForm(harness, gone), "Not ours");
    await slack.waitUntil(
      () => hasNoButtons(currentMessage(harness, gone)),
      "the rejected request message",
    );

    const all = await commandAnswer(harness, "status");
    expect(all.body).toMatchObject({ response_type: "ephemeral" });
    const [openLine] = statusLinesIn(all.text, "status-open.example");
    const [goneLine] = statusLinesIn(all.text, "status-gone.example");
    expect(openLine).toContain("Waiting for DNS and approval");
    expect(openLine).toContain("DNS:");
    expect(openLine).toContain(
      `<https://fake-team.slack.com/archives/${CHANNEL}/p${open.ts.replace(".", "")}|just now>`,
    );
    expect(goneLine).toContain("Rejected");
    expect(all.text.indexOf("*Open*")).toBeLessThan(all.text.indexOf("status-open.example"));
    expect(all.text.indexOf("*Recent*")).toBeLessThan(all.text.indexOf("status-gone.example"));

    const one = await commandAnswer(harness, "status Status-Open.example");
    expect(statusLinesIn(one.text, "status-open.example")).toHaveLength(1);
    expect(one.text).not.toContain("status-gone.example");

    const none = await commandAnswer(harness, "status nothing-here.example");
    expect(none.text).toContain("No DKIM requests for *nothing-here.example* yet");
  });
});

describe("/dkim check", () => {
  it("says nothing is published for a domain the bot never set up", async () => {
    const answer = await commandAnswer(harness, "check never-set-up.example s1");
    expect(answer.via).toBe("response_url");
    expect(answer.body).toMatchObject({ response_type: "ephemeral" });
    expect(answer.text).toContain("*Not published*");
    expect(answer.text).toContain("s1._domainkey.never-set-up.example");
  });

  it("says a well-formed record is live on a domain the bot never set up", async () => {
    harness.dns.setTxt("s1._domainkey.foreign.example", splitIntoStrings(await foreignRecord()));
    const answer = await commandAnswer(harness, "check foreign.example selector=s1");
    expect(answer.text).toContain("*Live*");
    expect(answer.text).toContain("s1._domainkey.foreign.example");
  });

  it("checks a request's record against the request's key", async () => {
    const request = await setUp(harness, "check-mine.example", "k1");
    const name = "k1._domainkey.check-mine.example";

    const missing = await commandAnswer(harness, "check check-mine.example k1");
    expect(missing.text).toContain("*Not published*");

    // Someone publishes a record with another key: well formed, but not this request's.
    harness.dns.setTxt(name, splitIntoStrings(await foreignRecord()));
    const wrong = await commandAnswer(harness, "check check-mine.example k1");
    expect(wrong.text).toContain("*Published, but wrong*");
    expect(wrong.text).toMatch(/key/i);

    publish(harness, request);
    const live = await commandAnswer(harness, "check check-mine.example k1");
    expect(live.text).toContain("*Live*");
    expect(live.text).toMatch(/matches/i);

    // Without a selector: the one of the domain's newest request.
    const bare = await commandAnswer(harness, "check check-mine.example");
    expect(bare.text).toContain(name);
    expect(bare.text).toContain("*Live*");
  });
});
