import type { RespondFn } from "@slack/bolt";
import { isCodedError } from "../../errors.js";
import type { AppLogger } from "../../logger.js";
import { ActionRefusedError, RequestConflictError } from "../../requests/errors.js";
import type { Actor, DkimRequest } from "../../requests/model.js";
import type { RequestService } from "../../requests/service.js";
import type { SlackClient } from "../slack-client.js";
import { escapeText, type SlackMessage, withMentions } from "../ui/format.js";
import {
  approverLookupFailedText,
  clickChannelNotAllowedText,
  refusalText,
  requestChannelNotAllowedText,
  requestConflictText,
  stillWorkingText,
  type WaitingOn,
} from "../ui/refusal.js";
import { trackWaits } from "../waiting-on.js";

/**
 * Who acted, and from which workspace (and Enterprise Grid org), from a click's or a form's
 * payload: a request acts only for actors from its own workspace.
 */
export function actorOf(body: {
  user: { id: string };
  team?: { id?: string } | null;
  enterprise?: { id?: string } | null;
}): Actor {
  return {
    actorId: body.user.id,
    ...(body.team?.id === undefined ? {} : { teamId: body.team.id }),
    ...(body.enterprise?.id === undefined ? {} : { enterpriseId: body.enterprise.id }),
  };
}

/** Where an ephemeral answer for one person goes. */
export interface Audience {
  userId: string;
  channelId: string;
  /** The command's or click's response_url, when there is one (modals have none). */
  respond?: RespondFn | undefined;
  /** A click from App Home: the answer is shown there (listeners/home.ts), not in a channel. */
  show?: ((message: SlackMessage) => Promise<void>) | undefined;
}

/**
 * Tells one person something only they see. Through response_url when there is one; else an
 * ephemeral message in the channel; and when the bot cannot post there (not invited), a direct
 * message, so that nobody is left without an answer.
 */
export async function tell(
  client: SlackClient,
  audience: Audience,
  message: string | SlackMessage,
  logger: AppLogger,
): Promise<void> {
  const content = typeof message === "string" ? { text: message } : message;
  try {
    if (audience.show !== undefined) {
      await audience.show({
        text: content.text,
        blocks: "blocks" in content ? content.blocks : [],
      });
      return;
    }
    if (audience.respond !== undefined) {
      await audience.respond({ response_type: "ephemeral", replace_original: false, ...content });
      return;
    }
    await client.chat.postEphemeral({
      channel: audience.channelId,
      user: audience.userId,
      ...content,
    });
  } catch (error) {
    logger.event("warn", "Could not answer in the channel; sending a direct message", { error });
    try {
      await client.chat.postMessage({ channel: audience.userId, ...content });
    } catch (dmError) {
      logger.event("error", "Could not answer the person at all", { error: dmError });
    }
  }
}

/**
 * The sentence for an error a person caused or met, as mrkdwn. Named errors carry their own
 * sentence; anything else is our fault, logged in full and answered without internals.
 * Mentions render where the bot named someone by ID (a refusal, an open request); what a
 * person or another system wrote (typed input, the API's words) is escaped, so it cannot ping.
 */
export function errorText(
  error: unknown,
  context: { logger: AppLogger; request?: DkimRequest | undefined },
): string {
  if (error instanceof ActionRefusedError) {
    return context.request === undefined
      ? withMentions(error.message)
      : refusalText(error.reason, context.request, { serviceMessage: error.message });
  }
  if (error instanceof RequestConflictError) return requestConflictText(error.existing);
  if (isCodedError(error)) return escapeText(error.message);
  context.logger.event("error", "Unexpected error while handling a Slack request", { error });
  return "Something went wrong on my side and nothing was changed. Try again; if it keeps failing, ask the bot's operator to look at its log.";
}

/** Slack's error code of a failed Web API call, e.g. "not_in_channel". */
export function slackErrorCode(error: unknown): string | undefined {
  const data = (error as { data?: { error?: unknown } }).data;
  return typeof data?.error === "string" ? data.error : undefined;
}

// ---- acting for a person ---------------------------------------------------------------

/** Schedules `run` after `ms`; the answer cancels it. Injected so tests need no real clock. */
export interface ProgressTimer {
  after(ms: number, run: () => void): () => void;
}

