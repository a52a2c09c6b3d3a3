import { setTimeout as delay } from "node:timers/promises";
import { webApi } from "@slack/bolt";
import type { Config } from "../config.js";
import type { AppLogger } from "../logger.js";
import type { MembershipLookup } from "../requests/approval-policy.js";
import { type ChannelPacer, retryAfterMsOf } from "./channel-pacer.js";
import { waitOn } from "./waiting-on.js";

export type SlackClient = InstanceType<typeof webApi.WebClient>;
type WebClientOptions = NonNullable<ConstructorParameters<typeof webApi.WebClient>[1]>;
type ApiCallArguments = Parameters<SlackClient["apiCall"]>[1];
type ApiCallResult = Awaited<ReturnType<SlackClient["apiCall"]>>;

/** The methods that post or edit in a channel, and the argument that names it. */
const PACED_METHODS: Readonly<Record<string, string>> = {
  "chat.postMessage": "channel",
  "chat.update": "channel",
  "chat.delete": "channel",
  "files.completeUploadExternal": "channel_id",
};

/** Calls not paced by channel wait out this many rate limits before they fail. */
const UNPACED_RATE_LIMIT_RETRIES = 5;

/**
 * A Web API client whose posts and edits go through the channel's queue (channel-pacer.ts):
 * about one a second per channel, shared by every flow that uses a client of the same pacer,
 * and a `ratelimited` answer holds that channel alone for its Retry-After. Any other call
 * waits out a rate limit itself, a few times.
 */
class PacedWebClient extends webApi.WebClient {
  private readonly pacer: ChannelPacer;

  constructor(token: string | undefined, options: WebClientOptions, pacer: ChannelPacer) {
    // Rate limits come back to this class, which knows the channel, instead of pausing every call.
    super(token, { ...options, rejectRateLimitedCalls: true });
    this.pacer = pacer;
  }

  override async apiCall(method: string, options?: ApiCallArguments): Promise<ApiCallResult> {
    const key = PACED_METHODS[method];
    const channel = key === undefined ? undefined : (options as Record<string, unknown>)?.[key];
    if (typeof channel === "string" && channel !== "") {
      return this.pacer.run(channel, () => super.apiCall(method, options));
    }
    for (let attempt = 0; ; attempt++) {
      try {
        return await super.apiCall(method, options);
      } catch (error) {
        const retryAfterMs = retryAfterMsOf(error);
        if (retryAfterMs === undefined || attempt >= UNPACED_RATE_LIMIT_RETRIES) throw error;
        await delay(retryAfterMs);
      }
    }
  }
}

/**
 * The Web API client the bot uses outside of listeners (thread replies, message updates,
 * group look-ups). Rate limits are waited out, never turned into failures; posts and edits are
 * paced per channel by `pacer` (one for the whole bot, so every flow shares a channel's turns).
 */
export function createSlackClient(
  config: Config,
  logger: AppLogger,
  pacer: ChannelPacer,
  options: WebClientOptions = {},
): SlackClient {
  return new PacedWebClient(
    config.slack.botToken,
    { slackApiUrl: config.slack.apiUrl, logger, ...options },
    pacer,
  );
}

/** A paced client with its own options (the card poster's: no retries of its own). */
export function createPacedClient(
  token: string,
  options: WebClientOptions,
  pacer: ChannelPacer,
): SlackClient {
  return new PacedWebClient(token, options, pacer);
}

/** A lookup a person waits on: this long per attempt, and one retry, then it fails. */
export const LOOKUP_TIMEOUT_MS = 2000;
const LOOKUP_RETRY = { retries: 1, factor: 1, minTimeout: 300, maxTimeout: 300, randomize: false };

/**
 * A Web API client for look-ups a person is waiting on (group membership, channel membership).
 * The default client retries for about half an hour and waits out any Retry-After, so a Slack
 * outage left an Approve click unanswered for a minute or more; this one gives up after about
 * four seconds, and the person is told to try again.
 */
export function createLookupClient(
  token: string | undefined,
  slackApiUrl: string,
  logger?: AppLogger,
): SlackClient {
  return new webApi.WebClient(token, {
    slackApiUrl,
    timeout: LOOKUP_TIMEOUT_MS,
    retryConfig: LOOKUP_RETRY,
    rejectRateLimitedCalls: true,
    ...(logger === undefined ? { logLevel: webApi.LogLevel.ERROR } : { logger }),
  });
}

/**
 * Whether a user is in a user group, asked of Slack at each click and never cached, as README
 * and SECURITY.md say: a member removed from the group is refused at their next click. (One
 * usergroups.users.list call per click and group; Slack allows about 20 a minute.) The call
 * goes through a bounded sibling of `client` (same token and URL): when it fails or is slow,
 * the click is refused within seconds with "try again" rather than left waiting.
 */
export function createGroupMembership(
  client: SlackClient,
  options: { logger?: AppLogger } = {},
): MembershipLookup {
  const lookup = createLookupClient(client.token, client.slackApiUrl, options.logger);
  return async (userId, groupId) => {
    const result = await waitOn("Slack", () =>
      lookup.usergroups.users.list({ usergroup: groupId }),
    );
    return Array.isArray(result.users) && result.users.includes(userId);
  };
}
