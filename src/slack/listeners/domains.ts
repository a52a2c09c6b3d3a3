/**
 * `/dkim domains` and the buttons under its answer: the pages and Refresh redraw the answer in
 * place (the click's response_url, replace_original), Download CSV posts every domain as a
 * file in the channel. The answer is the person's alone (ephemeral), as `/dkim status` is.
 *
 * Who may see what: the answer follows the person (channel-visibility.ts, the rule of
 * `/dkim status`). The CSV is a file in the channel, which every reader of the channel can
 * open, now and later: it holds the keys of public channels and of that channel only, so
 * nothing of another private channel reaches someone who is not in it.
 */
import type {
  AllMiddlewareArgs,
  App,
  BlockButtonAction,
  SlackActionMiddlewareArgs,
} from "@slack/bolt";
import { isCodedError } from "../../errors.js";
import type { Actor } from "../../requests/model.js";
import type { InventoryViewer } from "../../requests/service.js";
import type { SlackClient } from "../slack-client.js";
import {
  csvCommentText,
  csvPostedText,
  DOMAINS_PAGE_SIZE,
  domainListFailedText,
  domainsAnswer,
  noDomainWithoutDkimText,
} from "../ui/domains.js";
import { domainsCsv } from "../ui/domains-csv.js";
import type { SlackMessage } from "../ui/format.js";
import { ACTION_IDS, type DomainsValue, decodeDomainsValue } from "../ui/ids.js";
import {
  botNotInChannelText,
  clickChannelNotAllowedText,
  stillWorkingText,
  unreadableClickText,
} from "../ui/refusal.js";
import { createFileUploader } from "../upload-file.js";
import { startBatch } from "./batch-setup.js";
import type { ListenerDeps } from "./deps.js";
import {
  type Audience,
  actorOf,
  errorText,
  slackErrorCode,
  tell,
  withProgressNotice,
} from "./replies.js";
import { setupChannelRefusal } from "./start-request.js";

type ButtonArgs = AllMiddlewareArgs & SlackActionMiddlewareArgs<BlockButtonAction>;

export function registerDomains(app: App, deps: ListenerDeps): void {
  for (const id of [ACTION_IDS.domainsPrevious, ACTION_IDS.domainsNext]) {
    app.action<BlockButtonAction>(id, (args) => handleDomainsPage(deps, args, false));
  }
  app.action<BlockButtonAction>(ACTION_IDS.domainsRefresh, (args) =>
    handleDomainsPage(deps, args, true),
  );
  app.action<BlockButtonAction>(ACTION_IDS.domainsCsv, (args) => handleDomainsCsv(deps, args));
  app.action<BlockButtonAction>(ACTION_IDS.domainsSetupBatch, (args) =>
    handleSetupBatch(deps, args),
  );
}

export interface DomainsRequest {
  actor: Actor;
  value: DomainsValue;
  /** Ask the cluster again now (Refresh). */
  refresh: boolean;
  /** The slash command as configured, for pointers. */
  command?: string | undefined;
  /** Draw over the answer the click came from, instead of answering anew. */
  replace?: ((message: SlackMessage) => Promise<void>) | undefined;
}

/** A page of the inventory for the person, told to them (or drawn over the old answer). */
export async function showDomains(
  deps: ListenerDeps,
  client: SlackClient,
  audience: Audience,
  asked: DomainsRequest,
): Promise<void> {
  const viewer = personViewer(deps, asked.actor, audience.channelId);
  const notify = () => tell(client, audience, stillWorkingText("SpamExperts"), deps.logger);
  await withProgressNotice(
    async () => {
      try {
        const page = await deps.service.inventory.page(viewer, {
          ...asked.value,
          pageSize: DOMAINS_PAGE_SIZE,
          refresh: asked.refresh,
        });
        const message = domainsAnswer(page, {
          now: deps.clock?.() ?? new Date(),
          command: asked.command,
          inventoryMinutes: deps.config.inventoryMinutes,
          batchMax: deps.config.batchMax,
          permalink: (key) =>
            key.messageTs === null ? undefined : deps.permalink?.(key.channelId, key.messageTs),
        });
        await showOrTell(deps, client, audience, message, asked.replace);
      } catch (error) {
        await tell(client, audience, failureText(deps, error), deps.logger);
      }
    },
    notify,
    deps.progress,
  );
}

/** Previous page, Next page, Refresh: the same list at another page, or asked again. */
export async function handleDomainsPage(
  deps: ListenerDeps,
  args: ButtonArgs,
  refresh: boolean,
): Promise<void> {
  const click = await clicked(deps, args);
  if (click === undefined) return;
  const { respond } = args;
  await showDomains(deps, args.client, click.audience, {
    actor: click.actor,
    value: click.value,
    refresh,
    replace: (message) =>
      respond({ response_type: "ephemeral", replace_original: true, ...message }).then(
        () => undefined,
      ),
  });
}

/**
 * Download CSV: every domain, as every reader of this channel may see it, posted here as a
 * file; the clicker hears where it went and what it leaves out.
 */
