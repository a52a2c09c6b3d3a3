/**
 * Posts a card (a request's, or a batch's) exactly once. Web API clients retry a call whose answer was lost (a
 * connection reset after Slack took the message), which posted the same card twice. Here the
 * post is tried by hand: an answer says for sure whether Slack took it (a refusal, a rate
 * limit); a lost answer does not, so before trying again the channel's recent history is
 * searched for the card, by the request (or batch) id the bot put in the message's metadata.
 */
import type { AppLogger } from "../logger.js";
import type { Batch } from "../requests/batch.js";
import type { DkimRequest } from "../requests/model.js";
import type { ChannelPacer } from "./channel-pacer.js";
import { slackErrorCode } from "./listeners/replies.js";
import { createPacedClient } from "./slack-client.js";
import type { SlackMessage } from "./ui/format.js";

export const CARD_EVENT_TYPE = "dkim_request_card";
export const BATCH_CARD_EVENT_TYPE = "dkim_batch_card";

export type PostCard = (
  request: DkimRequest,
  message: SlackMessage,
  options?: { lookFirst?: boolean },
) => Promise<string>;

/** The same for a batch's card (metadata: the batch id). */
export type PostBatchCard = (
  batch: Pick<Batch, "id" | "channelId" | "createdAt">,
  message: SlackMessage,
  options?: { lookFirst?: boolean },
) => Promise<string>;

/** What a card is about, as its metadata names it, so a lost answer can be looked for. */
interface CardOf {
  channelId: string;
  createdAt: string;
  eventType: string;
  payload: Record<string, string>;
}

const ATTEMPTS = 4;

export function createCardPoster(options: CardPosterOptions): PostCard {
  const post = createPoster(options);
  return (request, message, how) =>
    post(
      {
        channelId: request.channelId,
        createdAt: request.createdAt,
        eventType: CARD_EVENT_TYPE,
        payload: { request_id: request.id },
      },
      message,
      how,
    );
}

export function createBatchCardPoster(options: CardPosterOptions): PostBatchCard {
  const post = createPoster(options);
  return (batch, message, how) =>
    post(
      {
        channelId: batch.channelId,
        createdAt: batch.createdAt,
        eventType: BATCH_CARD_EVENT_TYPE,
        payload: { batch_id: batch.id },
      },
      message,
      how,
    );
}

interface CardPosterOptions {
  token: string;
  apiUrl: string;
  logger: AppLogger;
  /** The bot's channel pacer: a card waits its channel's turn like every other post. */
  pacer: ChannelPacer;
  sleep?: (ms: number) => Promise<void>;
}

function createPoster(options: CardPosterOptions) {
  // No retries of its own: a retried post is exactly what made duplicates. Rate limits are
  // still waited out, in the channel's queue (a 429 means Slack did not post).
  const client = createPacedClient(
    options.token,
    {
      slackApiUrl: options.apiUrl,
      logger: options.logger,
      retryConfig: { retries: 0 },
      timeout: 15_000,
    },
    options.pacer,
  );
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));

  async function findPosted(card: CardOf, since: number): Promise<string | undefined> {
    const history = await client.conversations.history({
      channel: card.channelId,
      oldest: String(Math.floor(since / 1000) - 5),
      limit: 100,
      include_all_metadata: true,
    });
    for (const message of history.messages ?? []) {
      const metadata = message.metadata as
        | { event_type?: string; event_payload?: Record<string, unknown> }
        | undefined;
      if (
        metadata?.event_type === card.eventType &&
        Object.entries(card.payload).every(([key, id]) => metadata.event_payload?.[key] === id) &&
        typeof message.ts === "string"
      ) {
        return message.ts;
      }
    }
    return undefined;
  }

  return async function postCard(
    card: CardOf,
    message: SlackMessage,
    how: { lookFirst?: boolean } = {},
  ): Promise<string> {
    const started = Date.now();
    if (how.lookFirst === true) {
      // A stop between posting and remembering the card: it is there already.
      const found = await findPosted(card, Date.parse(card.createdAt)).catch(() => undefined);
      if (found !== undefined) return found;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        const posted = await client.chat.postMessage({
          channel: card.channelId,
          ...message,
          metadata: { event_type: card.eventType, event_payload: card.payload },
          unfurl_links: false,
          unfurl_media: false,
        });
        if (typeof posted.ts !== "string") throw new Error("chat.postMessage returned no ts");
        return posted.ts;
      } catch (error) {
        // Slack answered: it did not post (not_in_channel, ...). Nothing to look for.
        if (slackErrorCode(error) !== undefined || attempt >= ATTEMPTS) throw error;
        options.logger.event("warn", "The answer to a card's post was lost; looking for the card", {
          ...card.payload,
          attempt,
          error,
        });
        await sleep(500 * attempt);
        const found = await findPosted(card, started).catch(() => undefined);
        if (found !== undefined) return found;
      }
    }
  };
}
