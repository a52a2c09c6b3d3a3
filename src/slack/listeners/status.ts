/**
 * `/dkim status [<domain> | open | active | failed]`: the requests a person may see, the most
 * relevant first (open ones, then the most recent), a page of them, and how many more there
 * are with how to see them. Reads a bounded amount whatever the fleet's size: two pages from
 * indexes, and a count that stops at COUNT_CAP; links are built, not asked of Slack one by one.
 */
import { normaliseDomain } from "../../dkim/names.js";
import type { DkimRequest, RequestState } from "../../requests/model.js";
import { OPEN_STATES } from "../../requests/state-machine.js";
import type { RequestFilter } from "../../requests/store.js";
import { type StatusEntry, type StatusFilter, statusAnswer } from "../ui/status.js";
import type { ListenerDeps } from "./deps.js";

/** Requests shown at most. */
export const STATUS_LIMIT = 15;
/** Read this many times over, so that hiding other people's private channels leaves a page. */
const VISIBILITY_HEADROOM = 4;
/**
 * Past this many matching requests the answer says "N+". The count reads that many rows (on
 * SQLite, on the event loop): 10,000 cost 12 ms of every `/dkim status` of a large fleet, more
 * than the rest of the answer; a thousand cost about one.
 */
const COUNT_CAP = 1000;

const STATE_FILTERS: Readonly<Record<string, RequestState[]>> = {
  open: [...OPEN_STATES],
  active: ["active"],
  failed: ["failed"],
};

/** What was typed after `status`: nothing, a state word, or a domain. */
export function statusFilterOf(text: string | undefined): StatusFilter {
  if (text === undefined) return { kind: "all" };
  const word = text.trim().toLowerCase();
  if (word === "open" || word === "active" || word === "failed") return { kind: word };
  return { kind: "domain", domain: normaliseDomain(text) };
}

export async function statusAnswerFor(
  deps: ListenerDeps,
  person: { userId: string; channelId: string },
  filter: StatusFilter,
  now: Date,
  command: string,
) {
  const base: RequestFilter =
    filter.kind === "domain"
      ? { domain: filter.domain }
      : filter.kind === "all"
        ? {}
        : { states: STATE_FILTERS[filter.kind] ?? [] };
  const page = STATUS_LIMIT * VISIBILITY_HEADROOM;
  // Open ones first (whatever their age), then the newest of the rest.
  const open =
    filter.kind === "active" || filter.kind === "failed"
      ? []
      : await deps.service.list({ ...base, states: withinOpen(base.states), limit: page });
  const newest = await deps.service.list({ ...base, limit: page });
  const seen = new Set(open.map((request) => request.id));
  const candidates = [...open, ...newest.filter((request) => !seen.has(request.id))];

  const visible = await visibleChannels(deps, person, [
    ...new Set(candidates.map((request) => request.channelId)),
  ]);
  const entries: StatusEntry[] = candidates
    .filter((request) => visible.has(request.channelId))
    .slice(0, STATUS_LIMIT)
    .map((request) => entryOf(deps, request));

  const { counts, capped } = await deps.service.countByChannel(base, COUNT_CAP);
  const countVisible = await visibleChannels(deps, person, [...counts.keys()]);
  const total = [...counts.entries()]
    .filter(([channel]) => countVisible.has(channel))
    .reduce((sum, [, n]) => sum + n, 0);
  return statusAnswer({ entries, total, totalCapped: capped, filter }, { now, command });
}

function withinOpen(states: readonly RequestState[] | undefined): RequestState[] {
  return states === undefined ? [...OPEN_STATES] : states.filter((s) => OPEN_STATES.includes(s));
}

function entryOf(deps: ListenerDeps, request: DkimRequest): StatusEntry {
  const permalink =
    request.messageTs === null ? undefined : deps.permalink?.(request.channelId, request.messageTs);
  return permalink === undefined ? { request } : { request, permalink };
}

/**
 * The channels whose requests the person may see: public ones, and private ones they are in
 * (channel-visibility.ts). Without a visibility check wired in, only the current channel.
 */
async function visibleChannels(
  deps: ListenerDeps,
  person: { userId: string; channelId: string },
  channels: readonly string[],
): Promise<Set<string>> {
  const canSee =
    deps.channelVisibility?.canSee ??
    ((_user: string, channel: string) => Promise.resolve(channel === person.channelId));
  const answers = await Promise.all(
    channels.map(async (channel) => [channel, await canSee(person.userId, channel)] as const),
  );
  return new Set(answers.filter(([, yes]) => yes).map(([channel]) => channel));
}
