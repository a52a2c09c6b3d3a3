import type { QueuedSetup } from "../../requests/model.js";
import type { CreateRequestInput } from "../../requests/service.js";
import type { SlackClient } from "../slack-client.js";
import {
  botNotInChannelText,
  channelNotAllowedText,
  notAChannelText,
  stillWorkingText,
  type WaitingOn,
} from "../ui/refusal.js";
import { requestMessage } from "../ui/request-message.js";
import type { ListenerDeps } from "./deps.js";
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

export interface SetupAsked {
  input: CreateRequestInput;
  /** The command's or click's response_url, for telling the person later. */
  responseUrl?: string | undefined;
  /** `/dkim rotate` or a Rotate button: the new key replaces the domain's active one. */
  rotation?: boolean;
}

/**
 * An acked setup is a promise, so it is recorded before the ack: this resolves with the
 * recorded setup, or with the sentence to ack instead when it could not be recorded (the
 * database is locked) — then nothing was started and the person knows it.
 */
export async function recordSetup(
  deps: ListenerDeps,
  asked: SetupAsked,
): Promise<QueuedSetup | string> {
  try {
    return await deps.service.setups.enqueue(asked.input, {
      responseUrl: asked.responseUrl,
      ...(asked.rotation === true ? { rotation: true } : {}),
    });
  } catch (error) {
    return errorText(error, { logger: deps.logger });
  }
}

/**
 * After the ack (or when a restart finds it unfinished): make the key, store the request, post
 * its card, and tie the two together; then the setup is forgotten. The person hears of a
 * refusal; a card posted late says so. A request whose card cannot be posted in its channel
 * is cancelled at once (its key erased). When Slack does not answer at all, the setup stays,
 * and the next recovery cycle posts the card.
 */
export async function finishSetup(
  deps: ListenerDeps,
  client: SlackClient,
  audience: Audience,
  setup: QueuedSetup,
  options: { delayed: boolean },
): Promise<void> {
  // A slow start (a 4096-bit key on a busy machine, Slack rate-limiting the post) is told once.
  const phase: { waitingOn: WaitingOn } = { waitingOn: "key" };
  const notify = () => tell(client, audience, stillWorkingText(phase.waitingOn), deps.logger);
  const run = () => makeAndPost(deps, client, audience, setup, phase, options);
  if (options.delayed) await run();
  else await withProgressNotice(run, notify, deps.progress);
}

async function makeAndPost(
  deps: ListenerDeps,
  client: SlackClient,
  audience: Audience,
  setup: QueuedSetup,
  phase: { waitingOn: WaitingOn },
  options: { delayed: boolean },
): Promise<void> {
  const { service, logger } = deps;
  let outcome: Awaited<ReturnType<typeof service.setups.process>>;
  try {
    outcome = await service.setups.process(setup);
  } catch (error) {
    if (options.delayed) throw error; // the next recovery cycle tries again
    // Our own trouble (the key, the store): the person is told it was not done, and it is not
    // done later behind their back.
    await service.setups.forget(setup.id).catch(() => {});
    await tell(client, audience, errorText(error, { logger }), logger);
    return;
  }
  if (outcome.kind === "refused") {
    const text =
      outcome.error === undefined ? outcome.message : errorText(outcome.error, { logger });
    await tell(client, audience, text, logger);
    await service.setups.forget(setup.id);
    return;
  }
  const { request, record } = outcome.created;
  if (request.messageTs !== null) {
    // Posted before a restart cut the rest short.
    await service.setups.forget(setup.id);
    return;
  }
  phase.waitingOn = "Slack";
  try {
    const ts = await deps.postCard(
      request,
      requestMessage(request, {
        dryRun: deps.dryRun,
        record,
        approvers: deps.config.approvers,
        ...(options.delayed ? { delayedSince: setup.receivedAt } : {}),
      }),
      // After a restart the card may have been posted just before the stop.
      { lookFirst: options.delayed },
    );
    await service.attachMessage(request.id, request.channelId, ts);
    await service.setups.forget(setup.id);
  } catch (error) {
    const code = slackErrorCode(error);
    if (code === undefined) {
      // Slack did not answer: the card is posted by the next recovery cycle.
      logger.event("warn", "Could not post a request's card yet; it is posted later", {
        requestId: request.id,
        error,
      });
      return;
    }
    logger.event("warn", "Slack refused the request's card; cancelling the request", {
      requestId: request.id,
      error,
    });
    await service
      .cancel(request.id, { actorId: request.requesterId })
      .catch((cancelError: unknown) => {
        logger.event("error", "Could not cancel an unposted request", {
          requestId: request.id,
          error: cancelError,
        });
      });
    const text =
      code === "not_in_channel" || code === "channel_not_found"
        ? botNotInChannelText()
        : `Slack did not take the request message (${code}), so I cancelled the request. Try again in a minute.`;
    await tell(client, audience, text, logger);
    await service.setups.forget(setup.id);
  }
}

/**
 * At start and every recovery cycle: setups a stop or a crash left unfinished (a key being
 * made, a card not posted) are finished now, their cards marked as delayed. Whoever asked is
 * told in the channel (the command's response_url is no longer good after 30 minutes).
 */
export async function finishUnfinishedSetups(
  deps: ListenerDeps,
  client: SlackClient,
): Promise<void> {
  for (const setup of await deps.service.setups.claimUnfinished()) {
    const audience: Audience = { userId: setup.requesterId, channelId: setup.channelId };
    try {
      await finishSetup(deps, client, audience, setup, { delayed: true });
    } catch (error) {
      deps.logger.event("warn", "Could not finish an unfinished setup; it is tried again later", {
        setupId: setup.id,
        error,
      });
    }
  }
}
