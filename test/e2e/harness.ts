/**
 * End-to-end harness: the real bot (the built `dist/main.js`, as `npm start` runs it) in a
 * child process, in HTTP mode on an ephemeral port (or in Socket Mode: socket-mode.test.ts
 * adds a fake Socket Mode server), wired to local stand-ins only:
 * SLACK_API_URL -> a fake Slack Web API that records every call, SPAMEXPERTS_URL -> a fake
 * SpamExperts API, DKIM_DNS_SERVERS -> a real DNS server on loopback. Every log line is kept,
 * so tests can scan them; the process can be stopped (SIGTERM) or killed (SIGKILL) and started
 * again on the same DATA_DIR. A test file gets one with `useBot()`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, beforeEach } from "vitest";
import { type DnsTestServer, startDnsServer } from "../helpers/dns-server.js";
import { type FakeSlack, startFakeSlack } from "../helpers/fake-slack.js";
import { type FakeSpamExperts, startFakeSpamExperts } from "../helpers/fake-spamexperts.js";
import {
  type BlockActionArgs,
  type SlackHttpResponse,
  type SlashCommandArgs,
  sendBlockAction,
  sendSlashCommand,
  sendViewSubmission,
  type ViewSubmissionArgs,
} from "../helpers/slack-requests.js";

export const MAIN = fileURLToPath(new URL("../../dist/main.js", import.meta.url));
export const SIGNING_SECRET = "e2e-signing-secret";
export const BOT_TOKEN = "xoxb-e2e-bot-token";
export const SE_USER = "apiuser";
export const SE_PASSWORD = "s3cret pass+word";
export const REQUESTER = "UREQUESTER";
export const APPROVER = "UAPPROVER1";
export const GROUP = "SAPPROVERS";
export const GROUP_MEMBER = "UGROUPMEMBER";
export const OUTSIDER = "UOUTSIDER";
export const CHANNEL = "CDKIMOPS";

export interface BotProcess {
  url: string;
  port: number;
  /** As the bot logged it: HTTP mode, or Socket Mode (SLACK_APP_TOKEN; `port` serves /healthz only). */
  mode: "http" | "socket";
  /** Every line the process printed, stdout and stderr. */
  readonly lines: readonly string[];
  waitForLine(predicate: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** SIGTERM, then wait for the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: a crash. */
  kill(): Promise<void>;
}

export interface Harness {
  slack: FakeSlack;
  spamExperts: FakeSpamExperts;
  dns: DnsTestServer;
  dataDir: string;
  /** Every line of every bot process started so far. */
  readonly allLines: readonly string[];
  /**
   * Starts a bot process (env on top of the defaults, less the variables in `unset`, e.g.
   * SLACK_SIGNING_SECRET for Socket Mode); it becomes `bot`.
   */
  startBot(env?: Record<string, string>, options?: StartOptions): Promise<BotProcess>;
  /**
   * Starts a bot that is expected not to start (a wrong setting, a second bot on DATA_DIR):
   * resolves with its exit code and every line it printed.
   */
  startFailingBot(
    env?: Record<string, string>,
    options?: StartOptions,
  ): Promise<{ code: number | null; lines: string[] }>;
  /** The bot process started last (running or not). */
  readonly bot: BotProcess;
  /** Signed `/dkim` command from `userId` (default the requester) in CHANNEL. */
  command(text: string, args?: Partial<SlashCommandArgs>): Promise<SlackHttpResponse>;
  click(args: Partial<BlockActionArgs> & { actionId: string }): Promise<SlackHttpResponse>;
  submit(
    args: Partial<ViewSubmissionArgs> & Pick<ViewSubmissionArgs, "callbackId" | "values">,
  ): Promise<SlackHttpResponse>;
  /** Stops the current bot (SIGTERM, a clean stop), kills any other, closes the stand-ins. */
  close(): Promise<void>;
}

export interface StartOptions {
  /** Default variables to leave out of the bot's environment. */
  unset?: readonly string[];
}

