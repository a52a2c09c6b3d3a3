import type { CreateRequestInput, RequestService } from "../../requests/service.js";
import type { SlackClient } from "../slack-client.js";
import {
  botNotInChannelText,
  channelNotAllowedText,
  notAChannelText,
  stillWorkingText,
  type WaitingOn,
} from "../ui/refusal.js";
import { requestMessage } from "../ui/request-message.js";
import type { ListenerDeps } from "./index.js";
import { type Audience, errorText, slackErrorCode, tell, withProgressNotice } from "./replies.js";

/** Public and private channels (C…, older private ones G…); not a DM (D…) or a person (U…). */
const CHANNEL_ID = /^[CG][A-Z0-9]+$/;

/**
 * Where a request may be posted: a channel, and with DKIM_ALLOWED_CHANNELS one of them. The
 * command's channel comes from Slack; the form's from its private metadata, which is checked
 * the same way at submission. The sentence says why, or undefined when it may.
 */
export function setupChannelRefusal(
  channelId: string,
  allowedChannels: readonly string[] | undefined,
  command?: string,
): string | undefined {
  if (allowedChannels !== undefined && !allowedChannels.includes(channelId)) {
    return channelNotAllowedText(allowedChannels, command);
  }
  return CHANNEL_ID.test(channelId) ? undefined : notAChannelText(channelId, command);
}

/**
 * `/dkim setup <domain>` and the setup form end here: create the request (validate, generate,
 * seal, store), post the request message, and tie the two together. A request whose message
 * cannot be posted is cancelled at once (its key erased), so nothing is left half done.
 */
export async function startRequest(
  deps: ListenerDeps,
  client: SlackClient,
  audience: Audience,
  input: CreateRequestInput,
): Promise<void> {
  // A slow start (a 4096-bit key on a busy machine, Slack rate-limiting the post) is told once.
  const phase: { waitingOn: WaitingOn } = { waitingOn: "key" };
  const notify = () => tell(client, audience, stillWorkingText(phase.waitingOn), deps.logger);
  await withProgressNotice(
    () => createAndPost(deps, client, audience, input, phase),
    notify,
    deps.progress,
  );
}

async function createAndPost(
  deps: ListenerDeps,
  client: SlackClient,
  audience: Audience,
  input: CreateRequestInput,
  phase: { waitingOn: WaitingOn },
): Promise<void> {
  let created: Awaited<ReturnType<RequestService["create"]>>;
  try {
    created = await deps.service.create(input);
  } catch (error) {
    const text = errorText(error, { logger: deps.logger });
    await tell(client, audience, text, deps.logger);
    return;
  }
  const { request, record } = created;
  phase.waitingOn = "Slack";
  try {
    const posted = await client.chat.postMessage({
      channel: input.channelId,
      ...requestMessage(request, { dryRun: deps.dryRun, record }),
      unfurl_links: false,
      unfurl_media: false,
    });
    if (typeof posted.ts !== "string") throw new Error("chat.postMessage returned no ts");
    await deps.service.attachMessage(request.id, input.channelId, posted.ts);
  } catch (error) {
    deps.logger.event("warn", "Could not post the request message; cancelling the request", {
      requestId: request.id,
      error,
    });
    await deps.service
      .cancel(request.id, { actorId: input.requesterId })
      .catch((cancelError: unknown) => {
        deps.logger.event("error", "Could not cancel an unposted request", {
          requestId: request.id,
          error: cancelError,
        });
      });
    const code = slackErrorCode(error);
    const text =
      code === "not_in_channel" || code === "channel_not_found"
        ? botNotInChannelText()
        : `Slack did not take the request message (${code ?? "no answer"}), so I cancelled the request. Try again in a minute.`;
    await tell(client, audience, text, deps.logger);
  }
}
