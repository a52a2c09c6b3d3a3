/**
 * Proves the e2e harness against the real libraries: @slack/web-api's WebClient talks to
 * FakeSlack, and a real Bolt App (HTTP receiver, real signature checks) accepts what
 * slack-requests.ts sends, and refuses what it should refuse.
 */
import type { AddressInfo } from "node:net";
import { App, LogLevel, webApi } from "@slack/bolt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type FakeSlack, startFakeSlack } from "./fake-slack.js";
import {
  sendBlockAction,
  sendSlashCommand,
  sendViewSubmission,
  signSlackRequest,
} from "./slack-requests.js";

const TOKEN = "xoxb-fake-token";

// Fast retries: the point is that the fake speaks 429/Retry-After, not to wait for backoff.
const fastRetries = { retries: 2, factor: 1, minTimeout: 1, maxTimeout: 1 };

describe("FakeSlack with @slack/web-api's WebClient", () => {
  let fake: FakeSlack;
  let client: webApi.WebClient;

  beforeAll(async () => {
    fake = await startFakeSlack();
    client = new webApi.WebClient(TOKEN, {
      slackApiUrl: fake.apiUrl,
      retryConfig: fastRetries,
      logLevel: webApi.LogLevel.ERROR,
    });
  });
  afterEach(() => fake.reset());
  afterAll(() => fake.close());

  it("answers auth.test with the bot's identity and records the token", async () => {
    const result = await client.auth.test();
    expect(result).toMatchObject({ ok: true, user_id: fake.botUserId, team_id: fake.teamId });
    const [call] = fake.calls("auth.test");
    expect(call?.token).toBe(TOKEN);
    expect(call?.at).toBeInstanceOf(Date);
  });

  it("answers apps.connections.open with the Socket Mode URL, to app-level tokens only", async () => {
    // Unset: like any method the fake does not know.
    expect(await client.apps.connections.open()).toMatchObject({ ok: true });
    fake.setSocketModeUrl("ws://127.0.0.1:1/link/?ticket=t");
    try {
      const appClient = new webApi.WebClient("xapp-1-A1-2-abc", {
        slackApiUrl: fake.apiUrl,
        retryConfig: fastRetries,
        logLevel: webApi.LogLevel.ERROR,
      });
      expect(await appClient.apps.connections.open()).toMatchObject({
        ok: true,
        url: "ws://127.0.0.1:1/link/?ticket=t",
      });
      await expect(client.apps.connections.open()).rejects.toMatchObject({
        data: { error: "not_allowed_token_type" },
      });
    } finally {
      fake.setSocketModeUrl(undefined);
    }
  });

  it("stores posted messages so update, permalink and threads work", async () => {
    const blocks = [{ type: "section", text: { type: "mrkdwn", text: "*hello* & <b>" } }];
    const posted = await client.chat.postMessage({ channel: "C1", text: "hello", blocks });
    const second = await client.chat.postMessage({ channel: "C1", text: "again" });
    expect(posted.ts).toMatch(/^\d+\.\d{6}$/);
    expect(posted.ts).not.toBe(second.ts);
    expect(posted.channel).toBe("C1");

    const call = await fake.waitForCall("chat.postMessage", (c) => c.params.text === "hello");
    // web-api JSON-encodes blocks in the form; the fake decodes them back.
    expect(call.params.blocks).toEqual(blocks);
    expect(call.rawParams.blocks).toBe(JSON.stringify(blocks));

    const ts = posted.ts ?? "";
    await client.chat.postMessage({ channel: "C1", thread_ts: ts, text: "a reply" });
    expect(fake.threadReplies("C1", ts).map((m) => m.text)).toEqual(["a reply"]);

    await client.chat.update({ channel: "C1", ts, text: "hello, updated", blocks: [] });
    expect(fake.message("C1", ts)).toMatchObject({ text: "hello, updated", blocks: [], edits: 1 });

    const link = await client.chat.getPermalink({ channel: "C1", message_ts: ts });
    expect(link.permalink).toBe(
      `https://${fake.teamDomain}.slack.com/archives/C1/p${ts.replace(".", "")}`,
    );

    await expect(client.chat.update({ channel: "C1", ts: "1.000001", text: "x" })).rejects.toThrow(
      /message_not_found/,
    );
  });

  it("answers chat.postEphemeral with a message_ts", async () => {
    const result = await client.chat.postEphemeral({ channel: "C1", user: "U1", text: "only you" });
    expect(result.message_ts).toMatch(/^\d+\.\d{6}$/);
  });

  it("knows whether the bot is in a channel", async () => {
    fake.setChannel("C_OUT", { botIsMember: false, name: "ops", members: ["U1", "U2"] });
    fake.setChannel("G_HIDDEN", { exists: false });

    const inside = await client.conversations.info({ channel: "C_IN" });
    expect(inside.channel?.is_member).toBe(true);
    const outside = await client.conversations.info({ channel: "C_OUT" });
    expect(outside.channel).toMatchObject({ is_member: false, name: "ops" });

    await expect(client.chat.postMessage({ channel: "C_OUT", text: "x" })).rejects.toMatchObject({
      data: { ok: false, error: "not_in_channel" },
    });
    await expect(client.conversations.info({ channel: "G_HIDDEN" })).rejects.toMatchObject({
      data: { error: "channel_not_found" },
    });

    const members: string[] = [];
    for await (const page of client.paginate("conversations.members", {
      channel: "C_OUT",
      limit: 1,
    })) {
      members.push(...((page as { members?: string[] }).members ?? []));
    }
    expect(members).toEqual(["U1", "U2"]);
    expect(fake.calls("conversations.members")).toHaveLength(2);
  });

  it("answers usergroups.users.list from the configured groups", async () => {
    fake.setUsergroup("S_APPROVERS", ["U1", "U2"]);
    const result = await client.usergroups.users.list({ usergroup: "S_APPROVERS" });
    expect(result.users).toEqual(["U1", "U2"]);
    await expect(client.usergroups.users.list({ usergroup: "S_NONE" })).rejects.toMatchObject({
      data: { error: "no_such_subteam" },
    });
  });

  it("opens and updates views, with hash conflicts", async () => {
    const opened = await client.views.open({
      trigger_id: "123.456.abc",
      view: {
        type: "modal",
        callback_id: "dkim_setup",
        title: { type: "plain_text", text: "DKIM" },
        blocks: [],
      },
    });
    const id = opened.view?.id ?? "";
    expect(opened.view).toMatchObject({ callback_id: "dkim_setup", type: "modal" });
    const view = {
      type: "modal" as const,
      title: { type: "plain_text" as const, text: "Again" },
      blocks: [],
    };
    await client.views.update({ view_id: id, hash: opened.view?.hash ?? "", view });
    await expect(client.views.update({ view_id: id, hash: "stale", view })).rejects.toMatchObject({
      data: { error: "hash_conflict" },
    });
    expect(fake.view(id)?.view.title).toEqual({ type: "plain_text", text: "Again" });
  });

  it("answers any other method with ok", async () => {
    const result = await client.apiCall("reactions.add", { channel: "C1", name: "eyes" });
    expect(result.ok).toBe(true);
  });

  it("plays scripted errors for the next n calls, then behaves again", async () => {
    fake.fail("chat.postMessage", "channel_not_found", 2);
    for (let i = 0; i < 2; i++) {
      await expect(client.chat.postMessage({ channel: "C1", text: "x" })).rejects.toMatchObject({
        code: "slack_webapi_platform_error",
        data: { error: "channel_not_found" },
      });
    }
    await expect(client.chat.postMessage({ channel: "C1", text: "x" })).resolves.toMatchObject({
      ok: true,
    });
    expect(fake.calls("chat.postMessage").map((c) => c.fault?.kind ?? "none")).toEqual([
      "error",
      "error",
      "none",
    ]);
  });

  it("rate-limits with 429 and Retry-After, which web-api waits out and retries", async () => {
    fake.rateLimit("chat.postMessage", 0, 1);
    const result = await client.chat.postMessage({ channel: "C1", text: "eventually" });
    expect(result.ok).toBe(true);
    const calls = fake.calls("chat.postMessage");
    expect(calls.map((c) => c.status)).toEqual([429, 200]);

    const impatient = new webApi.WebClient(TOKEN, {
      slackApiUrl: fake.apiUrl,
      rejectRateLimitedCalls: true,
      logLevel: webApi.LogLevel.ERROR,
    });
    fake.rateLimit("chat.update", 7);
    await expect(
      impatient.chat.update({ channel: "C1", ts: "1.1", text: "x" }),
    ).rejects.toMatchObject({
      code: "slack_webapi_rate_limited_error",
      retryAfter: 7,
    });
  });

  it("answers other HTTP faults, which web-api retries and then reports", async () => {
    fake.fail("chat.postMessage", { kind: "http", status: 503, body: "upstream down" });
    await expect(client.chat.postMessage({ channel: "C1", text: "x" })).resolves.toMatchObject({
      ok: true,
    });
    // Three attempts with `fastRetries` (retries: 2): all of them fail.
    fake.fail("chat.update", { kind: "http", status: 503 }, 3);
    await expect(client.chat.update({ channel: "C1", ts: "1.1", text: "x" })).rejects.toMatchObject(
      {
        code: "slack_webapi_http_error",
        statusCode: 503,
      },
    );
    expect(fake.calls("chat.update").map((c) => c.status)).toEqual([503, 503, 503]);
  });

  it("answers a delayed call late, or not at all to a client that gave up", async () => {
    fake.setUsergroup("SSLOW", ["U1"]);
    fake.delay("usergroups.users.list", 300);
    await expect(client.usergroups.users.list({ usergroup: "SSLOW" })).resolves.toMatchObject({
      users: ["U1"],
    });
    expect(fake.calls("usergroups.users.list").at(-1)?.fault).toEqual({
      kind: "slow",
      delayMs: 300,
    });

    const hasty = new webApi.WebClient(TOKEN, {
      slackApiUrl: fake.apiUrl,
      timeout: 100,
      retryConfig: { retries: 0 },
      logLevel: webApi.LogLevel.ERROR,
    });
    fake.delay("usergroups.users.list", 2000);
    await expect(hasty.usergroups.users.list({ usergroup: "SSLOW" })).rejects.toMatchObject({
      code: "slack_webapi_request_error",
    });
    // The fake still answers the next call, and records the one nobody waited for.
    await fake.waitUntil(
      () =>
        fake.calls("usergroups.users.list").filter((c) => c.fault?.kind === "slow").length === 2,
      "the abandoned call to be recorded",
    );
    await expect(client.usergroups.users.list({ usergroup: "SSLOW" })).resolves.toMatchObject({
      ok: true,
    });
  });

  it("refuses other tokens when told which to accept", async () => {
    const strict = await startFakeSlack({ acceptTokens: [TOKEN] });
    try {
      const other = new webApi.WebClient("xoxb-wrong", {
        slackApiUrl: strict.apiUrl,
        logLevel: webApi.LogLevel.ERROR,
      });
      await expect(other.auth.test()).rejects.toMatchObject({ data: { error: "invalid_auth" } });
    } finally {
      await strict.close();
    }
  });

  it("serves response_urls and records what is posted to them", async () => {
    const url = fake.responseUrl();
    expect(url).toMatch(new RegExp(`^${fake.origin}/response/`));
    const reply = fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ response_type: "ephemeral", text: "Only you can see this" }),
    });
    const post = await fake.waitForResponse((p) => p.url === url);
    expect(post.body).toEqual({ response_type: "ephemeral", text: "Only you can see this" });
    expect((await reply).status).toBe(200);
    expect(fake.responses(url)).toHaveLength(1);
  });

  it("waits for calls still to come, and times out naming what did arrive", async () => {
    const waiting = fake.waitForCall("chat.postMessage", (c) => c.params.channel === "C9");
    await client.chat.postMessage({ channel: "C8", text: "not this one" });
    await client.chat.postMessage({ channel: "C9", text: "this one" });
    expect((await waiting).params.text).toBe("this one");

    const pair = await fake.waitForCalls("chat.postMessage", 2);
    expect(pair.map((c) => c.params.channel)).toEqual(["C8", "C9"]);

    await expect(fake.waitForCall("views.open", undefined, 50)).rejects.toThrow(
      /timed out .* views\.open.*chat\.postMessage/,
    );
  });
});

