import { webApi } from "@slack/bolt";
import type { Config } from "../config.js";
import type { AppLogger } from "../logger.js";
import type { MembershipLookup } from "../requests/approval-policy.js";
import { waitOn } from "./waiting-on.js";

export type SlackClient = InstanceType<typeof webApi.WebClient>;

/**
 * The Web API client the bot uses outside of listeners (thread replies, message updates,
 * group look-ups). Rate limits are waited out, never turned into failures: the client retries
 * after Retry-After on its own (rejectRateLimitedCalls stays false).
 */
export function createSlackClient(config: Config, logger: AppLogger): SlackClient {
  return new webApi.WebClient(config.slack.botToken, {
    slackApiUrl: config.slack.apiUrl,
    logger,
    rejectRateLimitedCalls: false,
  });
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
