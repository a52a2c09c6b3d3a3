import { webApi } from "@slack/bolt";
import type { Config } from "../config.js";
import type { AppLogger } from "../logger.js";

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

/** Whether a user is in a user group; answers are kept a minute so a burst of clicks costs one call. */
export function createGroupMembership(
  client: SlackClient,
  clock: () => number = Date.now,
): (userId: string, groupId: string) => Promise<boolean> {
  const cache = new Map<string, { users: Set<string>; at: number }>();
  const TTL_MS = 60_000;
  return async (userId, groupId) => {
    const cached = cache.get(groupId);
    if (cached !== undefined && clock() - cached.at < TTL_MS) return cached.users.has(userId);
    const result = await client.usergroups.users.list({ usergroup: groupId });
    const users = new Set(Array.isArray(result.users) ? result.users : []);
    cache.set(groupId, { users, at: clock() });
    return users.has(userId);
  };
}