export async function startHarness(): Promise<Harness> {
  const slack = await startFakeSlack();
  slack.setUsergroup(GROUP, [GROUP_MEMBER]);
  const spamExperts = await startFakeSpamExperts({ username: SE_USER, password: SE_PASSWORD });
  const dns = await startDnsServer();
  const dataDir = await mkdtemp(join(tmpdir(), "dkim-e2e-"));
  const allLines: string[] = [];
  const bots = new Set<ChildProcess>();
  let current: BotProcess | undefined;

  const baseEnv = (): Record<string, string> => ({
    PATH: process.env.PATH ?? "",
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    PORT: "0",
    SLACK_API_URL: slack.apiUrl,
    SPAMEXPERTS_URL: spamExperts.url,
    SPAMEXPERTS_USERNAME: SE_USER,
    SPAMEXPERTS_PASSWORD: SE_PASSWORD,
    SPAMEXPERTS_TIMEOUT_MS: "2000",
    DKIM_APPROVERS: `${APPROVER},${GROUP}`,
    DKIM_DNS_SERVERS: dns.address,
    DKIM_DEFAULT_BITS: "1024",
    // Tests ask for DNS checks with the button; the watcher is tested on its own.
    DKIM_DNS_POLL_SECONDS: "3600",
    // Slack's pace (1 s per call per channel after a burst) would make every step of a test
    // wait; the tests of pacing itself set 1000.
    DKIM_SLACK_PACE_MS: "50",
    DATA_DIR: dataDir,
    LOG_LEVEL: "debug",
  });

  /** A bot process with the defaults, `env` on top, less `options.unset`. */
  function spawnBot(env: Record<string, string>, options: StartOptions): ChildProcess {
    const childEnv: Record<string, string> = { ...baseEnv(), ...env };
    for (const name of options.unset ?? []) delete childEnv[name];
    // cwd = DATA_DIR: a developer's own .env in the checkout must not leak into the test.
    const child = spawn(process.execPath, [MAIN], {
      cwd: dataDir,
      env: childEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    bots.add(child);
    return child;
  }

  async function startBot(
    env: Record<string, string> = {},
    options: StartOptions = {},
  ): Promise<BotProcess> {
    const child = spawnBot(env, options);
    const lines: string[] = [];
    const waiters = new Set<() => void>();
    const exited = new Promise<number | null>((resolve) => {
      child.once("exit", (code) => {
        bots.delete(child);
        resolve(code);
        for (const wake of waiters) wake();
      });
    });
    const collect = (stream: NodeJS.ReadableStream) => {
      let buffer = "";
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => {
        buffer += chunk;
        const parts = buffer.split("\n");
        buffer = parts.pop() ?? "";
        for (const line of parts) {
          lines.push(line);
          allLines.push(line);
        }
        for (const wake of waiters) wake();
      });
    };
    if (child.stdout) collect(child.stdout);
    if (child.stderr) collect(child.stderr);

    function waitForLine(
      predicate: (line: string) => boolean,
      timeoutMs = 15_000,
    ): Promise<string> {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.find(predicate);
          if (found !== undefined) {
            done();
            resolve(found);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            done();
            reject(new Error(`The bot exited before the line came:\n${lines.join("\n")}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`No such line within ${timeoutMs} ms:\n${lines.join("\n")}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    }

    const running = await waitForLine((line) => line.includes('"msg":"dkim-bot is running"'));
    const logged = JSON.parse(running) as { port: number; mode: "http" | "socket" };
    const port = Number(logged.port);
    const bot: BotProcess = {
      url: `http://127.0.0.1:${port}`,
      port,
      mode: logged.mode,
      lines,
      waitForLine,
      async stop() {
        child.kill("SIGTERM");
        return exited;
      },
      async kill() {
        child.kill("SIGKILL");
        await exited;
      },
    };
    current = bot;
    return bot;
  }

  function startFailingBot(
    env: Record<string, string> = {},
    options: StartOptions = {},
  ): Promise<{ code: number | null; lines: string[] }> {
    const child = spawnBot(env, options);
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`The bot did not exit within 20 s:\n${output}`));
      }, 20_000);
      child.once("exit", (code) => {
        clearTimeout(timer);
        bots.delete(child);
        resolve({ code, lines: output.split("\n").filter((line) => line !== "") });
      });
    });
  }

  const currentBot = (): BotProcess => {
    if (current === undefined) throw new Error("start the bot first");
    return current;
  };
  const botUrl = (): string => currentBot().url;

  return {
    slack,
    spamExperts,
    dns,
    dataDir,
    allLines,
    startBot,
    startFailingBot,
    get bot() {
      return currentBot();
    },
    command: (text, args = {}) =>
      sendSlashCommand(botUrl(), SIGNING_SECRET, {
        text,
        userId: REQUESTER,
        channelId: CHANNEL,
        responseUrl: slack.responseUrl(),
        ...args,
      }),
    click: (args) =>
      sendBlockAction(botUrl(), SIGNING_SECRET, {
        userId: APPROVER,
        channelId: CHANNEL,
        messageTs: "0.0",
        responseUrl: slack.responseUrl(),
        ...args,
      }),
    submit: (args) => sendViewSubmission(botUrl(), SIGNING_SECRET, { userId: REQUESTER, ...args }),
    async close() {
      await current?.stop();
      for (const child of bots) child.kill("SIGKILL");
      await Promise.all([slack.close(), spamExperts.close(), dns.close()]);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * The harness of a test file: started, with a bot (env on top of the defaults), before the
 * file's tests, and closed after them. Reach it inside tests and hooks only (it is started by
 * then), as `harness.slack`, `harness.bot.url`, `setUp(harness, ...)`.
 */
export function useBot(env: Record<string, string> = {}): Harness {
  let started: Harness | undefined;
  beforeAll(async () => {
    started = await startHarness();
    await started.startBot(env);
  });
  afterAll(async () => {
    await started?.close();
  });
  printLogsOnFailure(() => started);
  // Tests keep this at module level, before beforeAll ran: every access goes to `started`.
  return new Proxy({} as Harness, {
    get(_target, key) {
      if (started === undefined) throw new Error("the harness starts in beforeAll");
      return Reflect.get(started, key);
    },
  });
}

/** Lines of the bots' logs printed when a test fails: enough to see what they were doing. */
const LOG_LINES_ON_FAILURE = 200;

/**
 * A failed test prints the end of every bot's log and the Web API calls fake Slack saw, so a
 * failure seen only in CI (a loaded machine) can be understood from its output alone.
 */
export function printLogsOnFailure(current: () => Harness | undefined): void {
  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      const harness = current();
      if (harness === undefined) return;
      const calls = harness.slack.calls().map((call) => {
        const channel = typeof call.params.channel === "string" ? ` ${call.params.channel}` : "";
        const thread =
          typeof call.params.thread_ts === "string" ? ` thread ${call.params.thread_ts}` : "";
        return `${call.method}${channel}${thread} -> ${call.response.ok === true ? "ok" : String(call.response.error)}`;
      });
      console.error(
        [
          `--- fake Slack saw ${calls.length} Web API calls:`,
          ...calls.slice(-LOG_LINES_ON_FAILURE),
          `--- the last ${LOG_LINES_ON_FAILURE} lines the bots logged:`,
          ...harness.allLines.slice(-LOG_LINES_ON_FAILURE),
        ].join("\n"),
      );
    });
  });
}
