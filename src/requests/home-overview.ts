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
import type { Actor, DkimRequest, RequestState } from "./model.js";
import type { HomeSection } from "./store.js";

const DAY_MS = 24 * 60 * 60 * 1000;

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
  async function page(viewer: HomeViewer, section: HomeSection, size: number): Promise<HomeList> {
    const [rows, total] = await Promise.all([
      store.listHomeSection(section, size * VISIBILITY_HEADROOM),
      store.countHomeSection(section),
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

  return async function overview(viewer) {
    const verdict = await checkApprover(policy, viewer.actorId, ctx.isMemberOfGroup);
    const approver = verdict.allowed
      ? true
      : verdict.lookupFailedFor.length > 0
        ? "unknown"
        : false;
    const { rotateAfterDays } = ctx.lifecycle;
    const rotationDue: HomeSection | undefined =
      rotateAfterDays > 0
        ? {
            kind: "rotation-due",
            activatedBefore: new Date(
              ctx.clock().getTime() - rotateAfterDays * DAY_MS,
            ).toISOString(),
          }
        : undefined;
    const waitingSection: HomeSection = policy.allowSelfApproval
      ? { kind: "waiting-approval" }
      : { kind: "waiting-approval", notRequestedBy: viewer.actorId };
    const [waiting, mine, problems, due, byState, live, problemCount, dueCount] = await Promise.all(
      [
        approver === true ? page(viewer, waitingSection, HOME_PAGE.waiting) : undefined,
        page(viewer, { kind: "requested-by", requesterId: viewer.actorId }, HOME_PAGE.mine),
        page(viewer, { kind: "monitor-problems" }, HOME_PAGE.problems),
        rotationDue === undefined ? undefined : page(viewer, rotationDue, HOME_PAGE.rotationDue),
        store.countByState(COUNTED_STATES),
        store.countHomeSection({ kind: "waiting-approval" }),
        store.countHomeSection({ kind: "monitor-problems" }),
        rotationDue === undefined ? 0 : store.countHomeSection(rotationDue),
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
