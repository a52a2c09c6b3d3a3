/**
 * A bulk setup from Slack (design.md flow 8): `/dkim setup a.com b.com …`, the setup form with
 * several domains, and (for the inventory's "Set up DKIM for N domains without it") any
 * caller with a list of domains. Recorded before the ack (`recordBatch`); then `finishBatch`
 * checks every domain, posts the batch card at once, makes the keys in the background (the
 * card shows their progress) and attaches every record in the thread as a zone file and a CSV.
 * A restart or another replica goes on from where it stopped (`finishUnfinishedBatches`).
 */
import type { Batch, BatchInput } from "../../requests/batch.js";
import type { Actor } from "../../requests/model.js";
import type { SlackClient } from "../slack-client.js";
import { batchCard } from "../ui/batch-card.js";
import { recordFiles, recordsComment, recordsRefusedReplies } from "../ui/batch-thread.js";
import { escapeText } from "../ui/format.js";
import { botNotInChannelText } from "../ui/refusal.js";
import type { ListenerDeps } from "./deps.js";
import { type Audience, errorText, slackErrorCode, tell } from "./replies.js";

/** What a person asked for: several domains, where the card goes, the options for all. */
export interface BatchAsked {
  domains: readonly string[];
  actor: Actor;
  channelId: string;
  options?: Omit<BatchInput, "domains">;
  /** The command's or click's response_url, for telling the person early on. */
  responseUrl?: string | undefined;
}

/**
 * Before the ack: the batch recorded (an acked command is a promise), or the sentence to ack
 * instead when it could not be (too many domains, an option no domain takes, a locked store).
 */
export async function recordBatch(deps: ListenerDeps, asked: BatchAsked): Promise<Batch | string> {
  try {
    return await deps.service.batches.start({
      domains: asked.domains,
      actor: asked.actor,
      channelId: asked.channelId,
      ...(asked.options === undefined ? {} : { options: asked.options }),
      responseUrl: asked.responseUrl,
    });
  } catch (error) {
    return errorText(error, { logger: deps.logger });
  }
}

/**
 * Records and finishes a batch for a caller that has already answered Slack (a button of the
 * inventory): the one Slack entry to bulk setup. Refusals go to `audience`.
 */
export async function startBatch(
  deps: ListenerDeps,
  client: SlackClient,
  audience: Audience,
  asked: BatchAsked,
): Promise<void> {
  const recorded = await recordBatch(deps, asked);
  if (typeof recorded === "string") {
    await tell(client, audience, recorded, deps.logger);
    return;
  }
  await finishBatch(deps, client, audience, recorded, { delayed: false });
}

/**
 * After the ack, or when a restart finds the batch unfinished: every step that is not done
 * yet, in order, holding the batch so no other replica does it too. Slack not answering
 * leaves the rest to the next recovery cycle; Slack refusing the card ends the batch (its
 * keys erased) and says why.
 */
export async function finishBatch(
  deps: ListenerDeps,
  client: SlackClient,
  audience: Audience,
  batch: Batch,
  how: { delayed: boolean },
): Promise<void> {
  const { service, logger } = deps;
  await service.batches.held(batch.id, async () => {
    let current = await service.batches.check(batch.id);
    if (current.state === "refused") {
      if (current.messageTs === null)
        await tell(client, audience, nothingToDoText(current), logger);
      return;
    }
    if (current.messageTs === null) {
      const posted = await postCard(deps, client, audience, current, how);
      if (posted === "refused") return;
      current = posted;
    }
    current = await service.batches.make(current.id);
    if (
      current.state === "ready" &&
      current.messageTs !== null &&
      current.told.records === undefined
    ) {
      await attachRecords(deps, current);
    }
    // Runs a stop cut short (recovery): they go on in the background.
    service.batches.resume(current);
  });
}

