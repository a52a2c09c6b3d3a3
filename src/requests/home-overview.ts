/**
 * App Home's content for one person: what waits for their approval (live and not theirs),
 * their own open requests, what monitoring found wrong, which keys are due for rotation, and
 * the fleet's counts. Each list is one indexed query of a page (home-queries.ts), so Home
 * costs the same at any size of the history.
 *
 * Who may see what is the caller's rule (`canSee`, the one `/dkim status` follows): a request
 * of a channel the person cannot read is left out of every list. The counts are the fleet's,
 * as numbers only: they name no request.
 */
import { checkApprover } from "./approval-policy.js";
import { isSameWorkspace } from "./authorization.js";
import type { RequestsContext } from "./context.js";
import { type Actor, type DkimRequest, REQUEST_STATES, type RequestState } from "./model.js";
import type { HomeSection } from "./store.js";

const DAY_MS = 24 * 60 * 60 * 1000;
const MINUTE_MS = 60 * 1000;
const SECOND_MS = 1000;

/** Rows read per shown item, so that hiding some (other channels) still fills a page. */
const VISIBILITY_HEADROOM = 4;

/** Items shown per list at most: Home stays well inside Slack's 100 blocks. */
export const HOME_PAGE = {
  waiting: 15,
  mine: 10,
  problems: 10,
  rotationDue: 10,
} as const;

export interface HomeList {
  items: DkimRequest[];
  /** How many more there are than shown (those the person may not see left out, where known). */
  more: number;
}

export interface FleetCounts {
  /** Keys SpamExperts signs with. */
  active: number;
  /** Pending requests whose record is live: they wait only for an approval. */
  waitingForApproval: number;
  /** Pending requests whose record is not live (yet). */
  waitingForDns: number;
  applying: number;
  failed: number;
  retiring: number;
  /** Active and retiring keys whose last monitoring verdict is not live. */
  problems: number;
  /** Active keys older than DKIM_ROTATE_AFTER_DAYS with no rotation under way (0 when off). */
  rotationDue: number;
}

export interface HomeOverview {
  /**
   * Whether the person is an approver: "unknown" when a user-group lookup failed (then the
   * approvals list is left out, and Home says why).
   */
  approver: boolean | "unknown";
  /** Approvers only. */
  waiting: HomeList | undefined;
  mine: HomeList;
  problems: HomeList;
  /** Undefined when DKIM_ROTATE_AFTER_DAYS is 0 (no key ages out). */
  rotationDue: HomeList | undefined;
  counts: FleetCounts;
  /** DKIM_ROTATE_AFTER_DAYS, for the heading. */
  rotateAfterDays: number;
}

export interface HomeViewer extends Actor {
  /** Whether the person may read a channel (and so see the requests made there). */
  canSee(channelId: string): Promise<boolean>;
}

export type GetHomeOverview = (viewer: HomeViewer) => Promise<HomeOverview>;

const COUNTED_STATES: readonly RequestState[] = [
  "pending",
  "applying",
  "failed",
  "active",
  "retiring",
];

