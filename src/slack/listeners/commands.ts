import type { AllMiddlewareArgs, App, SlackCommandMiddlewareArgs } from "@slack/bolt";
import { type ExpectedKey, isLiveAndMatching } from "../../dkim/check.js";
import { defaultSelector, normaliseDomain, normaliseSelector } from "../../dkim/names.js";
import type { RequestState } from "../../requests/model.js";
import { parseDkimCommand } from "../command-parser.js";
import { checkResultMessage } from "../ui/check-result.js";
import { helpText } from "../ui/help.js";
import { badCommandText, channelNotAllowedText, stillWorkingText } from "../ui/refusal.js";
import { setupModal } from "../ui/setup-modal.js";
import { finishBatch, recordBatch } from "./batch-setup.js";
import type { ListenerDeps } from "./deps.js";
import { showDomains } from "./domains.js";
import { type Audience, errorText, tell, withProgressNotice } from "./replies.js";
import { finishSetup, recordSetup, setupChannelRefusal } from "./start-request.js";
import { statusAnswerFor, statusFilterOf } from "./status.js";

/** States in which a request's record is (to be) published with its key. */
const KEY_IN_USE: readonly RequestState[] = ["pending", "applying", "failed", "active"];

export function registerCommands(app: App, deps: ListenerDeps): void {
  app.command("/dkim", (args) => handleDkimCommand(deps, args));
}

/**
 * `/dkim ...`: parse, ack within Slack's 3 seconds (with the answer itself when it is
 * instant: help, a usage error), then do the slow part and answer the person who typed.
 */