export async function handleDomainsCsv(deps: ListenerDeps, args: ButtonArgs): Promise<void> {
  const click = await clicked(deps, args);
  if (click === undefined) return;
  const where = click.audience.channelId;
  const readers: InventoryViewer = {
    ...click.actor,
    canSee: (channelId) =>
      deps.channelVisibility?.readableByAllOf(where, channelId) ??
      Promise.resolve(channelId === where),
  };
  const notify = () =>
    tell(args.client, click.audience, stillWorkingText("SpamExperts"), deps.logger);
  await withProgressNotice(
    async () => {
      try {
        const whole = await deps.service.inventory.everything(readers);
        const now = deps.clock?.() ?? new Date();
        const csv = domainsCsv(whole, now);
        const asOf = whole.source.kind === "cluster" ? whole.source.fetchedAt : now.toISOString();
        await createFileUploader(args.client)(
          {
            channelId: where,
            comment: csvCommentText(whole.counts, {
              requesterId: click.actor.actorId,
              asOf,
              dryRun: whole.source.kind === "dry-run",
            }),
          },
          [{ filename: csv.filename, content: csv.content }],
        );
        deps.logger.event("info", "Posted the domains CSV", {
          channel: where,
          actor: click.actor.actorId,
          rows: csv.rows,
        });
        await tell(args.client, click.audience, csvPostedText(csv.rows, whole.counts), deps.logger);
      } catch (error) {
        await tell(args.client, click.audience, failureText(deps, error), deps.logger);
      }
    },
    notify,
    deps.progress,
  );
}

/**
 * "Set up DKIM for N domains without it": a batch of the first DKIM_BATCH_MAX domains the
 * person sees without DKIM, in name order, worked out again at the click (the list may have
 * moved since the answer was drawn); the rest are the next click's. The batch is posted in
 * this channel, under the rules of `/dkim setup a.com b.com …`.
 */
export async function handleSetupBatch(deps: ListenerDeps, args: ButtonArgs): Promise<void> {
  await args.ack();
  const audience = audienceOf(args);
  const refusal = setupChannelRefusal(audience.channelId, deps.config.allowedChannels);
  if (refusal !== undefined) {
    await tell(args.client, audience, refusal, deps.logger);
    return;
  }
  const actor = actorOf(args.body);
  const notify = () => tell(args.client, audience, stillWorkingText("SpamExperts"), deps.logger);
  let domains: readonly string[] | undefined;
  await withProgressNotice(
    async () => {
      try {
        const page = await deps.service.inventory.page(
          personViewer(deps, actor, audience.channelId),
          { page: 1, pageSize: 1 },
        );
        domains = page.nextBatch;
      } catch (error) {
        await tell(args.client, audience, failureText(deps, error), deps.logger);
      }
    },
    notify,
    deps.progress,
  );
  if (domains === undefined) return;
  if (domains.length === 0) {
    await tell(args.client, audience, noDomainWithoutDkimText(), deps.logger);
    return;
  }
  deps.logger.event("info", "Set up domains without DKIM from /dkim domains", {
    user: actor.actorId,
    domains: domains.length,
  });
  await startBatch(deps, args.client, audience, {
    domains,
    actor,
    channelId: audience.channelId,
    responseUrl: args.body.response_url,
  });
}

interface Click {
  actor: Actor;
  audience: Audience;
  value: DomainsValue;
}

/** Ack, the channel rule, then the button's value; a value the bot did not make is answered. */
async function clicked(deps: ListenerDeps, args: ButtonArgs): Promise<Click | undefined> {
  await args.ack();
  const { body, action } = args;
  const audience = audienceOf(args);
  const allowed = deps.config.allowedChannels;
  if (allowed !== undefined && !allowed.includes(audience.channelId)) {
    await tell(args.client, audience, clickChannelNotAllowedText(allowed), deps.logger);
    return undefined;
  }
  const value = decodeDomainsValue(action.value);
  if (value === undefined) {
    deps.logger.event("warn", "Ignored a domains button with a value the bot did not make", {
      actionId: action.action_id,
      user: body.user.id,
    });
    await tell(args.client, audience, unreadableClickText(), deps.logger);
    return undefined;
  }
  return { actor: actorOf(body), audience, value };
}

function audienceOf({ body, respond }: ButtonArgs): Audience {
  return { userId: body.user.id, channelId: body.channel?.id ?? body.user.id, respond };
}

/**
 * The person's own rule (`/dkim status`'s): public channels and the private ones they are in.
 * Without a visibility check wired in, only the channel they are in.
 */
function personViewer(deps: ListenerDeps, actor: Actor, channelId: string): InventoryViewer {
  const canSee = deps.channelVisibility?.canSee;
  return {
    ...actor,
    canSee: (channel) =>
      canSee === undefined
        ? Promise.resolve(channel === channelId)
        : canSee(actor.actorId, channel),
  };
}

async function showOrTell(
  deps: ListenerDeps,
  client: SlackClient,
  audience: Audience,
  message: SlackMessage,
  replace: DomainsRequest["replace"],
): Promise<void> {
  if (replace !== undefined) {
    try {
      await replace(message);
      return;
    } catch (error) {
      // The old answer is gone (ephemeral messages do not outlive a reload): a new one then.
      deps.logger.event("info", "Could not redraw the domains answer; answering anew", { error });
    }
  }
  await tell(client, audience, message, deps.logger);
}

/** The cluster's refusal, Slack's refusal of the file, or anything else, as one sentence. */
function failureText(deps: ListenerDeps, error: unknown): string {
  if (isCodedError(error) && error.code.startsWith("SPAMEXPERTS_")) {
    return domainListFailedText(error);
  }
  switch (slackErrorCode(error)) {
    case "not_in_channel":
    case "channel_not_found":
      return botNotInChannelText();
    case "missing_scope":
      return "Slack refused the file: the app lacks the files:write scope. Ask the bot's operator to add it (manifest.yml) and reinstall the app, then click Download CSV again.";
    default:
      return errorText(error, { logger: deps.logger });
  }
}
