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
import { type ActorDeps, type Audience, actFor, tell } from "./replies.js";

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
): Promise<{ value: ActionValue; audience: Audience; fromChannel?: string } | undefined> {
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
  return { value, audience, ...(fromChannel === undefined ? {} : { fromChannel }) };
}

export function actorDeps(deps: ListenerDeps): ActorDeps {
  return {
    service: deps.service,
    logger: deps.logger,
    allowedChannels: deps.config.allowedChannels,
    progress: deps.progress,
  };
}

export async function handleApprove(deps: ListenerDeps, args: ButtonArgs): Promise<void> {
  const click = await clicked(deps, args);
  if (click === undefined) return;
  const { value, audience, fromChannel } = click;
  await actFor(
    actorDeps(deps),
    args.client,
    audience,
    value.requestId,
    () =>
      deps.service.approve(value.requestId, {
        actorId: audience.userId,
        fingerprintShown: value.fingerprint ?? "",
      }),
    { fromChannel, button: "Approve" },
  );
}

export async function handleRetry(deps: ListenerDeps, args: ButtonArgs): Promise<void> {
  const click = await clicked(deps, args);
  if (click === undefined) return;
  const { value, audience, fromChannel } = click;
  await actFor(
    actorDeps(deps),
    args.client,
    audience,
    value.requestId,
    () => deps.service.retry(value.requestId, { actorId: audience.userId }),
    { fromChannel, button: "Retry" },
  );
}

/** Reject asks for a reason first: the requester reads it in the thread. */
export async function handleReject(deps: ListenerDeps, args: ButtonArgs): Promise<void> {
  const click = await clicked(deps, args);
  if (click === undefined) return;
  const { value, audience, fromChannel } = click;
  await actFor(
    actorDeps(deps),
    args.client,
    audience,
    value.requestId,
    async () => {
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
    { fromChannel, button: "Reject", waitingOn: "Slack" },
  );
}

/** Check DNS now: the clicker sees the diagnosis; the thread hears of it only when it changed. */
export async function handleCheckDns(deps: ListenerDeps, args: ButtonArgs): Promise<void> {
  const click = await clicked(deps, args);
  if (click === undefined) return;
  const { value, audience, fromChannel } = click;
  await actFor(
    actorDeps(deps),
    args.client,
    audience,
    value.requestId,
    async () => {
      const outcome = await deps.service.recordDnsCheck(value.requestId);
      await tell(args.client, audience, checkResultMessage(outcome.result), deps.logger);
    },
    { fromChannel, button: "Check DNS", waitingOn: "DNS" },
  );
}
