import type {
  AllMiddlewareArgs,
  App,
  BlockButtonAction,
  SlackActionMiddlewareArgs,
} from "@slack/bolt";
import type { Actor } from "../../requests/model.js";
import { checkResultMessage } from "../ui/check-result.js";
import { ACTION_IDS, type ActionValue, decodeActionValue } from "../ui/ids.js";
import { unknownRequestText, unreadableClickText } from "../ui/refusal.js";
import { rejectModal } from "../ui/reject-modal.js";
import type { ListenerDeps } from "./deps.js";
import { type HomeClick, homeClick } from "./home.js";
import {
  type ActOptions,
  type ActorDeps,
  type Audience,
  actFor,
  actorOf,
  tell,
} from "./replies.js";
import { finishSetup, recordSetup } from "./start-request.js";

export type ButtonArgs = AllMiddlewareArgs & SlackActionMiddlewareArgs<BlockButtonAction>;

/** The buttons on the request message, on thread replies, and on App Home. */
export function registerActions(app: App, deps: ListenerDeps): void {
  app.action<BlockButtonAction>(ACTION_IDS.approve, (args) => handleApprove(deps, args));
  app.action<BlockButtonAction>(ACTION_IDS.reject, (args) => handleReject(deps, args));
  app.action<BlockButtonAction>(ACTION_IDS.checkDns, (args) => handleCheckDns(deps, args));
  app.action<BlockButtonAction>(ACTION_IDS.retry, (args) => handleRetry(deps, args));
  app.action<BlockButtonAction>(ACTION_IDS.cancel, (args) => handleCancel(deps, args));
  app.action<BlockButtonAction>(ACTION_IDS.rotate, (args) => handleRotate(deps, args));
  app.action<BlockButtonAction>(ACTION_IDS.markRetired, (args) => handleMarkRetired(deps, args));
}

/** A click as read: its value, who clicked and from where, and where to answer. */
export interface Click<V> {
  value: V;
  audience: Audience;
  fromChannel: string | undefined;
  actor: Actor;
  home: HomeClick | undefined;
}

/**
 * Ack, then read the button's value with `decode` (decodeActionValue for a request's button,
 * decodeBatchValue for a batch card's); a value we did not make is answered, never acted on.
 */
export async function clicked<V = ActionValue>(
  deps: ListenerDeps,
  { ack, body, action, respond, client }: ButtonArgs,
  decode: (value: unknown) => V | undefined = decodeActionValue as (
    value: unknown,
  ) => V | undefined,
): Promise<Click<V> | undefined> {
  await ack();
  const fromChannel = body.channel?.id;
  // Where the click came from: a request acts only for clicks from its own workspace.
  const actor = actorOf(body);
  // A button of App Home: no channel; its answers are shown on Home (listeners/home.ts).
  const home =
    fromChannel === undefined && body.view?.type === "home"
      ? homeClick(deps, client, actor)
      : undefined;
  const audience: Audience = home?.audience ?? {
    userId: body.user.id,
    channelId: fromChannel ?? body.user.id,
    respond,
  };
  const value = decode(action.value);
  if (value === undefined) {
    deps.logger.event("warn", "Ignored a button with a value the bot did not make", {
      actionId: action.action_id,
      user: body.user.id,
    });
    // A value that is missing or not text is a broken payload; a well-formed one we did not
    // make is most likely a card of another installation.
    const text = typeof action.value === "string" ? unknownRequestText() : unreadableClickText();
    await tell(client, audience, text, deps.logger);
    return undefined;
  }
  return { value, audience, fromChannel, actor, home };
}

export function actorDeps(deps: ListenerDeps): ActorDeps {
  return {
    service: deps.service,
    logger: deps.logger,
    allowedChannels: deps.config.allowedChannels,
    progress: deps.progress,
  };
}

/**
 * A click on a request's button: read it (clicked), then act for the clicker under actFor's
 * rules (the channel rule, a progress notice, refusals told to the clicker only).
 */