export const realTimer: ProgressTimer = {
  after(ms, run) {
    const timer = setTimeout(run, ms);
    // A notice still to come must not keep a stopping process alive.
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/** After this long without an outcome, the person hears that it is in progress (once). */
export const PROGRESS_NOTICE_AFTER_MS = 3000;

export interface ProgressSettings {
  afterMs?: number;
  timer?: ProgressTimer;
}

/**
 * Runs `work`; when it has not settled after `afterMs`, calls `notify` once. The notice is
 * awaited before this returns, so the outcome that follows never arrives before it.
 */
export async function withProgressNotice<T>(
  work: () => Promise<T>,
  notify: () => Promise<void>,
  settings: ProgressSettings = {},
): Promise<T> {
  let notice: Promise<void> | undefined;
  const cancel = (settings.timer ?? realTimer).after(
    settings.afterMs ?? PROGRESS_NOTICE_AFTER_MS,
    () => {
      notice = notify().catch(() => undefined);
    },
  );
  try {
    return await work();
  } finally {
    cancel();
    if (notice !== undefined) await notice;
  }
}

export interface ActorDeps {
  service: RequestService;
  logger: AppLogger;
  /** DKIM_ALLOWED_CHANNELS: an action on a request is refused outside them. */
  allowedChannels?: readonly string[] | undefined;
  progress?: ProgressSettings | undefined;
}

export interface ActOptions {
  /** The channel the click came from (none from a form or App Home). */
  fromChannel?: string | undefined;
  /** The button's label, for "click … again". */
  button?: string;
  /** What the action waits on when the Slack layer cannot see it (a DNS check, views.open). */
  waitingOn?: WaitingOn;
  /**
   * The channel of what is acted on when it is not a request (a batch card): the channel rule
   * holds for it as for a request's channel.
   */
  subjectChannel?: string | undefined;
}

/**
 * Runs a service action for a person and answers any refusal or error to that person only.
 * The channel rule holds first (for every action, as for the command); a slow action tells
 * the person once, after a few seconds, what it is waiting on.
 */
export async function actFor(
  deps: ActorDeps,
  client: SlackClient,
  audience: Audience,
  requestId: string,
  action: () => Promise<unknown>,
  options: ActOptions = {},
): Promise<void> {
  const refusal = await channelRuleRefusal(
    deps,
    requestId,
    options.fromChannel,
    options.subjectChannel,
  );
  if (refusal !== undefined) {
    await tell(client, audience, refusal, deps.logger);
    return;
  }
  const waits = trackWaits();
  const notify = async (): Promise<void> => {
    const waitingOn = waits.current() ?? options.waitingOn ?? (await stateWait(deps, requestId));
    await tell(client, audience, stillWorkingText(waitingOn), deps.logger);
  };
  try {
    await withProgressNotice(() => waits.run(action), notify, deps.progress);
  } catch (error) {
    const request = await deps.service.get(requestId).catch(() => undefined);
    const text =
      error instanceof ActionRefusedError && error.reason === "approver-lookup-failed"
        ? approverLookupFailedText(error.message, options.button ?? "the button")
        : errorText(error, { logger: deps.logger, request });
    await tell(client, audience, text, deps.logger);
  }
}

/** With DKIM_ALLOWED_CHANNELS set: the click's channel and the request's must both be in it. */
async function channelRuleRefusal(
  deps: ActorDeps,
  requestId: string,
  fromChannel: string | undefined,
  subjectChannel: string | undefined,
): Promise<string | undefined> {
  const allowed = deps.allowedChannels;
  if (allowed === undefined) return undefined;
  if (fromChannel !== undefined && !allowed.includes(fromChannel)) {
    deps.logger.event("info", "Refused a click from outside DKIM_ALLOWED_CHANNELS", {
      requestId,
      channel: fromChannel,
    });
    return clickChannelNotAllowedText(allowed);
  }
  const channel =
    subjectChannel ?? (await deps.service.get(requestId).catch(() => undefined))?.channelId;
  if (channel !== undefined && !allowed.includes(channel)) {
    deps.logger.event("info", "Refused an action on a request outside DKIM_ALLOWED_CHANNELS", {
      requestId,
      channel,
    });
    return requestChannelNotAllowedText(channel, allowed);
  }
  return undefined;
}

/** Untracked waits, by where the request is: an apply waits on SpamExperts, an approval on DNS. */
async function stateWait(deps: ActorDeps, requestId: string): Promise<WaitingOn> {
  const request = await deps.service.get(requestId).catch(() => undefined);
  switch (request?.state) {
    case "applying":
      return "SpamExperts";
    case "pending":
      return "DNS";
    default:
      return "store";
  }
}
