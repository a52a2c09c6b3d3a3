/**
 * Posts a request's card exactly once. Web API clients retry a call whose answer was lost (a
 * connection reset after Slack took the message), which posted the same card twice. Here the
 * post is tried by hand: an answer says for sure whether Slack took it (a refusal, a rate
 * limit); a lost answer does not, so before trying again the channel's recent history is
 * searched for the card, by the request id the bot put in the message's metadata.
 */
import { webApi } from "@slack/bolt";
import type { AppLogger } from "../logger.js";
import type { DkimRequest } from "../requests/model.js";
import { slackErrorCode } from "./listeners/replies.js";
import type { SlackMessage } from "./ui/format.js";

export const CARD_EVENT_TYPE = "dkim_request_card";

export type PostCard = (
  request: DkimRequest,
  message: SlackMessage,
  options?: { lookFirst?: boolean },
) => Promise<string>;

const ATTEMPTS = 4;

export function createCardPoster(options: {
  token: string;
  apiUrl: string;
  logger: AppLogger;
  sleep?: (ms: number) => Promise<void>;
}): PostCard {
  // No retries of its own: a retried post is exactly what made duplicates. Rate limits are
  // still waited out (a 429 means Slack did not post).
  const client = new webApi.WebClient(options.token, {
    slackApiUrl: options.apiUrl,
    logger: options.logger,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: false,
    timeout: 15_000,
  });
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));

  async function findPosted(request: DkimRequest, since: number): Promise<string | undefined> {
    const history = await client.conversations.history({
      channel: request.channelId,
      oldest: String(Math.floor(since / 1000) - 5),
      limit: 100,
      include_all_metadata: true,
    });
    for (const message of history.messages ?? []) {
      const metadata = message.metadata as
        | { event_type?: string; event_payload?: { request_id?: unknown } }
        | undefined;
      if (
        metadata?.event_type === CARD_EVENT_TYPE &&
        metadata.event_payload?.request_id === request.id &&
        typeof message.ts === "string"
      ) {
        return message.ts;
      }
    }
    return undefined;
  }

  return async function postCard(request, message, how = {}) {
    const started = Date.now();
    if (how.lookFirst === true) {
      // A stop between posting and remembering the card: it is there already.
      const found = await findPosted(request, Date.parse(request.createdAt)).catch(() => undefined);
      if (found !== undefined) return found;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        const posted = await client.chat.postMessage({
          channel: request.channelId,
          ...message,
          metadata: { event_type: CARD_EVENT_TYPE, event_payload: { request_id: request.id } },
          unfurl_links: false,
          unfurl_media: false,
        });
        if (typeof posted.ts !== "string") throw new Error("chat.postMessage returned no ts");
        return posted.ts;
      } catch (error) {
        // Slack answered: it did not post (not_in_channel, ...). Nothing to look for.
        if (slackErrorCode(error) !== undefined || attempt >= ATTEMPTS) throw error;
        options.logger.event("warn", "The answer to a card's post was lost; looking for the card", {
          requestId: request.id,
          attempt,
          error,
        });
        await sleep(500 * attempt);
        const found = await findPosted(request, started).catch(() => undefined);
        if (found !== undefined) return found;
      }
    }
  };
}