async function actOnClick(
  deps: ListenerDeps,
  args: ButtonArgs,
  options: Omit<ActOptions, "fromChannel">,
  act: (click: { value: ActionValue; audience: Audience; actor: Actor }) => Promise<unknown>,
): Promise<void> {
  const click = await clicked(deps, args, decodeActionValue);
  if (click === undefined) return;
  await actFor(
    actorDeps(deps),
    args.client,
    click.audience,
    click.value.requestId,
    () => act(click),
    { ...options, fromChannel: click.fromChannel },
  );
  await click.home?.done(options.button ?? "The button", click.value.requestId);
}

export function handleApprove(deps: ListenerDeps, args: ButtonArgs): Promise<void> {
  return actOnClick(deps, args, { button: "Approve" }, ({ value, actor }) =>
    deps.service.approve(value.requestId, { ...actor, fingerprintShown: value.fingerprint ?? "" }),
  );
}

export function handleRetry(deps: ListenerDeps, args: ButtonArgs): Promise<void> {
  return actOnClick(deps, args, { button: "Retry" }, ({ value, actor }) =>
    deps.service.retry(value.requestId, actor),
  );
}

/** The requester ends their own open request; anyone else is told who may. */
export function handleCancel(deps: ListenerDeps, args: ButtonArgs): Promise<void> {
  return actOnClick(deps, args, { button: "Cancel" }, ({ value, actor }) =>
    deps.service.cancel(value.requestId, actor),
  );
}

/** An approver says the old record is gone or revoked: the retiring key is retired. */
export function handleMarkRetired(deps: ListenerDeps, args: ButtonArgs): Promise<void> {
  return actOnClick(deps, args, { button: "Mark retired" }, ({ value, actor }) =>
    deps.service.lifecycle.markRetired(value.requestId, actor),
  );
}

/**
 * Rotate (on the active card, a reminder or a monitoring alert): the same as `/dkim rotate
 * <domain>` by the clicker, recorded before it goes on; the new card goes in the key's channel.
 */
export function handleRotate(deps: ListenerDeps, args: ButtonArgs): Promise<void> {
  return actOnClick(deps, args, { button: "Rotate" }, async ({ value, audience, actor }) => {
    const active = await deps.service.get(value.requestId);
    if (active === undefined) {
      await tell(args.client, audience, unknownRequestText(), deps.logger);
      return;
    }
    const recorded = await recordSetup(deps, {
      input: {
        domain: active.domain,
        requesterId: actor.actorId,
        channelId: active.channelId,
        ...(actor.teamId === undefined ? {} : { teamId: actor.teamId }),
        ...(actor.enterpriseId === undefined ? {} : { enterpriseId: actor.enterpriseId }),
      },
      responseUrl: args.body.response_url,
      rotation: true,
    });
    if (typeof recorded === "string") {
      await tell(args.client, audience, recorded, deps.logger);
      return;
    }
    await finishSetup(deps, args.client, audience, recorded, { delayed: false });
  });
}

/**
 * Reject asks for a reason first (the requester reads it in the thread), but only of someone
 * who may reject: anyone else is told so before a form opens.
 */
export function handleReject(deps: ListenerDeps, args: ButtonArgs): Promise<void> {
  return actOnClick(
    deps,
    args,
    { button: "Reject", waitingOn: "Slack" },
    async ({ value, audience, actor }) => {
      const request = await deps.service.get(value.requestId);
      if (request === undefined) {
        await tell(args.client, audience, unknownRequestText(), deps.logger);
        return;
      }
      await deps.service.mayReject(value.requestId, actor);
      await args.client.views.open({
        trigger_id: args.body.trigger_id,
        view: rejectModal(request, { channelId: request.channelId, messageTs: request.messageTs }),
      });
    },
  );
}

/** Check DNS now: the clicker sees the diagnosis; the thread hears of it only when it changed. */
export function handleCheckDns(deps: ListenerDeps, args: ButtonArgs): Promise<void> {
  return actOnClick(
    deps,
    args,
    { button: "Check DNS", waitingOn: "DNS" },
    async ({ value, audience, actor }) => {
      const outcome = await deps.service.recordDnsCheck(value.requestId, actor);
      await tell(args.client, audience, checkResultMessage(outcome.result), deps.logger);
    },
  );
}
