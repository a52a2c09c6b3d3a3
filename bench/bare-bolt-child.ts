/**
 * The peer of the ack measurements: a bare @slack/bolt App in HTTP mode (its default
 * HTTPReceiver, the same as the bot's), in a process of its own, with one command handler that
 * acks at once and does nothing else. It tells the bench its port over IPC and exits when the
 * bench says "stop" (or goes away).
 */
import type { AddressInfo, Server } from "node:net";
import { App, LogLevel } from "@slack/bolt";

const signingSecret = process.env.SLACK_SIGNING_SECRET;
if (signingSecret === undefined)
  throw new Error("bare-bolt-child: SLACK_SIGNING_SECRET is required");

const app = new App({
  token: "xoxb-bare-bolt",
  signingSecret,
  // No auth.test at start: nothing of Slack runs here, only the receiver and the handler.
  botId: "BBARE",
  botUserId: "UBARE",
  tokenVerificationEnabled: false,
  logLevel: LogLevel.ERROR,
});
app.command(/.*/, async ({ ack }) => {
  await ack();
});

const server = (await app.start(0)) as Server;
process.send?.({ type: "ready", port: (server.address() as AddressInfo).port });
process.on("message", (message: { type?: string }) => {
  if (message.type === "stop") void app.stop().finally(() => process.exit(0));
});
process.on("disconnect", () => process.exit(0));