export async function handleDkimCommand(
  deps: ListenerDeps,
  { command, ack, respond, client }: AllMiddlewareArgs & SlackCommandMiddlewareArgs,
): Promise<void> {
  const { config, logger } = deps;
  const now = deps.clock?.() ?? new Date();
  const audience: Audience = { userId: command.user_id, channelId: command.channel_id, respond };
  const allowed = config.allowedChannels;
  if (allowed !== undefined && !allowed.includes(command.channel_id)) {
    await ack({
      response_type: "ephemeral",
      text: channelNotAllowedText(allowed, command.command),
    });
    return;
  }

  const parsed = parseDkimCommand(command.text, { command: command.command });
  switch (parsed.kind) {
    case "error":
      await ack({
        response_type: "ephemeral",
        text: badCommandText(parsed.message, command.command),
      });
      return;
    case "help":
      await ack({
        response_type: "ephemeral",
        text: helpText({
          command: command.command,
          approvers: config.approvers,
          allowSelfApproval: config.allowSelfApproval,
          requireDns: config.requireDns,
          dryRun: deps.dryRun,
          defaultBits: config.defaultBits,
          requestTtlDays: config.requestTtlDays,
          batchMax: config.batchMax,
          allowedChannels: config.allowedChannels,
          now,
          lifecycle: {
            overlapDays: config.rotationOverlapDays,
            rotateAfterDays: config.rotateAfterDays,
            monitorHours: config.monitorHours,
          },
        }),
      });
      return;
    case "setup-modal": {
      const refusal = setupChannelRefusal(command.channel_id, allowed, command.command);
      if (refusal !== undefined) {
        await ack({ response_type: "ephemeral", text: refusal });
        return;
      }
      await ack();
      try {
        await client.views.open({
          trigger_id: command.trigger_id,
          view: setupModal({
            channelId: command.channel_id,
            defaultSelector: defaultSelector(now),
            defaultBits: config.defaultBits,
            batchMax: config.batchMax,
          }),
        });
      } catch (error) {
        logger.event("warn", "Could not open the setup form", { error });
        await tell(
          client,
          audience,
          "The setup form could not be opened (Slack gives 3 seconds). Try again, or type `/dkim setup <domain>`.",
          logger,
        );
      }
      return;
    }
    case "bulk-setup": {
      const refusal = setupChannelRefusal(command.channel_id, allowed, command.command);
      if (refusal !== undefined) {
        await ack({ response_type: "ephemeral", text: refusal });
        return;
      }
      // Recorded before the ack, as a single setup is: an acked batch is done whatever happens.
      const recorded = await recordBatch(deps, {
        domains: parsed.domains,
        actor: {
          actorId: command.user_id,
          teamId: command.team_id,
          ...(command.enterprise_id === undefined ? {} : { enterpriseId: command.enterprise_id }),
        },
        channelId: command.channel_id,
        options: {
          selector: parsed.selector,
          bits: parsed.bits,
          testing: parsed.testing,
          reason: parsed.reason,
        },
        responseUrl: command.response_url,
      });
      if (typeof recorded === "string") {
        await ack({ response_type: "ephemeral", text: recorded });
        return;
      }
      await ack();
      await finishBatch(deps, client, audience, recorded, { delayed: false });
      return;
    }
    case "setup":
    case "rotate": {
      const refusal = setupChannelRefusal(command.channel_id, allowed, command.command);
      if (refusal !== undefined) {
        await ack({ response_type: "ephemeral", text: refusal });
        return;
      }
      const where = {
        requesterId: command.user_id,
        channelId: command.channel_id,
        teamId: command.team_id,
        ...(command.enterprise_id === undefined ? {} : { enterpriseId: command.enterprise_id }),
      };
      const input =
        parsed.kind === "setup"
          ? {
              ...where,
              domain: parsed.domain,
              selector: parsed.selector,
              bits: parsed.bits,
              usernames: parsed.users,
              testing: parsed.testing,
              reason: parsed.reason,
            }
          : { ...where, domain: parsed.domain, selector: parsed.selector, bits: parsed.bits };
      // Recorded before the ack: an acked setup is done (or its refusal told) whatever happens.
      const recorded = await recordSetup(deps, {
        input,
        responseUrl: command.response_url,
        rotation: parsed.kind === "rotate",
      });
      if (typeof recorded === "string") {
        await ack({ response_type: "ephemeral", text: recorded });
        return;
      }
      await ack();
      await finishSetup(deps, client, audience, recorded, { delayed: false });
      return;
    }
    case "status": {
      await ack();
      try {
        const answer = await statusAnswerFor(
          deps,
          { userId: command.user_id, channelId: command.channel_id },
          statusFilterOf(parsed.domain),
          now,
          command.command,
        );
        await tell(client, audience, answer, logger);
      } catch (error) {
        await tell(client, audience, errorText(error, { logger }), logger);
      }
      return;
    }
    case "domains": {
      await ack();
      await showDomains(deps, client, audience, {
        actor: {
          actorId: command.user_id,
          teamId: command.team_id,
          ...(command.enterprise_id === undefined ? {} : { enterpriseId: command.enterprise_id }),
        },
        value: { filter: parsed.filter, namePart: parsed.namePart, page: parsed.page ?? 1 },
        refresh: false,
        command: command.command,
      });
      return;
    }
    case "check": {
      await ack();
      // A DNS server that does not answer makes this wait for the resolver's timeouts.
      const notify = () => tell(client, audience, stillWorkingText("DNS"), logger);
      await withProgressNotice(
        async () => {
          try {
            const domain = normaliseDomain(parsed.domain);
            const selector =
              parsed.selector === undefined
                ? await selectorToCheck(deps, domain, now)
                : normaliseSelector(parsed.selector);
            const result = await deps.checkDns(
              domain,
              selector,
              await keyToExpect(deps, domain, selector),
            );
            logger.event("info", "DNS checked on request", {
              domain,
              selector,
              status: result.status,
              live: isLiveAndMatching(result),
              actor: command.user_id,
            });
            await tell(client, audience, checkResultMessage(result), logger);
          } catch (error) {
            await tell(client, audience, errorText(error, { logger }), logger);
          }
        },
        notify,
        deps.progress,
      );
      return;
    }
  }
}

/** Without a selector, check the one of the domain's newest request, else today's default. */
async function selectorToCheck(deps: ListenerDeps, domain: string, now: Date): Promise<string> {
  const [newest] = await deps.service.list({ domain, limit: 1 });
  return newest?.selector ?? defaultSelector(now);
}

/**
 * The key of the bot's own request for this name, while its record is meant to be published:
 * then a record with another key is wrong, as Approve would find. Any other name: any key.
 */
async function keyToExpect(
  deps: ListenerDeps,
  domain: string,
  selector: string,
): Promise<ExpectedKey | undefined> {
  // Oldest first: the last one is the newest.
  const requests = await deps.service.list({ domain, states: KEY_IN_USE });
  const own = requests.filter((request) => request.selector === selector).at(-1);
  return own === undefined
    ? undefined
    : { publicKeyBase64: own.publicKeyBase64, testing: own.testing };
}
