import { randomBytes } from "node:crypto";
import { realpathSync } from "node:fs";
import { hostname } from "node:os";
import { fileURLToPath } from "node:url";
import dotenv from "dotenv";
import { type Config, ConfigError, loadConfig } from "./config.js";
import { checkDkimRecord } from "./dkim/check.js";
import { createTxtLookup } from "./dkim/dns.js";
import { createDnsPublisher } from "./dns-publish/index.js";
import { CodedError, isCodedError } from "./errors.js";
import { keepRunningOnUnhandledRejection } from "./keep-running.js";
import { type AppLogger, createLogger, requestsLogger } from "./logger.js";
import { startDnsWatcher } from "./requests/dns-watcher.js";
import type { RequestsLogger } from "./requests/logger.js";
import type { AuditEvent, DkimRequest } from "./requests/model.js";
import { startPeriodic } from "./requests/scheduler.js";
import { resolveEncryptionKey } from "./requests/sealing.js";
import { createRequestService } from "./requests/service.js";
import { acquireInstanceLock } from "./requests/store/instance-lock.js";
import { openStore } from "./requests/store/open-store.js";
import type { RequestStore } from "./requests/store.js";
import { createApp } from "./slack/app.js";
import { createBatchNotifier } from "./slack/batch-notifier.js";
import { createChannelPacer } from "./slack/channel-pacer.js";
import { checkBotToken } from "./slack/check-token.js";
import { finishUnfinishedBatches } from "./slack/listeners/batch-setup.js";
import { finishUnfinishedSetups } from "./slack/listeners/start-request.js";
import { permalinkOf } from "./slack/permalink.js";
import { createBatchCardPoster, createCardPoster } from "./slack/post-card.js";
import { createGroupMembership, createSlackClient } from "./slack/slack-client.js";
import { createThreadNotifier } from "./slack/thread-notifier.js";
import { createStoredThreadReplyStore } from "./slack/thread-replies.js";
import { createFileUploader } from "./slack/upload-file.js";
import { createSpamExpertsClient } from "./spamexperts/client.js";
import { createDomainListCache } from "./spamexperts/domain-list-cache.js";
import { createDryRunClient } from "./spamexperts/dry-run.js";
import type { DkimApi } from "./spamexperts/types.js";

/**
 * The composition root: config -> store, clients -> request service -> Slack app. The only
 * place that wires things together, and the only one that knows about process signals.
 */

export interface RunningBot {
  mode: "http" | "socket";
  port: number;
  stop(): Promise<void>;
}

