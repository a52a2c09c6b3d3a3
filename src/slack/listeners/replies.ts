import type { RespondFn } from "@slack/bolt";
import { isCodedError } from "../../errors.js";
import type { AppLogger } from "../../logger.js";
import { ActionRefusedError, RequestConflictError } from "../../requests/errors.js";
import type { DkimRequest } from "../../requests/model.js";
import type { RequestService } from "../../requests/service.js";
import type { SlackClient } from "../slack-client.js";
import { escapeText, type SlackMessage, withMentions } from "../ui/format.js";
import { refusalText, requestConflictText } from "../ui/refusal.js";

/** Where an ephemeral answer for one person goes. */
export interface Audience {
  userId: string;
  channelId: string;
  /** The command's or click's response_url, when there is one (modals have none). */
  respond?: RespondFn | undefined;
}

/**
 * Tells one person something only they see. Through response_url when there is one; else an
 * ephemeral message in the channel; and when the bot cannot post there (not invited), a direct
 * message, so that nobody is left without an answer.
 */
export async function tell(
  client: SlackClient,
  audience: Audience,
  message: string | SlackMessage,
  logger: AppLogger,
): Promise<void> {
  const content = typeof message === "string" ? { text: message } : message;
  try {
    if (audience.respond !== undefined) {
      await audience.respond({ response_type: "ephemeral", replace_original: false, ...content });
      return;
    }
    await client.chat.postEphemeral({
      channel: audience.channelId,
      user: audience.userId,
      ...content,
    });
  } catch (error) {
    logger.event("warn", "Could not answer in the channel; sending a direct message", { error });
    try {
      await client.chat.postMessage({ channel: audience.userId, ...content });
    } catch (dmError) {
      logger.event("error", "Could not answer the person at all", { error: dmError });
    }
  }
}

/**
 * The sentence for an error a person caused or met, as mrkdwn. Named errors carry their own
 * sentence; anything else is our fault, logged in full and answered without internals.
 * Mentions render where the bot named someone by ID (a refusal, an open request); what a
 * person or another system wrote (typed input, the API's words) is escaped, so it cannot ping.
 */
export function errorText(
  error: unknown,
  context: { logger: AppLogger; request?: DkimRequest | undefined },
): string {
  if (error instanceof ActionRefusedError) {
    return context.request === undefined
      ? withMentions(error.message)
      : refusalText(error.reason, context.request, { serviceMessage: error.message });
  }
  if (error instanceof RequestConflictError) return requestConflictText(error.existing);
  if (isCodedError(error)) return escapeText(error.message);
  context.logger.event("error", "Unexpected error while handling a Slack request", { error });
  return "Something went wrong on my side and nothing was changed. Try again; if it keeps failing, ask the bot's operator to look at its log.";
}

/** Slack's error code of a failed Web API call, e.g. "not_in_channel". */
export function slackErrorCode(error: unknown): string | undefined {
  const data = (error as { data?: { error?: unknown } }).data;
  return typeof data?.error === "string" ? data.error : undefined;
}

/** Runs a service action for a person and answers any refusal or error to that person only. */
export async function actFor(
  deps: { service: RequestService; logger: AppLogger },
  client: SlackClient,
  audience: Audience,
  requestId: string,
  action: () => Promise<unknown>,
): Promise<void> {
  try {
    await action();
  } catch (error) {
    const request = await deps.service.get(requestId).catch(() => undefined);
    await tell(client, audience, errorText(error, { logger: deps.logger, request }), deps.logger);
  }
}
