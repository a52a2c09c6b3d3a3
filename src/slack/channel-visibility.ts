/**
 * Who may see what was posted in a channel, so that `/dkim status` (and `/dkim domains`, App
 * Home) shows a person only the requests of channels they can read in Slack: a public channel is readable by everyone in the
 * workspace (joined or not); a private channel, a group DM or a DM only by its members. A
 * channel that cannot be looked up (the bot was removed, Slack fails) is treated as not
 * visible: a listing may come out short, never too long.
 *
 * conversations.info and conversations.members (channels:read, groups:read) answers are kept
 * for a short while (CHANNEL_CACHE_MS), so a listing of many requests costs one call per
 * channel, and a person removed from a private channel stops seeing its requests within that.
 */
import type { AppLogger } from "../logger.js";
import type { SlackClient } from "./slack-client.js";

export interface ChannelVisibility {
  canSee(userId: string, channelId: string): Promise<boolean>;
  /**
   * Whether everyone who can read `where` can read `channelId` as well: the same channel, or a
   * public one (the whole workspace reads it). What the bot posts in `where` for all its
   * readers (the CSV of `/dkim domains`) holds only what this allows.
   */
  readableByAllOf(where: string, channelId: string): Promise<boolean>;
}

export const CHANNEL_CACHE_MS = 30_000;
const MEMBERS_PAGE = 1000;
/** Past this many channels, expired answers are dropped before another is kept. */
const MAX_CACHED = 500;

export interface ChannelVisibilityOptions {
  cacheMs?: number;
  clock?: () => number;
  logger?: AppLogger;
}

export function createChannelVisibility(
  client: SlackClient,
  options: ChannelVisibilityOptions = {},
): ChannelVisibility {
  const cacheMs = options.cacheMs ?? CHANNEL_CACHE_MS;
  const clock = options.clock ?? Date.now;
  const publicChannels = shortCache<boolean>(cacheMs, clock);
  const memberLists = shortCache<ReadonlySet<string>>(cacheMs, clock);

  async function isPublic(channelId: string): Promise<boolean> {
    const result = await client.conversations.info({ channel: channelId });
    const channel: unknown = result.channel;
    if (typeof channel !== "object" || channel === null) return false;
    const {
      is_private: isPrivate,
      is_im: isIm,
      is_mpim: isMpim,
    } = channel as Record<string, unknown>;
    return isPrivate === false && isIm !== true && isMpim !== true;
  }

  async function membersOf(channelId: string): Promise<ReadonlySet<string>> {
    const members = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await client.conversations.members({
        channel: channelId,
        limit: MEMBERS_PAGE,
        ...(cursor === undefined ? {} : { cursor }),
      });
      for (const member of Array.isArray(page.members) ? page.members : []) {
        if (typeof member === "string") members.add(member);
      }
      const next = page.response_metadata?.next_cursor;
      cursor = typeof next === "string" && next !== "" ? next : undefined;
    } while (cursor !== undefined);
    return members;
  }

  function hidden(channelId: string, error: unknown): false {
    options.logger?.event("warn", "Could not tell who may see a channel; hiding its requests", {
      channel: channelId,
      error,
    });
    return false;
  }

  return {
    async canSee(userId, channelId) {
      try {
        if (await publicChannels.get(channelId, () => isPublic(channelId))) return true;
        return (await memberLists.get(channelId, () => membersOf(channelId))).has(userId);
      } catch (error) {
        return hidden(channelId, error);
      }
    },
    async readableByAllOf(where, channelId) {
      if (channelId === where) return true;
      try {
        return await publicChannels.get(channelId, () => isPublic(channelId));
      } catch (error) {
        return hidden(channelId, error);
      }
    },
  };
}

/** Answers kept `ttlMs`; a look-up in flight is shared, and a failed one is not kept. */
function shortCache<T>(ttlMs: number, clock: () => number) {
  const entries = new Map<string, { at: number; value: Promise<T> }>();
  return {
    get(key: string, load: () => Promise<T>): Promise<T> {
      const entry = entries.get(key);
      if (entry !== undefined && clock() - entry.at < ttlMs) return entry.value;
      const value = load();
      if (entries.size >= MAX_CACHED) {
        for (const [old, kept] of entries) if (clock() - kept.at >= ttlMs) entries.delete(old);
      }
      entries.set(key, { at: clock(), value });
      value.catch(() => {
        if (entries.get(key)?.value === value) entries.delete(key);
      });
      return value;
    },
  };
}