export async function startBot(config: Config, logger: AppLogger): Promise<RunningBot> {
  const log = requestsLogger(logger);
  // One queue per channel for every post and edit the bot makes, whichever flow makes it.
  const pacer = createChannelPacer({ intervalMs: config.slackPaceMs });
  const slackClient = createSlackClient(config, logger, pacer);
  // A wrong token is found now, with one sentence, not on the first command.
  const identity = await checkBotToken(config, logger);

  const leaseMs = config.leaseSeconds * 1000;
  // How long a replica may take to tell an event before another replica tells it instead:
  // longer than an apply's lease, as Slack may be slower to answer than SpamExperts.
  const eventHoldMs = 4 * leaseMs;
  const store = await openConfiguredStore(config, log, eventHoldMs);

  const spamExperts =
    config.spamExperts === undefined
      ? undefined
      : createSpamExpertsClient({
          baseUrl: config.spamExperts.url,
          username: config.spamExperts.username,
          password: config.spamExperts.password,
          timeoutMs: config.spamExperts.timeoutMs,
          // Every apply in flight has its connection; more applies wait in the client's queue.
          connections: config.applyConcurrency,
        });
  const dkimApi: DkimApi = spamExperts ?? createDryRunClient();
  // `/dkim domains`: the cluster's list, kept for DKIM_INVENTORY_MINUTES (none in a dry run).
  const domainList =
    spamExperts === undefined
      ? undefined
      : createDomainListCache({
          inventory: spamExperts,
          ttlMs: config.inventoryMinutes * 60_000,
        });
  // DKIM_DNS_PUBLISH_*: the bot writes the records of the zones it may itself.
  const dnsPublisher =
    config.dnsPublish === undefined ? undefined : createDnsPublisher(config.dnsPublish);
  const lookup = createTxtLookup(
    config.dnsServers === undefined ? {} : { servers: config.dnsServers },
  );
  const checkDns = checkDkimRecord.bind(null, lookup);

  // A batch's card and thread: its requests' events fold into it (batch-notifier.ts).
  const batchNotifier = createBatchNotifier({
    client: slackClient,
    dryRun: dkimApi.dryRun,
    approvers: config.approvers,
    logger,
    // `service` is defined below; these run only once batches exist.
    load: async (batchId) => {
      const batch = await service.batches.get(batchId);
      return batch === undefined
        ? undefined
        : { batch, members: await service.batches.members(batchId) };
    },
    markDelivered: (eventId) => service.markEventDelivered(eventId),
    markTold: async (batchId, told, ref) => {
      if ("notice" in told) await service.batches.markTold(batchId, told.notice, ref);
      else await service.batches.markRunTold(batchId, told.runId, ref);
    },
  });
  const notifier = createThreadNotifier({
    client: slackClient,
    dryRun: dkimApi.dryRun,
    logger,
    approvers: config.approvers,
    replies: createStoredThreadReplyStore(store),
    alertChannel: config.alertChannel,
    permalink: (channel, ts, threadTs) => permalinkOf(identity.url, channel, ts, threadTs),
    // `service` is defined just below; the notifier calls this only after events exist.
    markDelivered: (eventId) => service.markEventDelivered(eventId),
    holds: {
      extend: (eventIds) => store.extendEventHolds(eventIds, eventHoldMs),
      release: (eventIds) => store.releaseEventHolds(eventIds),
      everyMs: eventHoldMs / 4,
    },
    batches: batchNotifier,
  });
  const service = createRequestService({
    store,
    dkimApi,
    checkDns,
    isMemberOfGroup: createGroupMembership(slackClient, { logger }),
    policy: {
      approvers: config.approvers,
      allowSelfApproval: config.allowSelfApproval,
      requireDns: config.requireDns,
      ttlDays: config.requestTtlDays,
    },
    lifecycle: {
      overlapDays: config.rotationOverlapDays,
      rotateAfterDays: config.rotateAfterDays,
      remindEveryDays: REMIND_EVERY_DAYS,
    },
    defaultBits: config.defaultBits,
    batchMax: config.batchMax,
    ...(domainList === undefined ? {} : { domainList }),
    applyConcurrency: config.applyConcurrency,
    onBatch: (batch) => batchNotifier.redraw(batch.id),
    applyLeaseMs: leaseMs,
    homeTeamId: identity.teamId,
    ...(dnsPublisher === undefined ? {} : { dnsPublisher }),
    onEvent: (event, request) => {
      logTransition(logger, event, request);
      notifier.onEvent(event, request);
    },
    logger: log,
  });

  // The thread opens with the record's split form once the card is posted and attached.
  const slackService: typeof service = {
    ...service,
    attachMessage: async (id, channelId, messageTs) => {
      const request = await service.attachMessage(id, channelId, messageTs);
      notifier.cardPosted(request);
      return request;
    },
  };
  const posterOptions = {
    token: config.slack.botToken,
    apiUrl: config.slack.apiUrl,
    logger,
    pacer,
  };
  const listenerDeps = {
    service: slackService,
    checkDns,
    dryRun: dkimApi.dryRun,
    config,
    logger,
    permalink: (channel: string, ts: string) => permalinkOf(identity.url, channel, ts),
    postCard: createCardPoster(posterOptions),
    postBatchCard: createBatchCardPoster(posterOptions),
    uploadFiles: createFileUploader(slackClient),
    threadClient: slackClient,
  };
  const slack = createApp(config, { ...listenerDeps, identity });
  let started: Awaited<ReturnType<typeof slack.start>>;
  try {
    started = await slack.start();
  } catch (error) {
    await store.close();
    throw error;
  }
  logger.event("info", "dkim-bot is running", {
    mode: started.mode,
    port: started.port,
    dryRun: dkimApi.dryRun,
    store: store.description,
  });

  // Recovery, on every replica: what a crash, an outage or a dead replica left untold is told
  // (oldest first, so a thread keeps its order), and a request left in `applying` whose apply
  // nobody holds goes on where it stopped. At start, then every half lease.
  const recovery = startPeriodic(
    {
      name: "recovery",
      periodMs: Math.min(15_000, leaseMs / 2),
      async cycle() {
        notifier.replay(await service.claimUndeliveredEvents(eventHoldMs));
        // Acked setups a stop cut short: their keys are made and their cards posted now.
        await finishUnfinishedSetups(listenerDeps, slackClient);
        // Batches likewise (keys, card, records), and the runs on them a stop cut short.
        await finishUnfinishedBatches(listenerDeps, slackClient);
        await service.resumeInterrupted();
      },
    },
    { logger: log, runAtStart: true },
  );
  // After Active: every key that signs is checked, old records retired, old keys reminded.
  const lifecycle = startPeriodic(
    {
      name: "monitor",
      periodMs: config.monitorHours * 3_600_000,
      async cycle() {
        const started = Date.now();
        const report = await service.lifecycle.monitor();
        const reminded = await service.lifecycle.remindRotations();
        log.info("Monitoring cycle done.", {
          ...report,
          reminded: reminded.length,
          durationMs: Date.now() - started,
        });
      },
    },
    { logger: log, leases: store, leaseMs, runAtStart: "when-due" },
  );
  // Before expiry: a pending request's thread hears once that it ends soon (expiry-reminder.ts),
  // checked as often as the DNS watch expires requests.
  const reminders = startPeriodic(
    {
      name: "expiry-reminder",
      periodMs: Math.max(0.05, config.dnsPollSeconds) * 1000,
      async cycle() {
        const reminded = await service.remindExpiring();
        if (reminded.length > 0) {
          log.info("Reminded pending requests of their expiry.", {
            requestIds: reminded.map((each) => each.id),
          });
        }
      },
    },
    { logger: log, leases: store, leaseMs, runAtStart: "when-due" },
  );
  const watcher = startDnsWatcher({
    service,
    intervalSeconds: config.dnsPollSeconds,
    logger: log,
    leases: store,
    leaseMs,
  });
  void watcher.runOnce();

  return {
    ...started,
    async stop() {
      await slack.stop();
      await watcher.stop();
      await recovery.stop();
      await lifecycle.stop();
      await reminders.stop();
      // Let the API call in flight finish and be recorded before the client and store close;
      // what is left resumes at the next start.
      await service.stop();
      // What still waits for its turn in a channel is not waited on: it stays undelivered in
      // the store and is told at the next start. Calls already sent get the grace.
      pacer.stop();
      batchNotifier.stop();
      await notifier.stop(STOP_GRACE_MS);
      await dkimApi.close();
      await dnsPublisher?.close();
      await store.close();
    },
  };
}

