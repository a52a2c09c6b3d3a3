import type {
  AllMiddlewareArgs,
  App,
  SlackViewMiddlewareArgs,
  ViewSubmitAction,
} from "@slack/bolt";
import type { Actor } from "../../requests/model.js";
import { CALLBACK_IDS } from "../ui/ids.js";
import { noticeModal } from "../ui/notice-modal.js";
import { missingReasonErrors, readRejectForm, readRejectMetadata } from "../ui/reject-modal.js";
import {
  domainsOf,
  formErrors,
  readSetupForm,
  readSetupMetadata,
  type SetupForm,
} from "../ui/setup-modal.js";
import { actorDeps } from "./actions.js";
import { finishBatch, recordBatch } from "./batch-setup.js";
import type { ListenerDeps } from "./deps.js";
import { type Audience, actFor, actorOf, errorText } from "./replies.js";
import { finishSetup, recordSetup, setupChannelRefusal } from "./start-request.js";

export type SubmitArgs = AllMiddlewareArgs & SlackViewMiddlewareArgs<ViewSubmitAction>;

/** An actor's workspace fields, for an input that names its requester otherwise. */
function withoutActorId(actor: Actor): Omit<Actor, "actorId"> {
  const { actorId: _actorId, ...where } = actor;
  return where;
}

const FORM_NOT_READ =
  "This form could not be read (it may come from an older version of the bot). Close it and run /dkim setup again.";

export function registerViews(app: App, deps: ListenerDeps): void {
  app.view<ViewSubmitAction>(CALLBACK_IDS.setupForm, (args) => handleSetupSubmission(deps, args));
  app.view<ViewSubmitAction>(CALLBACK_IDS.rejectForm, (args) => handleRejectSubmission(deps, args));
}

/**
 * The setup form. Field problems go back inline on the form (response_action "errors"), which
 * must happen inside the ack, so the input is validated before the ack and before any key is made.
 */
export async function handleSetupSubmission(deps: ListenerDeps, args: SubmitArgs): Promise<void> {
  const { ack, view, body, client } = args;
  const metadata = readSetupMetadata(view.private_metadata);
  const read = readSetupForm(view.state.values);
  if (metadata === undefined || !read.ok) {
    deps.logger.event("warn", "Could not read a setup form submission", {
      problem: read.ok ? "bad private_metadata" : read.problem,
    });
    await ack({
      response_action: "errors",
      errors: formErrors([{ field: "domain", message: FORM_NOT_READ }]),
    });
    return;
  }
  // The metadata names the channel the form was opened in; a submission may carry any, so it
  // is held to the command's rule before anything is made.
  const channelRefusal = setupChannelRefusal(metadata.channelId, deps.config.allowedChannels);
  if (channelRefusal !== undefined) {
    deps.logger.event("warn", "Refused a setup form for a channel where requests may not go", {
      channel: metadata.channelId,
      user: body.user.id,
    });
    await ack({ response_action: "update", view: noticeModal(channelRefusal, "Set up DKIM") });
    return;
  }
  const domains = domainsOf(read.form.domain);
  if (domains.length > 1) {
    await submitBatchForm(deps, args, read.form, domains, metadata.channelId);
    return;
  }
  const input = {
    domain: domains[0] ?? read.form.domain,
    selector: read.form.selector,
    bits: read.form.bits,
    usernames: read.form.usernames,
    testing: read.form.testing,
    reason: read.form.reason,
    channelId: metadata.channelId,
    ...withoutActorId(actorOf(body)),
    requesterId: body.user.id,
  };
  const problems = await deps.service
    .findInputProblems(input)
    .catch((error: unknown) => [
      { field: "domain", message: errorText(error, { logger: deps.logger }) },
    ]);
  if (problems.length > 0) {
    await ack({ response_action: "errors", errors: formErrors(problems) });
    return;
  }
  // Recorded before the ack, as for the command: a submitted form is a promise too.
  const recorded = await recordSetup(deps, { input });
  if (typeof recorded === "string") {
    await ack({
      response_action: "errors",
      errors: formErrors([{ field: "domain", message: recorded }]),
    });
    return;
  }
  await ack();
  const audience: Audience = { userId: body.user.id, channelId: metadata.channelId };
  await finishSetup(deps, client, audience, recorded, { delayed: false });
}

/**
 * The form with several domains: one batch (listeners/batch-setup.ts). Outgoing users work
 * with one domain only; too many domains, or options no domain takes, go back to the form.
 */
async function submitBatchForm(
  deps: ListenerDeps,
  args: SubmitArgs,
  form: SetupForm,
  domains: string[],
  channelId: string,
): Promise<void> {
  const { ack, body, client } = args;
  if (form.usernames.length > 0) {
    await ack({
      response_action: "errors",
      errors: formErrors([
        {
          field: "usernames",
          message: `Outgoing users work with one domain only, and ${domains.length} are given: leave them empty (each domain signs for itself), or set up that domain on its own.`,
        },
      ]),
    });
    return;
  }
  const recorded = await recordBatch(deps, {
    domains,
    actor: actorOf(body),
    channelId,
    options: {
      selector: form.selector,
      bits: form.bits,
      testing: form.testing,
      reason: form.reason,
    },
  });
  if (typeof recorded === "string") {
    await ack({
      response_action: "errors",
      errors: formErrors([{ field: "domain", message: recorded }]),
    });
    return;
  }
  await ack();
  const audience: Audience = { userId: body.user.id, channelId };
  await finishBatch(deps, client, audience, recorded, { delayed: false });
}

/**
 * A Reject form (a request's, or a batch's Reject all): its metadata and the reason, or
 * undefined once answered here (a blank reason goes back to the form; an unreadable one is
 * logged). Acked either way.
 */
export async function readReasonSubmission<M>(
  deps: ListenerDeps,
  { ack, view }: SubmitArgs,
  readMetadata: (privateMetadata: unknown) => M | undefined,
): Promise<{ metadata: M; reason: string } | undefined> {
  const metadata = readMetadata(view.private_metadata);
  const read = readRejectForm(view.state.values);
  if (read.ok && read.form.reason === "") {
    await ack({ response_action: "errors", errors: missingReasonErrors() });
    return undefined;
  }
  await ack();
  if (metadata === undefined || !read.ok) {
    deps.logger.event("warn", "Could not read a reject form submission", {
      callbackId: view.callback_id,
      problem: read.ok ? "bad private_metadata" : read.problem,
    });
    return undefined;
  }
  return { metadata, reason: read.form.reason };
}

/** The reason for a rejection; blank is sent back to the form. */
export async function handleRejectSubmission(deps: ListenerDeps, args: SubmitArgs): Promise<void> {
  const { body, client } = args;
  const submitted = await readReasonSubmission(deps, args, readRejectMetadata);
  if (submitted === undefined) return;
  const { metadata, reason } = submitted;
  const audience: Audience = { userId: body.user.id, channelId: metadata.channelId };
  await actFor(
    actorDeps(deps),
    client,
    audience,
    metadata.requestId,
    () => deps.service.reject(metadata.requestId, { ...actorOf(body), reason }),
    { button: "Reject" },
  );
}
