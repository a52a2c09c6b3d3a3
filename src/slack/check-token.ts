import { webApi } from "@slack/bolt";
import type { Config } from "../config.js";
import { CodedError } from "../errors.js";
import type { AppLogger } from "../logger.js";
import { slackErrorCode } from "./listeners/replies.js";

const REASONS: Readonly<Record<string, string>> = {
  invalid_auth:
    "Slack does not accept SLACK_BOT_TOKEN (invalid_auth): copy the Bot User OAuth Token (xoxb-...) again from OAuth & Permissions.",
  not_authed:
    "Slack received no token (not_authed): set SLACK_BOT_TOKEN to the Bot User OAuth Token (xoxb-...).",
  account_inactive:
    "the bot token belongs to a deleted app or a deactivated workspace (account_inactive): reinstall the app and copy its new bot token into SLACK_BOT_TOKEN.",
  token_revoked:
    "the bot token was revoked (token_revoked): reinstall the app to the workspace and copy its new bot token into SLACK_BOT_TOKEN.",
  token_expired:
    "the bot token has expired (token_expired): turn off token rotation for the app, or reinstall it and copy the new bot token into SLACK_BOT_TOKEN.",
};

/** Who the bot is, as auth.test told at start. */
export interface BotIdentity {
  botId: string;
  botUserId: string;
  teamId: string;
  /** The workspace's URL, e.g. https://acme.slack.com/ (for permalinks). */
  url: string | undefined;
}

/**
 * auth.test before serving: a revoked or mistyped token stops the start with what to fix,
 * instead of a stack trace on the first command. Its own client, with few retries: an
 * unreachable Slack must not hold the start-up for the default client's half hour of retries.
 */
export async function checkBotToken(config: Config, logger: AppLogger): Promise<BotIdentity> {
  const client = new webApi.WebClient(config.slack.botToken, {
    slackApiUrl: config.slack.apiUrl,
    logger,
    timeout: 10_000,
    retryConfig: { retries: 2, factor: 2, minTimeout: 500, maxTimeout: 2000 },
  });
  let result: Awaited<ReturnType<typeof client.auth.test>>;
  try {
    result = await client.auth.test();
  } catch (error) {
    const code = slackErrorCode(error);
    const reason = code === undefined ? undefined : REASONS[code];
    throw new CodedError(
      "CONFIG_INVALID",
      reason ??
        `Slack could not be reached to check SLACK_BOT_TOKEN (${code ?? (error instanceof Error ? error.message : String(error))}): check SLACK_API_URL and the network, then start again.`,
      { cause: error },
    );
  }
  if (typeof result.bot_id !== "string" || typeof result.user_id !== "string") {
    throw new CodedError(
      "CONFIG_INVALID",
      "SLACK_BOT_TOKEN is not a bot token (auth.test names no bot): use the Bot User OAuth Token (xoxb-...) from OAuth & Permissions.",
    );
  }
  return {
    botId: result.bot_id,
    botUserId: result.user_id,
    teamId: typeof result.team_id === "string" ? result.team_id : "",
    url: typeof result.url === "string" ? result.url : undefined,
  };
}