/**
 * How long a stop waits for Slack calls already sent to be answered; what still waits for its
 * channel's turn (the pacer) is not waited on: it stays undelivered for the next start.
 */
const STOP_GRACE_MS = 5000;
/** A key that stays too old is reminded again this often. */
const REMIND_EVERY_DAYS = 30;

/**
 * SQLite in DATA_DIR (one bot per directory: a second one is refused), or PostgreSQL shared by
 * several replicas. This replica's name goes into every lease it takes.
 */
async function openConfiguredStore(
  config: Config,
  log: RequestsLogger,
  eventHoldMs: number,
): Promise<RequestStore> {
  const owner = `${hostname()}/${process.pid}/${randomBytes(3).toString("hex")}`;
  if (config.databaseUrl !== undefined) {
    if (config.encryptionKey === undefined) {
      throw new CodedError("CONFIG_INVALID", "DKIM_ENCRYPTION_KEY is required with DATABASE_URL.");
    }
    return openStore({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      encryptionKey: config.encryptionKey,
      owner,
      deliveryHoldMs: eventHoldMs,
    });
  }
  const lock = acquireInstanceLock(config.dataDir);
  try {
    const encryptionKey = resolveEncryptionKey({
      configured: config.encryptionKey,
      dataDir: config.dataDir,
      logger: log,
    });
    const store = await openStore({
      dataDir: config.dataDir,
      encryptionKey,
      owner,
      deliveryHoldMs: eventHoldMs,
    });
    // Alone on this file (the lock says so): whatever a dead process held is free now.
    await store.forgetHolds();
    const close = store.close.bind(store);
    return Object.assign(store, {
      async close() {
        await close();
        lock.release();
      },
    });
  } catch (error) {
    lock.release();
    throw error;
  }
}

