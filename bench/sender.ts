/**
 * A light load generator for Slack's side. Bodies are built and signed by the test suite's
 * helpers (test/helpers/slack-requests.ts, so Bolt's real verification runs), before the
 * clock starts: signing is Slack's work, not ours. They are sent with node:http rather than
 * fetch, whose per-request overhead in this process would otherwise show up as our latency
 * when 50 go out at once.
 */
import { Agent, request } from "node:http";
import { performance } from "node:perf_hooks";
import {
  type BlockActionArgs,
  blockActionPayload,
  type SlashCommandArgs,
  signSlackRequest,
  slashCommandForm,
} from "../test/helpers/slack-requests.js";

export interface SignedRequest {
  body: string;
  headers: Record<string, string>;
}

export interface Sent {
  status: number;
  body: string;
  /** From the request being handed to node:http to the whole response read. */
  ms: number;
}

function signed(
  secret: string,
  body: string,
  contentType = "application/x-www-form-urlencoded",
): SignedRequest {
  const timestamp = Math.floor(Date.now() / 1000);
  return {
    body,
    headers: {
      "content-type": contentType,
      "content-length": String(Buffer.byteLength(body)),
      "x-slack-request-timestamp": String(timestamp),
      "x-slack-signature": signSlackRequest(secret, timestamp, body),
      "user-agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    },
  };
}

export function signedCommand(secret: string, args: SlashCommandArgs): SignedRequest {
  return signed(secret, slashCommandForm(args).toString());
}

export function signedClick(secret: string, args: BlockActionArgs): SignedRequest {
  const body = new URLSearchParams({ payload: JSON.stringify(blockActionPayload(args)) });
  return signed(secret, body.toString());
}

/** An Events API body (e.g. `app_home_opened`), sent as JSON as Slack sends events. */
export function signedEvent(secret: string, event: Record<string, unknown>): SignedRequest {
  return signed(secret, JSON.stringify(event), "application/json");
}

/** Up to 64 connections, kept alive between requests as Slack's senders would. */
export function createSenderAgent(): Agent {
  return new Agent({ keepAlive: true, maxSockets: 64 });
}

export function send(baseUrl: string, prepared: SignedRequest, agent: Agent): Promise<Sent> {
  const url = new URL("/slack/events", baseUrl);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const outgoing = request(
      url,
      { method: "POST", headers: prepared.headers, agent },
      (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          body += chunk;
        });
        response.on("end", () => {
          resolve({ status: response.statusCode ?? 0, body, ms: performance.now() - started });
        });
        response.on("error", reject);
      },
    );
    outgoing.on("error", reject);
    outgoing.end(prepared.body);
  });
}
