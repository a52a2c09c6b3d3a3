import type {
  AllMiddlewareArgs,
  App,
  BlockButtonAction,
  SlackActionMiddlewareArgs,
} from "@slack/bolt";
import { checkResultMessage } from "../ui/check-result.js";
import { ACTION_IDS, type ActionValue, decodeActionValue } from "../ui/ids.js";
import { unknownRequestText, unreadableClickText } from "../ui/refusal.js";
import { rejectModal } from "../ui/reject-modal.js";
import type { ListenerDeps } from "./index.js";
import { type ActOptions, type ActorDeps, type Audience, actFor, tell } from "./replies.js";

type ButtonArgs = AllMiddlewareArgs & SlackActionMiddlewareArgs<BlockButtonAction>;

/** The buttons on the request message and on a failure reply. */
export function registerActions(app: App, deps: ListenerDeps): void {
  app.action<BlockButtonAction>(ACTION_IDS.approve, (args) => handleApprove(deps, args));
  app.action<BlockButtonAction>(ACTION_IDS.reject, (args) => handleReject(deps, args));
  app.action<BlockButtonAction>(ACTION_IDS.checkDns, (args) => handleCheckDns(deps, args));
  app.action<BlockButtonAction>(ACTION_IDS.retry, (args) => handleRetry(deps, args));
}

/** Ack, then read the button's value; a value we did not make is answered, never acted on. */
async function clicked(
  deps: ListenerDeps,
  { ack, body, action, respond, client }: ButtonArgs,
): Promise<
  { value: ActionValue; audience: Audience; fromChannel: string | undefined } | undefined
> {
  await ack();
  const fromChannel = body.channel?.id;
  const audience: Audience = {
    userId: body.user.id,
    channelId: fromChannel ?? body.user.id,
    respond,
  };
  const value = decodeActionValue(action.value);
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
  return { value, audience, fromChannel };
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
  act: (click: { value: ActionValue; audience: Audience }) => Promise<unknown>,
): Promise<void> {
  const click = await clicked(deps, args);
  if (click === undefined) return;
  await actFor(
    actorDeps(deps),
    args.client,
    click.audience,
    click.value.requestId,
    () => act(click),
    { ...options, fromChannel: click.fromChannel },
  );
}

export function handleApprove(deps: ListenerDeps, args: ButtonArgs): Promise<void> {
  return actOnClick(deps, args, { button: "Approve" }, ({ value, audience }) =>
    deps.service.approve(value.requestId, {
      actorId: audience.userId,
      fingerprintShown: value.fingerprint ?? "",
    }),
  );
}

export function handleRetry(deps: ListenerDeps, args: ButtonArgs): Promise<void> {
  return actOnClick(deps, args, { button: "Retry" }, ({ value, audience }) =>
    deps.service.retry(value.requestId, { actorId: audience.userId }),
  );
}

/** Reject asks for a reason first: the requester reads it in the thread. */
export function handleReject(deps: ListenerDeps, args: ButtonArgs): Promise<void> {
  return actOnClick(
    deps,
    args,
    { button: "Reject", waitingOn: "Slack" },
    async ({ value, audience }) => {
      const request = await deps.service.get(value.requestId);
      if (request === undefined) {
        await tell(args.client, audience, unknownRequestText(), deps.logger);
        return;
      }
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
    async ({ value, audience }) => {
      const outcome = await deps.service.recordDnsCheck(value.requestId);
      await tell(args.client, audience, checkResultMessage(outcome.result), deps.logger);
    },
  );
}