/**
 * One log line per event of a request, for operators who read logs rather than Slack: who did
 * what to which request, and how it came out. Events carry no secrets by construction.
 */
function logTransition(logger: AppLogger, event: AuditEvent, request: DkimRequest): void {
  logger.event(event.kind === "failed" ? "warn" : "info", "request event", {
    requestId: request.id,
    domain: request.domain,
    selector: request.selector,
    actor: event.actorId,
    event: event.kind,
    state: request.state,
  });
}

/** `npm start` / `dkim-bot serve`: .env and the environment, then run until SIGTERM, SIGINT or SIGHUP. */
export async function startFromEnvironment(): Promise<number> {
  dotenv.config({ quiet: true });
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
  const logger = createLogger({ level: config.logLevel });
  keepRunningOnUnhandledRejection(logger);

  // Signals are taken from the very start: a stop asked for while the bot is still starting
  // (opening the store, connecting to Slack) stops it cleanly as soon as it is up.
  let bot: RunningBot | undefined;
  let stopSignal: string | undefined;
  const stop = (running: RunningBot): void => {
    // Exit explicitly once stopped: the Slack client may still be retrying a call (Slack
    // unreachable) and would keep the process alive past the orchestrator's grace period.
    running.stop().then(
      () => {
        logger.event("info", "Stopped");
        process.exit(0);
      },
      (error: unknown) => {
        logger.event("error", "Could not stop cleanly", { error });
        process.exit(1);
      },
    );
  };
  const shutdown = (signal: string): void => {
    if (stopSignal !== undefined) return;
    stopSignal = signal;
    logger.event("info", "Stopping", { signal });
    if (bot !== undefined) stop(bot);
  };
  // SIGHUP (the terminal or session went away, or a supervisor's "reload") stops as cleanly.
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    process.once(signal, () => shutdown(signal));
  }

  try {
    bot = await startBot(config, logger);
  } catch (error) {
    // Startup errors a person can fix (wrong encryption key, port in use) as one sentence.
    const message = isCodedError(error) ? error.message : describeStartupError(error);
    logger.event("error", "dkim-bot could not start", { reason: message });
    process.stderr.write(`dkim-bot could not start: ${message}\n`);
    return 1;
  }
  if (stopSignal !== undefined) stop(bot);
  return 0;
}

function describeStartupError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === "EADDRINUSE")
    return "the port is already in use: stop the other process or set PORT.";
  if (code === "EACCES")
    return "permission denied: check PORT (below 1024 needs privileges) and DATA_DIR.";
  return error instanceof Error ? error.message : String(error);
}

// `node dist/main.js` (npm start) runs the bot; importing this module (tests, the CLI) does not.
const entry = process.argv[1];
if (entry !== undefined && realpathSync(entry) === fileURLToPath(import.meta.url)) {
  const code = await startFromEnvironment();
  if (code !== 0) process.exitCode = code;
}
