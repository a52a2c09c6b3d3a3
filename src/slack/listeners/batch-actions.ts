/**
 * The batch card's buttons: Check DNS, Approve all live (N), Retry failed (N), Reject all (its
 * form asks the reason), Cancel. Each is read (the batch and, for Approve all live and Retry
 * failed, the digest of what the card showed), checked against the channel rule, handed to
 * requests/ (batch-runs.ts), and answered to the person who clicked; refusals likewise.
 */
import type { App, BlockButtonAction, ViewSubmitAction } from "@slack/bolt";
import { endableMembers } from "../../requests/batch.js";
import { dnsCheckedText, runStartedText } from "../ui/batch-answers.js";
import { batchRejectModal, readBatchRejectMetadata } from "../ui/batch-reject-modal.js";
import { ACTION_IDS, type BatchActionValue, CALLBACK_IDS, decodeBatchValue } from "../ui/ids.js";
import { unknownRequestText } from "../ui/refusal.js";
import { actorDeps, type ButtonArgs, type Click, clicked } from "./actions.js";
import type { ListenerDeps } from "./deps.js";
import { type ActOptions, type Audience, actFor, actorOf, tell } from "./replies.js";
import { readReasonSubmission, type SubmitArgs } from "./views.js";

export function registerBatchActions(app: App, deps: ListenerDeps): void {
  app.action<BlockButtonAction>(ACTION_IDS.batchCheckDns, (args) =>
    handleBatchCheckDns(deps, args),
  );
  app.action<BlockButtonAction>(ACTION_IDS.batchApproveLive, (args) =>
    handleApproveAllLive(deps, args),
  );
  app.action<BlockButtonAction>(ACTION_IDS.batchRetryFailed, (args) =>
    handleRetryFailed(deps, args),
  );
  app.action<BlockButtonAction>(ACTION_IDS.batchRejectAll, (args) => handleRejectAll(deps, args));
  app.action<BlockButtonAction>(ACTION_IDS.batchCancel, (args) => handleCancelAll(deps, args));
  app.view<ViewSubmitAction>(CALLBACK_IDS.batchRejectForm, (args) =>
    handleBatchRejectSubmission(deps, args),
  );
}

/**
 * A click on a batch card: read it, find the batch (a card of another installation is
 * answered so), then act for the clicker under actFor's rules (the channel rule for the
 * click's channel and the batch's, a progress notice, refusals told to the clicker only).
 */
async function actOnBatchClick(
  deps: ListenerDeps,
  args: ButtonArgs,
  options: Omit<ActOptions, "fromChannel" | "subjectChannel">,
  act: (click: Click<BatchActionValue>) => Promise<unknown>,
): Promise<void> {
  const click = await clicked(deps, args, decodeBatchValue);
  if (click === undefined) return;
  const batch = await deps.service.batches.get(click.value.batchId).catch(() => undefined);
  if (batch === undefined) {
    await tell(args.client, click.audience, unknownRequestText(), deps.logger);
    return;
  }
  await actFor(actorDeps(deps), args.client, click.audience, batch.id, () => act(click), {
    ...options,
    fromChannel: click.fromChannel,
    subjectChannel: batch.channelId,
  });
}

export function handleBatchCheckDns(deps: ListenerDeps, args: ButtonArgs): Promise<void> {
  return actOnBatchClick(
    deps,
    args,
    { button: "Check DNS", waitingOn: "DNS" },
    async ({ value, audience, actor }) => {
      const report = await deps.service.batches.checkDns(value.batchId, actor);
      await tell(args.client, audience, dnsCheckedText(report), deps.logger);
    },
  );
}

export function handleApproveAllLive(deps: ListenerDeps, args: ButtonArgs): Promise<void> {
  return actOnBatchClick(
    deps,
    args,
    { button: "Approve all live" },
    async ({ value, audience, actor }) => {
      const started = await deps.service.batches.approveAllLive(
        value.batchId,
        actor,
        value.digest ?? "",
      );
      await tell(args.client, audience, runStartedText(started), deps.logger);
    },
  );
}

export function handleRetryFailed(deps: ListenerDeps, args: ButtonArgs): Promise<void> {
  return actOnBatchClick(
    deps,
    args,
    { button: "Retry failed" },
    async ({ value, audience, actor }) => {
      const started = await deps.service.batches.retryFailed(
        value.batchId,
        actor,
        value.digest ?? "",
      );
      await tell(args.client, audience, runStartedText(started), deps.logger);
    },
  );
}

/** The requester withdraws the batch's open requests; anyone else is told who may. */
export function handleCancelAll(deps: ListenerDeps, args: ButtonArgs): Promise<void> {
  return actOnBatchClick(deps, args, { button: "Cancel" }, async ({ value, audience, actor }) => {
    const started = await deps.service.batches.cancelAll(value.batchId, actor);
    await tell(args.client, audience, runStartedText(started), deps.logger);
  });
}

/** Reject all asks for a reason first, but only of someone who may reject. */
export function handleRejectAll(deps: ListenerDeps, args: ButtonArgs): Promise<void> {
  return actOnBatchClick(
    deps,
    args,
    { button: "Reject all", waitingOn: "Slack" },
    async ({ value, actor }) => {
      await deps.service.batches.mayRejectAll(value.batchId, actor);
      const batch = await deps.service.batches.get(value.batchId);
      const members = await deps.service.batches.members(value.batchId);
      if (batch === undefined) return;
      await args.client.views.open({
        trigger_id: args.body.trigger_id,
        view: batchRejectModal(batch, endableMembers(members).length),
      });
    },
  );
}

/** The reason for Reject all; blank is sent back to the form. */
export async function handleBatchRejectSubmission(
  deps: ListenerDeps,
  args: SubmitArgs,
): Promise<void> {
  const { body, client } = args;
  const submitted = await readReasonSubmission(deps, args, readBatchRejectMetadata);
  if (submitted === undefined) return;
  const { metadata, reason } = submitted;
  const audience: Audience = { userId: body.user.id, channelId: metadata.channelId };
  // The channel rule holds for the batch's own channel, as stored (not as the form says).
  const batch = await deps.service.batches.get(metadata.batchId).catch(() => undefined);
  if (batch === undefined) {
    await tell(client, audience, unknownRequestText(), deps.logger);
    return;
  }
  await actFor(
    actorDeps(deps),
    client,
    audience,
    batch.id,
    async () => {
      const started = await deps.service.batches.rejectAll(batch.id, {
        ...actorOf(body),
        reason,
      });
      await tell(client, audience, runStartedText(started), deps.logger);
    },
    { button: "Reject all", subjectChannel: batch.channelId },
  );
}
