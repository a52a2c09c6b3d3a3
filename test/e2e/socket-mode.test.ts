/**
 * Socket Mode end to end, without Slack: the built bot with SLACK_APP_TOKEN and no signing
 * secret asks the fake Slack's `apps.connections.open` for a socket, connects to a local fake
 * Socket Mode server, and gets commands and clicks as envelopes on that socket instead of
 * HTTP requests. What it does with them is the same as in HTTP mode: acks on the socket,
 * Web API calls to the fake Slack, SpamExperts calls to the fake cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACTION_IDS } from "../../src/slack/ui/ids.js";
import { type FakeSocketMode, startFakeSocketMode } from "../helpers/fake-socket-mode.js";
import {
  appHomeOpenedBody,
  blockActionPayload,
  type SlashCommandArgs,
  slashCommandForm,
} from "../helpers/slack-requests.js";
import {
  apiCallsFor,
  publish,
  publishedHome,
  type RequestInSlack,
  requestMessagesFor,
  waitForActive,
} from "./flows.js";
import { APPROVER, CHANNEL, type Harness, REQUESTER, startHarness } from "./harness.js";
import { answerText, buttonValue, recordValueShown, textsOf } from "./support.js";

const APP_TOKEN = "xapp-1-A0FAKEAPP-1234-e2esocketmode";

let harness: Harness;
let socket: FakeSocketMode;

beforeAll(async () => {
  harness = await startHarness();
  socket = await startFakeSocketMode({ appId: harness.slack.appId });
  harness.slack.setSocketModeUrl(socket.url);
  await harness.startBot({ SLACK_APP_TOKEN: APP_TOKEN }, { unset: ["SLACK_SIGNING_SECRET"] });
});

afterAll(async () => {
  await harness?.close();
  await socket?.close();
});

/** `/dkim <text>` as a slash_commands envelope from the requester in CHANNEL; its ack. */
function command(text: string, args: Partial<SlashCommandArgs> = {}) {
  const form = slashCommandForm({
    text,
    userId: REQUESTER,
    channelId: CHANNEL,
    responseUrl: harness.slack.responseUrl(),
    ...args,
  });
  return socket.send("slash_commands", Object.fromEntries(form));
}

describe("Socket Mode", () => {
  it("connects with the app-level token and serves only GET /healthz over HTTP", async () => {
    expect(harness.bot.mode).toBe("socket");
    const [open] = harness.slack.calls("apps.connections.open");
    expect(open?.token).toBe(APP_TOKEN);
    expect(open?.response).toEqual({ ok: true, url: socket.url });
    const [connection] = socket.connections;
    expect(connection?.path).toBe(new URL(socket.url).pathname + new URL(socket.url).search);

    const health = await fetch(`${harness.bot.url}/healthz`);
    expect(health.status).toBe(200);
    expect(health.headers.get("content-type")).toBe("application/json");
    expect(await health.json()).toEqual({ status: "ok", dryRun: false });
    // No HTTP ingress for Slack in Socket Mode: nothing to sign, nothing to forge.
    const events = await fetch(`${harness.bot.url}/slack/events`, { method: "POST", body: "" });
    expect(events.status).toBe(404);
  });

  it("answers /dkim help in the ack on the socket", async () => {
    const responseUrl = harness.slack.responseUrl();
    const ack = await command("help", { responseUrl });
    expect(ack.payload).toMatchObject({ response_type: "ephemeral" });
    const text = answerText(ack.payload);
    expect(text).toContain("/dkim setup");
    expect(text).toContain("/dkim status");
    // The answer is the ack itself: nothing went to the command's response_url.
    expect(harness.slack.responses(responseUrl)).toEqual([]);
  });

  it("sets up a request, and applies it on Approve once DNS has the record", async () => {
    const setupAck = await command("setup Example.com selector=s1");
    expect(setupAck.payload).toEqual({});
    const message = await harness.slack.waitUntil(
      () => requestMessagesFor(harness, CHANNEL, "example.com")[0],
      "the request message for example.com",
      20_000,
    );
    const posted = structuredClone(message);
    expect(textsOf(posted.blocks).join("\n")).toContain("s1._domainkey.example.com");
    const [post] = harness.slack.calls("chat.postMessage");
    expect(post?.token).toBe(harness.slack.calls("auth.test")[0]?.token);
    const request: RequestInSlack = {
      domain: "example.com",
      selector: "s1",
      channel: CHANNEL,
      ts: posted.ts,
      value: recordValueShown(posted),
      posted,
    };

    publish(harness, request);
    const clickAck = await socket.send(
      "interactive",
      blockActionPayload({
        actionId: ACTION_IDS.approve,
        value: buttonValue(posted, ACTION_IDS.approve),
        userId: APPROVER,
        channelId: CHANNEL,
        messageTs: posted.ts,
        responseUrl: harness.slack.responseUrl(),
      }),
    );
    expect(clickAck.payload).toEqual({});

    await waitForActive(harness, request);
    expect(apiCallsFor(harness, "example.com")).toEqual([
      "api_set_dkim_certificate",
      "api_set_dkim_selector",
    ]);
  });

  it("draws App Home for app_home_opened as an events_api envelope, as in HTTP mode", async () => {
    const before = harness.slack.calls("views.publish").length;
    const ack = await socket.send("events_api", appHomeOpenedBody({ userId: REQUESTER }));
    expect(ack.envelope_id).toBeDefined();
    const view = await publishedHome(harness, REQUESTER, before);
    const text = textsOf(view.blocks).join("\n");
    expect(text).toContain("*Your open requests*");
    expect(text).toContain("*The fleet*");
  });

  it("reconnects when Slack asks it to (disconnect: refresh_requested), and works on", async () => {
    const before = socket.connections.length;
    socket.sendJson({ type: "disconnect", reason: "refresh_requested", debug_info: {} });
    const closed = await socket.waitForClientClose(before);
    expect(closed.code).toBe(1000);
    // @slack/socket-mode waits clientPingTimeout (5 s) before the first reconnect attempt.
    await socket.waitForConnection(before + 1, 15_000);
    expect(harness.slack.calls("apps.connections.open")).toHaveLength(2);
    const ack = await command("help");
    expect(answerText(ack.payload)).toContain("/dkim setup");
  });

  it("stops on SIGTERM with exit code 0, closing the socket cleanly", async () => {
    const connection = socket.connections.at(-1);
    expect(connection).toBeDefined();
    expect(await harness.bot.stop()).toBe(0);
    const closed = await socket.waitForClientClose(connection?.id ?? 0);
    expect(closed.code).toBe(1000);
    expect(harness.bot.lines.some((line) => line.includes('"msg":"Stopped"'))).toBe(true);
    // Socket Mode logs its Web API requests, headers and all, at debug: the token is redacted.
    expect(harness.allLines.join("\n")).not.toContain(APP_TOKEN.slice(5));
  });
});