export function createHomeOverview(ctx: RequestsContext): GetHomeOverview {
  const { store, policy } = ctx;

  /** A page of the section the person may see, and how many more there are. */
  /**
   * The counts of the store's state, kept while no request is written (on any replica: the
   * generation moves in the writing transaction). Several of them count every active key
   * (by state, due for rotation): a fleet's thousands, for each Home drawn.
   */
  let kept: { generation: string; counts: Map<string, Promise<number>> } | undefined;
  function counter(generation: string) {
    if (kept?.generation !== generation) kept = { generation, counts: new Map() };
    const { counts } = kept;
    return (name: string, count: () => Promise<number>): Promise<number> => {
      let answer = counts.get(name);
      if (answer === undefined) {
        answer = count();
        counts.set(name, answer);
        // A count that failed is asked again next time.
        answer.catch(() => {
          if (counts.get(name) === answer) counts.delete(name);
        });
      }
      return answer;
    };
  }
  type Count = ReturnType<typeof counter>;
  const countSection = (count: Count, section: HomeSection) =>
    count(JSON.stringify(section), () => store.countHomeSection(section));

  async function page(
    viewer: HomeViewer,
    section: HomeSection,
    size: number,
    count: Count,
  ): Promise<HomeList> {
    const [rows, total] = await Promise.all([
      store.listHomeSection(section, size * VISIBILITY_HEADROOM),
      countSection(count, section),
    ]);
    const seen = new Map<string, Promise<boolean>>();
    const canSee = (channelId: string): Promise<boolean> => {
      let answer = seen.get(channelId);
      if (answer === undefined) {
        answer = viewer.canSee(channelId).catch(() => false);
        seen.set(channelId, answer);
      }
      return answer;
    };
    const verdicts = await Promise.all(
      rows.map(
        async (request) =>
          isSameWorkspace(ctx, request, viewer) && (await canSee(request.channelId)),
      ),
    );
    const visible = rows.filter((_, index) => verdicts[index] === true);
    const hidden = rows.length - visible.length;
    const items = visible.slice(0, size);
    return { items, more: Math.max(0, total - hidden - items.length) };
  }

  /** Requests in each counted state, through the same keeping (one number per state). */
  async function countStates(count: Count): Promise<Record<RequestState, number>> {
    let all: Promise<Record<RequestState, number>> | undefined;
    const read = () => {
      all ??= store.countByState(COUNTED_STATES);
      return all;
    };
    const counts = await Promise.all(
      COUNTED_STATES.map((state) => count(`state:${state}`, async () => (await read())[state])),
    );
    const byState = Object.fromEntries(REQUEST_STATES.map((state) => [state, 0])) as Record<
      RequestState,
      number
    >;
    for (const [index, state] of COUNTED_STATES.entries()) byState[state] = counts[index] ?? 0;
    return byState;
  }

  return async function overview(viewer) {
    const verdict = await checkApprover(policy, viewer.actorId, ctx.isMemberOfGroup);
    const approver = verdict.allowed
      ? true
      : verdict.lookupFailedFor.length > 0
        ? "unknown"
        : false;
    const { rotateAfterDays } = ctx.lifecycle;
    // Rounded down to a step, so that its count is kept like the others between two writes: a
    // key becomes due on Home at most a step late, a minute for any real rotation period, and
    // a thousandth of the period (never under a second) for a short one.
    const dueStep = Math.min(MINUTE_MS, Math.max(SECOND_MS, (rotateAfterDays * DAY_MS) / 1000));
    const dueFrom = Math.floor((ctx.clock().getTime() - rotateAfterDays * DAY_MS) / dueStep);
    const rotationDue: HomeSection | undefined =
      rotateAfterDays > 0
        ? { kind: "rotation-due", activatedBefore: new Date(dueFrom * dueStep).toISOString() }
        : undefined;
    const count = counter(await store.requestsGeneration());
    const waitingSection: HomeSection = policy.allowSelfApproval
      ? { kind: "waiting-approval" }
      : { kind: "waiting-approval", notRequestedBy: viewer.actorId };
    const [waiting, mine, problems, due, byState, live, problemCount, dueCount] = await Promise.all(
      [
        approver === true ? page(viewer, waitingSection, HOME_PAGE.waiting, count) : undefined,
        page(viewer, { kind: "requested-by", requesterId: viewer.actorId }, HOME_PAGE.mine, count),
        page(viewer, { kind: "monitor-problems" }, HOME_PAGE.problems, count),
        rotationDue === undefined
          ? undefined
          : page(viewer, rotationDue, HOME_PAGE.rotationDue, count),
        countStates(count),
        countSection(count, { kind: "waiting-approval" }),
        countSection(count, { kind: "monitor-problems" }),
        rotationDue === undefined ? 0 : countSection(count, rotationDue),
      ],
    );
    return {
      approver,
      waiting,
      mine,
      problems,
      rotationDue: due,
      rotateAfterDays,
      counts: {
        active: byState.active,
        waitingForApproval: live,
        waitingForDns: byState.pending - live,
        applying: byState.applying,
        failed: byState.failed,
        retiring: byState.retiring,
        problems: problemCount,
        rotationDue: dueCount,
      },
    };
  };
}
