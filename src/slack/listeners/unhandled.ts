/**
 * What no listener of this version takes is acked at once, and the person told: a button whose
 * action id is not one of ids.ts (a card from an older or newer version), a form whose
 * callback_id is not, another slash command, a shortcut. Bolt would leave them unacked, and
 * Slack shows the person an error after 3 seconds. Runs before the listeners (app.use), so it
 * decides by the ids in ids.ts, which every listener matches on.
 */
import type { AnyMiddlewareArgs, Middleware, RespondFn } from "@slack/bolt";
import type { AppLogger } from "../../logger.js";
import { DEFAULT_COMMAND } from "../command-parser.js";
import { ACTION_IDS, CALLBACK_IDS } from "../ui/ids.js";
import { noticeModal } from "../ui/notice-modal.js";
import { outdatedFormText, unknownButtonText } from "../ui/refusal.js";
import { tell } from "./replies.js";

const KNOWN_IDS: ReadonlySet<string> = new Set([
  ...Object.values(ACTION_IDS),
  ...Object.values(CALLBACK_IDS),
]);

type Fields = Record<string, unknown>;
/** Bolt types ack per kind of request; here one function serves them all. */
type AnyAck = (response?: Fields) => Promise<void>;

export function ackWhatNoListenerTakes(logger: AppLogger): Middleware<AnyMiddlewareArgs> {
  return async (args) => {
    const body = args.body as Fields;
    const ack = "ack" in args && typeof args.ack === "function" ? (args.ack as AnyAck) : undefined;
    const unknown = ack === undefined ? undefined : unknownTarget(body);
    if (ack === undefined || unknown === undefined) {
      await args.next();
      return;
    }
    const userId = userOf(body);
    logger.event("info", "Acknowledged a Slack request no listener takes", {
      kind: unknown.kind,
      id: unknown.id,
      user: userId,
    });
    switch (unknown.kind) {
      case "view_submission":
        await ack({ response_action: "update", view: noticeModal(outdatedFormText()) });
        return;
      case "command":
        await ack({
          response_type: "ephemeral",
          text: `dkim-bot answers ${DEFAULT_COMMAND} only, so nothing was done. Type \`${DEFAULT_COMMAND} help\`.`,
        });
        return;
      case "block_actions": {
        await ack();
        if (userId === undefined) return;
        const respond = "respond" in args ? (args.respond as RespondFn | undefined) : undefined;
        const channel = body.channel as Fields | undefined;
        const channelId = typeof channel?.id === "string" ? channel.id : userId;
        await tell(args.client, { userId, channelId, respond }, unknownButtonText(), logger);
        return;
      }
      default:
        await ack();
    }
  };
}

/** The id a listener would match on, when no listener of this version has it. */
function unknownTarget(body: Fields): { kind: string; id: string } | undefined {
  if (typeof body.command === "string") {
    return body.command === DEFAULT_COMMAND ? undefined : { kind: "command", id: body.command };
  }
  const kind = typeof body.type === "string" ? body.type : undefined;
  let id: unknown;
  switch (kind) {
    case "block_actions":
      id = (body.actions as Fields[] | undefined)?.[0]?.action_id;
      break;
    case "block_suggestion":
      id = body.action_id;
      break;
    case "view_submission":
      id = (body.view as Fields | undefined)?.callback_id;
      break;
    case "view_closed":
      // The bot opens no view with notify_on_close, so no listener ever wants this.
      return { kind, id: String((body.view as Fields | undefined)?.callback_id ?? "") };
    case "shortcut":
    case "message_action":
      id = body.callback_id;
      break;
    default:
      return undefined;
  }
  const text = typeof id === "string" ? id : "";
  return KNOWN_IDS.has(text) ? undefined : { kind, id: text };
}

function userOf(body: Fields): string | undefined {
  const user = body.user as Fields | undefined;
  return typeof user?.id === "string" ? user.id : undefined;
}