describe("signed Slack requests through a real Bolt App", () => {
  const secret = "test-signing-secret";
  let fake: FakeSlack;
  let app: App;
  let baseUrl: string;
  const seen: Array<{ kind: string; body: unknown; retryNum?: number; retryReason?: string }> = [];

  beforeAll(async () => {
    fake = await startFakeSlack();
    app = new App({
      token: TOKEN,
      signingSecret: secret,
      logLevel: LogLevel.ERROR,
      clientOptions: { slackApiUrl: fake.apiUrl, retryConfig: fastRetries },
    });
    app.command("/dkim", async ({ ack, body, respond, client, context }) => {
      // Recorded before the ack, so a test that has the HTTP answer also sees the entry.
      const entry: (typeof seen)[number] = { kind: "command", body };
      if (context.retryNum !== undefined) entry.retryNum = context.retryNum;
      if (context.retryReason !== undefined) entry.retryReason = context.retryReason;
      seen.push(entry);
      await ack();
      await respond({ response_type: "ephemeral", text: `got: ${body.text}` });
      await client.chat.postMessage({ channel: body.channel_id, text: body.text });
    });
    app.action("approve", async ({ ack, body }) => {
      seen.push({ kind: "action", body });
      await ack();
    });
    app.view("dkim_setup", async ({ ack, view }) => {
      seen.push({ kind: "view", body: view });
      const domain = view.state.values.domain?.value?.value;
      if (domain === "bad") {
        await ack({ response_action: "errors", errors: { domain: "Not a domain name." } });
        return;
      }
      await ack();
    });
    const server = await app.start({ port: 0, host: "127.0.0.1" });
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(() => {
    seen.length = 0;
    fake.reset();
  });
  afterAll(async () => {
    await app.stop();
    await fake.close();
  });

  it("signs like Slack: v0 HMAC-SHA256 over v0:timestamp:body", () => {
    // The example from Slack's "Verifying requests from Slack" page.
    const body =
      "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    expect(signSlackRequest("8f742231b10e8888abcd99yyyzzz85a5", 1531420618, body)).toBe(
      "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
    );
  });

  it("delivers a slash command; respond() reaches the fake's response_url", async () => {
    const responseUrl = fake.responseUrl();
    const response = await sendSlashCommand(baseUrl, secret, {
      text: 'setup example.com reason="a & b" user=<mailto:m@example.com|m@example.com>',
      userId: "U1",
      channelId: "C1",
      responseUrl,
    });
    expect(response.status).toBe(200);
    const post = await fake.waitForResponse((p) => p.url === responseUrl);
    expect(post.body).toMatchObject({
      text: 'got: setup example.com reason="a & b" user=<mailto:m@example.com|m@example.com>',
    });
    await fake.waitForCall("chat.postMessage", (c) => c.params.channel === "C1");
    expect(seen[0]?.body).toMatchObject({
      command: "/dkim",
      user_id: "U1",
      channel_id: "C1",
      team_id: fake.teamId,
      api_app_id: fake.appId,
      response_url: responseUrl,
    });
    expect(seen[0]?.retryNum).toBeUndefined();
  });

  it("passes Slack's retry headers through to the listener context", async () => {
    const responseUrl = fake.responseUrl();
    await sendSlashCommand(baseUrl, secret, {
      text: "help",
      userId: "U1",
      channelId: "C1",
      responseUrl,
      retryNum: 1,
      retryReason: "http_timeout",
    });
    // The listener goes on after its ack: let it finish before the next test resets the fake.
    await fake.waitForCall("chat.postMessage", (c) => c.params.text === "help");
    await fake.waitForResponse((p) => p.url === responseUrl);
    expect(seen[0]).toMatchObject({ retryNum: 1, retryReason: "http_timeout" });
  });

  it.each([
    ["a bad signature", { signature: "bad" as const }],
    ["no signature", { signature: "missing" as const }],
    ["a stale timestamp", { stale: true }],
  ])("answers %s with 401 and runs nothing", async (_label, options) => {
    const response = await sendSlashCommand(baseUrl, secret, {
      text: "status",
      userId: "U1",
      channelId: "C1",
      responseUrl: fake.responseUrl(),
      ...options,
    });
    expect(response.status).toBe(401);
    expect(seen).toEqual([]);
    expect(fake.calls().filter((c) => c.method !== "auth.test")).toEqual([]);
    expect(fake.responses()).toEqual([]);
  });

  it("refuses a body changed after signing", async () => {
    const timestamp = Math.floor(Date.now() / 1000);
    const signed = "command=%2Fdkim&text=status&user_id=U1&channel_id=C1";
    const response = await fetch(`${baseUrl}/slack/events`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": String(timestamp),
        "x-slack-signature": signSlackRequest(secret, timestamp, signed),
      },
      body: signed.replace("status", "setup"),
    });
    expect(response.status).toBe(401);
    expect(seen).toEqual([]);
  });

  it("delivers a block action with the message it was clicked on", async () => {
    const response = await sendBlockAction(baseUrl, secret, {
      actionId: "approve",
      value: "req_42",
      userId: "U2",
      channelId: "C1",
      messageTs: "1700000000.000100",
      responseUrl: fake.responseUrl(),
    });
    expect(response.status).toBe(200);
    expect(seen[0]?.body).toMatchObject({
      type: "block_actions",
      user: { id: "U2" },
      channel: { id: "C1" },
      container: { type: "message", message_ts: "1700000000.000100", channel_id: "C1" },
      message: { ts: "1700000000.000100" },
      actions: [{ action_id: "approve", value: "req_42", type: "button" }],
    });
  });

  it("delivers a view submission and returns the ack body (inline errors)", async () => {
    const values = {
      domain: { value: "bad" },
      bits: { value: { select: "2048" } },
      flags: { value: { checked: ["testing"] } },
      reason: { value: null },
    };
    const response = await sendViewSubmission(baseUrl, secret, {
      callbackId: "dkim_setup",
      privateMetadata: JSON.stringify({ channelId: "C1" }),
      values,
      userId: "U1",
    });
    expect(response.status).toBe(200);
    expect(response.json).toEqual({
      response_action: "errors",
      errors: { domain: "Not a domain name." },
    });
    expect(seen[0]?.body).toMatchObject({
      callback_id: "dkim_setup",
      private_metadata: '{"channelId":"C1"}',
      state: {
        values: {
          domain: { value: { type: "plain_text_input", value: "bad" } },
          bits: {
            value: {
              type: "static_select",
              selected_option: { value: "2048", text: { type: "plain_text", text: "2048" } },
            },
          },
          flags: {
            value: { type: "checkboxes", selected_options: [{ value: "testing" }] },
          },
          reason: { value: { type: "plain_text_input", value: null } },
        },
      },
    });

    const ok = await sendViewSubmission(baseUrl, secret, {
      callbackId: "dkim_setup",
      values: { ...values, domain: { value: "example.com" } },
      userId: "U1",
    });
    expect(ok).toMatchObject({ status: 200, body: "" });
  });
});
