import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type AnyMiddlewareArgs,
  App,
  HTTPReceiver,
  type LogLevel,
  type Middleware,
  type RespondArguments,
} from "@slack/bolt";
import type { Config } from "../config.js";
import type { AppLogger } from "../logger.js";
import { createChannelVisibility } from "./channel-visibility.js";
import type { BotIdentity } from "./check-token.js";
import { type ListenerDeps, registerListeners } from "./listeners/index.js";
import { tell } from "./listeners/replies.js";
import { ackWhatNoListenerTakes } from "./listeners/unhandled.js";
import { guardEventsEndpoint } from "./request-guard.js";
import { createLookupClient } from "./slack-client.js";
import { noticeModal } from "./ui/notice-modal.js";
import { outdatedFormText, unreadableClickText } from "./ui/refusal.js";

const EVENTS_PATH = "/slack/events";

/**
 * Builds the Bolt app without starting it (tests start it on an ephemeral port; main.ts on
 * PORT). HTTP mode unless SLACK_APP_TOKEN is set, then Socket Mode. In HTTP mode Bolt verifies
 * every request's signature and timestamp before any listener runs.
 */
export interface SlackApp {
  app: App;
  /** Starts listening; resolves with the port actually bound (Socket Mode: /healthz only). */
  start(): Promise<{ mode: "http" | "socket"; port: number }>;
  stop(): Promise<void>;
}

export function createApp(
  config: Config,
  deps: ListenerDeps & { logger: AppLogger; identity?: BotIdentity },
): SlackApp {
  const appToken = config.slack.appToken;
  const healthBody = JSON.stringify({ status: "ok", dryRun: deps.dryRun });
  const answerHealth = (res: ServerResponse): void => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(healthBody);
  };
  const logLevel = deps.logger.getLevel() as LogLevel;
  let receiver: HTTPReceiver | undefined;
  if (appToken === undefined) {
    const signingSecret = config.slack.signingSecret ?? "";
    receiver = new HTTPReceiver({
      signingSecret,
      endpoints: EVENTS_PATH,
      logger: deps.logger,
      logLevel,
      customRoutes: [
        { path: "/healthz", method: ["GET"], handler: (_req, res) => answerHealth(res) },
      ],
    });
    receiver.requestListener = guardEventsEndpoint(receiver.requestListener, {
      signingSecret,
      endpoint: EVENTS_PATH,
      logger: deps.logger,
      unreadableFormView: () => noticeModal(outdatedFormText()),
      // Set once the app exists, just below: a click is told only after it was acked.
      tellClicker: ({ userId, responseUrl, channelId }) =>
        tell(
          app.client,
          {
            userId,
            channelId: channelId ?? userId,
            respond: responseUrl === undefined ? undefined : respondTo(responseUrl),
          },
          unreadableClickText(),
          deps.logger,
        ),
    });
  }
  const app = new App({
    token: config.slack.botToken,
    // Known from the start-up check: Bolt need not ask auth.test again.
    ...(deps.identity === undefined
      ? {}
      : {
          botId: deps.identity.botId,
          botUserId: deps.identity.botUserId,
          tokenVerificationEnabled: false,
        }),
    logger: deps.logger,
    logLevel,
    clientOptions: { slackApiUrl: config.slack.apiUrl },
    ...(appToken !== undefined ? { socketMode: true, appToken } : {}),
    ...(receiver !== undefined ? { receiver } : {}),
  });

  app.use(ignoreSlackRetries(deps.logger));
  app.use(ackWhatNoListenerTakes(deps.logger));
  registerListeners(app, {
    ...deps,
    channelVisibility:
      deps.channelVisibility ??
      createChannelVisibility(
        createLookupClient(config.slack.botToken, config.slack.apiUrl, deps.logger),
        { logger: deps.logger },
      ),
  });
  app.error(async (error) => {
    deps.logger.event("error", "A Slack listener failed", { error });
  });

  let server: Server | undefined;
  return {
    app,
    async start() {
      if (appToken !== undefined) {
        await app.start();
        // Socket Mode needs no inbound HTTP, but container health checks do: /healthz only.
        server = await listenForHealth(config.slack.port, answerHealth);
        return { mode: "socket", port: (server.address() as AddressInfo).port };
      }
      server = (await app.start(config.slack.port)) as Server;
      return { mode: "http", port: (server.address() as AddressInfo).port };
    },
    async stop() {
      await app.stop();
      if (appToken !== undefined && server !== undefined) {
        const health = server;
        await new Promise<void>((resolve) => health.close(() => resolve()));
      }
    },
  };
}

function listenForHealth(port: number, answer: (res: ServerResponse) => void): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === "GET" && req.url === "/healthz") {
      answer(res);
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("Not found: in Socket Mode only GET /healthz is served.\n");
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, () => resolve(server));
  });
}

/** Bolt's respond() for a response_url found in a payload Bolt itself could not take. */
function respondTo(responseUrl: string) {
  return async (message: string | RespondArguments): Promise<Response> => {
    const response = await fetch(responseUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(typeof message === "string" ? { text: message } : message),
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) throw new Error(`response_url answered HTTP ${response.status}`);
    return response;
  };
}

/**
 * Slack resends a request it thinks went unanswered (X-Slack-Retry-Num). We always ack within
 * the 3 seconds, so a retry means the first delivery is being handled already: ack it and
 * do nothing more, so a command or click never acts twice.
 */
function ignoreSlackRetries(logger: AppLogger): Middleware<AnyMiddlewareArgs> {
  return async (args) => {
    const { context, next } = args;
    if (context.retryNum === undefined) {
      await next();
      return;
    }
    logger.event("info", "Ignored a retried delivery from Slack", {
      retryNum: context.retryNum,
      retryReason: context.retryReason,
    });
    if ("ack" in args && typeof args.ack === "function") await args.ack();
  };
}
