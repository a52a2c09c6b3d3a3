/**
 * A guard in front of Bolt's HTTP receiver for `POST /slack/events`. Bolt trusts the shape of
 * a signed body: `payload=null` made its receiver throw where nothing catches it, and the
 * process stopped. The guard reads the body first (Bolt reuses what was read), and a body that
 * is correctly signed but not of a shape Bolt can take (body-shape.ts) is answered here:
 * 400 with one log line, or, when a person clicked or submitted, an ack at once and a sentence
 * for them. Everything else, unsigned requests included (401 as before), goes on to Bolt.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import {
  type BufferedIncomingMessage,
  HTTPModuleFunctions,
  isValidSlackRequest,
} from "@slack/bolt";
import type { ModalView } from "@slack/types";
import type { AppLogger } from "../logger.js";
import { type BodyVerdict, inspectSlackBody } from "./body-shape.js";

export interface RequestGuardOptions {
  signingSecret: string;
  /** The events path Bolt serves, e.g. "/slack/events". */
  endpoint: string;
  logger: AppLogger;
  /** Tells the person who clicked (through the response_url when there is one). */
  tellClicker(clicker: { userId: string; responseUrl?: string; channelId?: string }): Promise<void>;
  /** The view that replaces a form that cannot be read. */
  unreadableFormView(): ModalView;
  bodyLimit?: number;
}

export function guardEventsEndpoint(
  listener: RequestListener,
  options: RequestGuardOptions,
): RequestListener {
  const { logger } = options;
  return (req, res) => {
    if (req.method !== "POST" || pathOf(req) !== options.endpoint) {
      listener(req, res);
      return;
    }
    screen(req, res, listener, options).catch((error: unknown) => {
      logger.event("error", "Could not screen a request to the events endpoint", { error });
      if (!res.headersSent) res.writeHead(500).end();
    });
  };
}

async function screen(
  req: IncomingMessage,
  res: ServerResponse,
  listener: RequestListener,
  options: RequestGuardOptions,
): Promise<void> {
  const { logger } = options;
  let buffered: BufferedIncomingMessage;
  try {
    buffered = await HTTPModuleFunctions.bufferIncomingMessage(
      req,
      options.bodyLimit ?? HTTPModuleFunctions.defaultBodyLimit,
    );
  } catch (error) {
    const tooLarge =
      HTTPModuleFunctions.isRawBodyError(error) &&
      (error.type === "entity.too.large" || error.statusCode === 413);
    logger.event("warn", "Refused a request whose body could not be read", {
      problem: tooLarge ? "over the size limit" : "the body was cut off or unreadable",
    });
    if (!res.headersSent) res.writeHead(tooLarge ? 413 : 400).end();
    return;
  }

  let body: unknown;
  try {
    body = HTTPModuleFunctions.parseHTTPRequestBody(buffered);
  } catch {
    // Not JSON at all: Bolt answers that itself (401 unsigned, 400 signed), with its log line.
    listener(buffered, res);
    return;
  }
  const verdict = inspectSlackBody(body);
  if (verdict.kind === "pass" || !isSigned(buffered, options.signingSecret)) {
    listener(buffered, res);
    return;
  }
  answer(verdict, res, options);
}

function answer(
  verdict: Exclude<BodyVerdict, { kind: "pass" }>,
  res: ServerResponse,
  options: RequestGuardOptions,
): void {
  const { logger } = options;
  switch (verdict.kind) {
    case "refuse":
      logger.event("warn", "Refused a signed Slack request the bot cannot read", {
        problem: verdict.problem,
      });
      res
        .writeHead(400, { "content-type": "text/plain" })
        .end("Not a request dkim-bot can read.\n");
      return;
    case "ignore":
      logger.event("info", "Acknowledged a Slack payload the bot does not handle", {
        problem: verdict.problem,
        user: verdict.userId,
      });
      res.writeHead(200).end();
      return;
    case "unreadable-form":
      logger.event("warn", "Could not read a form submission; showed the person why", {
        problem: verdict.problem,
        user: verdict.userId,
      });
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ response_action: "update", view: options.unreadableFormView() }));
      return;
    case "unreadable-click":
      logger.event("warn", "Could not read a click; told the person", {
        problem: verdict.problem,
        user: verdict.userId,
      });
      res.writeHead(200).end();
      void options
        .tellClicker({
          userId: verdict.userId,
          ...(verdict.responseUrl === undefined ? {} : { responseUrl: verdict.responseUrl }),
          ...(verdict.channelId === undefined ? {} : { channelId: verdict.channelId }),
        })
        .catch((error: unknown) => {
          logger.event("warn", "Could not tell the person their click was not read", { error });
        });
      return;
  }
}

/** Slack's signature and timestamp, checked as Bolt checks them (Bolt checks again). */
function isSigned(req: BufferedIncomingMessage, signingSecret: string): boolean {
  const signature = req.headers["x-slack-signature"];
  const timestamp = req.headers["x-slack-request-timestamp"];
  if (typeof signature !== "string" || typeof timestamp !== "string") return false;
  return isValidSlackRequest({
    signingSecret,
    body: req.rawBody.toString(),
    headers: {
      "x-slack-signature": signature,
      "x-slack-request-timestamp": Number(timestamp),
    },
  });
}

function pathOf(req: IncomingMessage): string {
  try {
    return new URL(req.url ?? "/", "http://localhost").pathname;
  } catch {
    return "";
  }
}
