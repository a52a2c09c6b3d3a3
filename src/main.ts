import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import dotenv from "dotenv";
import { type Config, ConfigError, loadConfig } from "./config.js";
import { checkDkimRecord } from "./dkim/check.js";
import { createTxtLookup } from "./dkim/dns.js";
import { isCodedError } from "./errors.js";
import { keepRunningOnUnhandledRejection } from "./keep-running.js";
import { type AppLogger, createLogger, requestsLogger } from "./logger.js";
import { startDnsWatcher } from "./requests/dns-watcher.js";
import type { AuditEvent, DkimRequest } from "./requests/model.js";
import { resolveEncryptionKey } from "./requests/sealing.js";
import { createRequestService } from "./requests/service.js";
import { SqliteRequestStore } from "./requests/sqlite-store.js";
import { createApp } from "./slack/app.js";
import { createGroupMembership, createSlackClient } from "./slack/slack-client.js";
import { createThreadNotifier } from "./slack/thread-notifier.js";
import { createSpamExpertsClient } from "./spamexperts/client.js";
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
  const encryptionKey = resolveEncryptionKey({
    configured: config.encryptionKey,
    dataDir: config.dataDir,
    logger: log,
  });
  const store = new SqliteRequestStore({ dataDir: config.dataDir, encryptionKey });

  const dkimApi: DkimApi =
    config.spamExperts === undefined
      ? createDryRunClient()
      : createSpamExpertsClient({
          baseUrl: config.spamExperts.url,
          username: config.spamExperts.username,
          password: config.spamExperts.password,
          timeoutMs: config.spamExperts.timeoutMs,
        });
  const lookup = createTxtLookup(
    config.dnsServers === undefined ? {} : { servers: config.dnsServers },
  );
  const checkDns = checkDkimRecord.bind(null, lookup);

  const slackClient = createSlackClient(config, logger);
  const notifier = createThreadNotifier({
    client: slackClient,
    dryRun: dkimApi.dryRun,
    logger,
    // `service` is defined just below; the notifier calls this only after events exist.
    markDelivered: (eventId) => service.markEventDelivered(eventId),
  });
  const service = createRequestService({
    store,
    dkimApi,
    checkDns,
    isMemberOfGroup: createGroupMembership(slackClient),
    policy: {
      approvers: config.approvers,
      allowSelfApproval: config.allowSelfApproval,
      requireDns: config.requireDns,
      ttlDays: config.requestTtlDays,
    },
    defaultBits: config.defaultBits,
    onEvent: (event, request) => {
      logTransition(logger, event, request);
      notifier.onEvent(event, request);
    },
    logger: log,
  });

  const slack = createApp(config, { service, checkDns, dryRun: dkimApi.dryRun, config, logger });
  const started = await slack.start();
  logger.event("info", "dkim-bot is running", {
    mode: started.mode,
    port: started.port,
    dryRun: dkimApi.dryRun,
  });

  // What a crash cut short is told first, so the thread keeps its order; then a request left
  // in `applying` by a stop or a crash goes on where it stopped.
  notifier.replay(await service.listUndeliveredEvents());
  void service.resumeInterrupted().catch((error: unknown) => {
    logger.event("error", "Could not resume interrupted requests", { error });
  });
  const watcher = startDnsWatcher({ service, intervalSeconds: config.dnsPollSeconds, logger: log });
  void watcher.runOnce();

  return {
    ...started,
    async stop() {
      await slack.stop();
      await watcher.stop();
      // Let the API call in flight finish and be recorded before the client and store close;
      // what is left resumes at the next start.
      await service.stop();
      await notifier.idle();
      await dkimApi.close();
      store.close();
    },
  };
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
  let bot: RunningBot;
  try {
    bot = await startBot(config, logger);
  } catch (error) {
    // Startup errors a person can fix (wrong encryption key, port in use) as one sentence.
    const message = isCodedError(error) ? error.message : describeStartupError(error);
    logger.event("error", "dkim-bot could not start", { reason: message });
    process.stderr.write(`dkim-bot could not start: ${message}\n`);
    return 1;
  }

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.event("info", "Stopping", { signal });
    // Exit explicitly once stopped: the Slack client may still be retrying a call (Slack
    // unreachable) and would keep the process alive past the orchestrator's grace period.
    bot.stop().then(
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
  // SIGHUP (the terminal or session went away, or a supervisor's "reload") stops as cleanly.
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    process.once(signal, () => shutdown(signal));
  }
  keepRunningOnUnhandledRejection(logger);
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