/** The card, posted once; the batch with it attached, or as it was when Slack did not answer. */
async function postCard(
  deps: ListenerDeps,
  client: SlackClient,
  audience: Audience,
  batch: Batch,
  how: { delayed: boolean },
): Promise<Batch | "refused"> {
  const { service, logger } = deps;
  const members = await service.batches.members(batch.id);
  const message = batchCard(batch, members, {
    dryRun: deps.dryRun,
    approvers: deps.config.approvers,
    ...(how.delayed ? { delayedSince: batch.createdAt } : {}),
  });
  try {
    const ts = await deps.postBatchCard(batch, message, { lookFirst: how.delayed });
    return await service.batches.attachCard(batch.id, batch.channelId, ts);
  } catch (error) {
    const code = slackErrorCode(error);
    if (code === undefined) {
      // Slack did not answer: the keys are made meanwhile; the card is posted by the next
      // recovery cycle, and the requests made until then are pointed at it.
      logger.event("warn", "Could not post a batch card yet; it is posted later", {
        batchId: batch.id,
        error,
      });
      return batch;
    }
    logger.event("warn", "Slack refused a batch card; cancelling the batch", {
      batchId: batch.id,
      error,
    });
    await service.batches.abandon(batch.id);
    for (const member of members) {
      await service.cancel(member.id, { actorId: batch.requesterId }).catch(() => {});
    }
    const text =
      code === "not_in_channel" || code === "channel_not_found"
        ? botNotInChannelText()
        : `Slack did not take the batch card (${escapeText(code)}), so nothing was set up. Try again in a minute.`;
    await tell(client, audience, text, logger);
    return "refused";
  }
}

/**
 * Every record in the card's thread, as a zone file and a CSV (files.uploadV2), once. When
 * Slack refuses the files outright (the app lacks files:write, say), the thread says so and
 * gets the zone file as text instead; when Slack does not answer, the next recovery cycle
 * tries again.
 */
async function attachRecords(deps: ListenerDeps, batch: Batch): Promise<void> {
  const { service, logger } = deps;
  if (batch.messageTs === null) return;
  const members = await service.batches.members(batch.id);
  const files = recordFiles(batch, members, deps.clock?.() ?? new Date());
  try {
    const uploaded = await deps.uploadFiles(
      {
        channelId: batch.channelId,
        threadTs: batch.messageTs,
        comment: recordsComment(batch, members, {
          dryRun: deps.dryRun,
          approvers: deps.config.approvers,
        }),
      },
      files,
    );
    await service.batches.markTold(batch.id, "records", uploaded[0]?.id ?? "attached");
  } catch (error) {
    const code = slackErrorCode(error);
    logger.event("warn", "Could not attach a batch's records", { batchId: batch.id, error });
    if (code === undefined) return;
    const zoneFile = String(files[0]?.content ?? "");
    for (const reply of recordsRefusedReplies(code, zoneFile)) {
      await deps.threadClient.chat.postMessage({
        channel: batch.channelId,
        thread_ts: batch.messageTs,
        ...reply,
        unfurl_links: false,
      });
    }
    await service.batches.markTold(batch.id, "records", `refused:${code}`);
  }
}

/** Nothing went on: every domain was not valid or left alone, each with why. */
function nothingToDoText(batch: Batch): string {
  const lines = [...batch.invalid, ...batch.skipped]
    .slice(0, 20)
    .map((each) => `• *${escapeText(each.domain)}*: ${escapeText(each.reason)}`);
  const more =
    batch.invalid.length + batch.skipped.length > 20
      ? [`…and ${batch.invalid.length + batch.skipped.length - 20} more.`]
      : [];
  return [
    `Nothing was set up: none of the ${batch.input.domains.length} domains can go on.`,
    ...lines,
    ...more,
  ].join("\n");
}

/**
 * At start and every recovery cycle: batches a stop or a crash left unfinished (keys to make,
 * a card or the records to post, a run to finish), taken for this replica and finished.
 */
export async function finishUnfinishedBatches(
  deps: ListenerDeps,
  client: SlackClient,
): Promise<void> {
  for (const batch of await deps.service.batches.claimUnfinished()) {
    const audience: Audience = { userId: batch.requesterId, channelId: batch.channelId };
    try {
      await finishBatch(deps, client, audience, batch, { delayed: true });
    } catch (error) {
      deps.logger.event("warn", "Could not finish an unfinished batch; it is tried again later", {
        batchId: batch.id,
        error,
      });
    }
  }
}
