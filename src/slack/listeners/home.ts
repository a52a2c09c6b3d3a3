/**
 * App Home: drawn for the person when they open it (`app_home_opened`), and again after an
 * action they took there, with its answer on top. The lists follow the rule `/dkim status`
 * follows (channel-visibility.ts): nothing of a channel the person cannot read.
 */
import type { AllMiddlewareArgs, App, SlackEventMiddlewareArgs } from "@slack/bolt";
import type { Actor, DkimRequest } from "../../requests/model.js";
import type { SlackClient } from "../slack-client.js";
import type { SlackMessage } from "../ui/format.js";
import { homeActionDoneNotice, homeView } from "../ui/home.js";
import { isStillWorkingText } from "../ui/refusal.js";
import type { ListenerDeps } from "./deps.js";
import type { Audience } from "./replies.js";

type HomeOpenedArgs = AllMiddlewareArgs & SlackEventMiddlewareArgs<"app_home_opened">;

export function registerHome(app: App, deps: ListenerDeps): void {
  app.event("app_home_opened", (args) => handleHomeOpened(deps, args));
}

export async function handleHomeOpened(deps: ListenerDeps, args: HomeOpenedArgs): Promise<void> {
  const { event, body, client } = args;
  // The Messages tab opens this event too: it has no Home to draw.
  if (event.tab !== undefined && event.tab !== "home") return;
  await publishHome(deps, client, {
    actorId: event.user,
    ...(body.team_id === undefined ? {} : { teamId: body.team_id }),
    ...(body.enterprise_id === undefined ? {} : { enterpriseId: body.enterprise_id }),
  });
}

/** Draws the person's Home now (views.publish), with `notice` on top when given. */
export async function publishHome(
  deps: ListenerDeps,
  client: SlackClient,
  viewer: Actor,
  notice?: SlackMessage,
): Promise<void> {
  const started = Date.now();
  try {
    const canSee = deps.channelVisibility?.canSee;
    const overview = await deps.service.homeOverview({
      ...viewer,
      // Without the visibility rule wired in, nothing of any channel is shown.
      canSee: (channelId) =>
        canSee === undefined ? Promise.resolve(false) : canSee(viewer.actorId, channelId),
    });
    const view = homeView(overview, {
      userId: viewer.actorId,
      now: deps.clock?.() ?? new Date(),
      dryRun: deps.dryRun,
      approvers: deps.config.approvers,
      permalink: (request) => cardLink(deps, request),
      notice,
    });
    await client.views.publish({ user_id: viewer.actorId, view });
    deps.logger.event("debug", "App Home published", {
      user: viewer.actorId,
      blocks: view.blocks.length,
      ms: Date.now() - started,
    });
  } catch (error) {
    // Home is a view of the store: the next opening draws it again.
    deps.logger.event("warn", "Could not publish App Home", { user: viewer.actorId, error });
  }
}

function cardLink(deps: ListenerDeps, request: DkimRequest): string | undefined {
  return request.messageTs === null
    ? undefined
    : deps.permalink?.(request.channelId, request.messageTs);
}

/**
 * A click on a Home button: its answers (a refusal, a DNS check's result, "still working")
 * are shown on top of Home, and Home is drawn anew once the action is done, so its lists say
 * how things stand now.
 */
export interface HomeClick {
  audience: Audience;
  /** The action is over: Home drawn anew (saying it was done, when nothing else was said). */
  done(button: string, requestId: string): Promise<void>;
}

export function homeClick(deps: ListenerDeps, client: SlackClient, viewer: Actor): HomeClick {
  let notice: SlackMessage | undefined;
  return {
    audience: {
      userId: viewer.actorId,
      channelId: viewer.actorId,
      show: async (message) => {
        notice = message;
        await publishHome(deps, client, viewer, message);
      },
    },
    async done(button, requestId) {
      // A "still working" notice is over once the action is: it gives way to what was done.
      if (notice === undefined || isStillWorkingText(notice.text)) {
        const request = await deps.service.get(requestId).catch(() => undefined);
        if (request !== undefined)
          notice = homeActionDoneNotice(button, request, cardLink(deps, request));
      }
      await publishHome(deps, client, viewer, notice);
    },
  };
}
