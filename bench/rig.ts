/**
 * The rig of the app measurements: the real app in HTTP mode (bench/bot-child.ts, a process
 * of its own) against the stand-ins of the test suite, which live in the bench process with
 * the load generator: fake Slack (records Web API calls), fake SpamExperts, a DNS server on
 * 127.0.0.1. Requests are signed as Slack signs them, so Bolt's verification runs.
 */
import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { splitIntoStrings } from "../src/dkim/record.js";
import { ACTION_IDS } from "../src/slack/ui/ids.js";
import { buttonsOf, buttonValue, recordValueShown } from "../test/e2e/support.js";
import { type DnsTestServer, startDnsServer } from "../test/helpers/dns-server.js";
import { type FakeSlack, type RecordedCall, startFakeSlack } from "../test/helpers/fake-slack.js";
import {
  type FakeSpamExperts,
  type FakeSpamExpertsOptions,
  type RecordedRequest,
  startFakeSpamExperts,
} from "../test/helpers/fake-spamexperts.js";
import type {
  BenchToChild,
  ChildToBench,
  CpuReading,
  LogTally,
  LoopReading,
  MemoryReading,
} from "./protocol.js";
import {
  createSenderAgent,
  type Sent,
  type SignedRequest,
  send,
  signedClick,
  signedCommand,
} from "./sender.js";

export const SIGNING_SECRET = "bench-signing-secret";
export const BOT_TOKEN = "xoxb-bench-bot-token";
export const SE_USER = "apiuser";
export const SE_PASSWORD = "bench pass";
export const REQUESTER = "UREQUESTER";
export const APPROVER = "UAPPROVER1";
export const CHANNEL = "CDKIMBENCH";
export const SELECTOR = "s1";
export const WAIT_MS = 120_000;

export const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
export const CHILD = fileURLToPath(new URL("./bot-child.ts", import.meta.url));

// ---- milestones seen at the stand-ins -------------------------------------------------------

/** Named moments (performance.now() in this process), each kept the first time it happens. */
export class Milestones {
  private readonly times = new Map<string, number>();
  private readonly waiters = new Map<string, Array<(at: number) => void>>();

  mark(key: string): void {
    if (this.times.has(key)) return;
    const at = performance.now();
    this.times.set(key, at);
    for (const wake of this.waiters.get(key) ?? []) wake(at);
    this.waiters.delete(key);
  }

  when(key: string, describe: () => string, timeoutMs = WAIT_MS): Promise<number> {
    const known = this.times.get(key);
    if (known !== undefined) return Promise.resolve(known);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`bench: no "${key}" within ${timeoutMs} ms. ${describe()}`));
      }, timeoutMs);
      const list = this.waiters.get(key) ?? [];
      list.push((at) => {
        clearTimeout(timer);
        resolve(at);
      });
      this.waiters.set(key, list);
    });
  }

  forget(prefixes: readonly string[], domain: string): void {
    for (const prefix of prefixes) this.times.delete(`${prefix}:${domain}`);
  }
}

const POSTED_TEXT = /^DKIM setup for (\S+) requested by/;
const ACTIVE_TEXT = /^DKIM for (\S+) is active/;

/**
 * Watches what the bot does at the stand-ins: request message posted, thread replies,
 * final redraw, the SpamExperts calls. One long-lived probe on fake Slack (re-run on every
 * call it records) and a hook on the fake SpamExperts' request log.
 */
export class Watch {
  readonly milestones = new Milestones();
  private readonly domainOfTs = new Map<string, string>();
  private readonly tsOfDomain = new Map<string, string>();
  private lastSeq = 0;
  private responsesSeen = 0;
  private stopped = false;
  readonly answers: string[] = [];
  answerCount = 0;
  private readonly probe: Promise<unknown>;

  constructor(
    private readonly slack: FakeSlack,
    spamExperts: FakeSpamExperts,
  ) {
    this.probe = slack
      .waitUntil(() => this.scan(), "the bench watch", 24 * 60 * 60 * 1000)
      .catch(() => undefined);
    // The fake answers in the same tick as it records a request, and it answers at once:
    // the moment of recording is the moment of answering.
    const log = spamExperts.requests as RecordedRequest[];
    const push = Array.prototype.push;
    log.push = (...items: RecordedRequest[]): number => {
      for (const item of items) this.onSpamExperts(item);
      return push.apply(log, items);
    };
  }

  tsOf(domain: string): string {
    const ts = this.tsOfDomain.get(domain);
    if (ts === undefined) throw new Error(`bench: no request message for ${domain}`);
    return ts;
  }

  /** Forget a finished request (its messages were reset at fake Slack). */
  forget(domain: string): void {
    const ts = this.tsOfDomain.get(domain);
    if (ts !== undefined) this.domainOfTs.delete(ts);
    this.tsOfDomain.delete(domain);
    this.milestones.forget(["posted", "se-last", "active-reply", "final"], domain);
  }

  describe(): string {
    return this.answerCount === 0
      ? "The bot answered nobody with an error."
      : `The bot answered ${this.answerCount} time(s) through response_url/ephemeral, e.g. ${this.answers.join(" | ")}`;
  }

  /** Ends the probe at the next call fake Slack records, or when it closes. */
  stop(): Promise<unknown> {
    this.stopped = true;
    return this.probe;
  }

  private scan(): boolean {
    const calls = this.slack.calls();
    for (const call of calls) {
      if (call.seq <= this.lastSeq) continue;
      this.lastSeq = call.seq;
      this.onSlackCall(call);
    }
    const responses = this.slack.responses();
    for (const post of responses.slice(this.responsesSeen)) {
      this.noteAnswer(post.rawBody);
    }
    this.responsesSeen = responses.length;
    return this.stopped;
  }

  /** Fake Slack was reset: its response_url log starts again from zero. */
  resetCounters(): void {
    this.responsesSeen = 0;
  }

  private noteAnswer(text: string): void {
    this.answerCount += 1;
    if (this.answers.length < 5) this.answers.push(text.slice(0, 300));
  }

  private onSlackCall(call: RecordedCall): void {
    const text = typeof call.params.text === "string" ? call.params.text : "";
    if (call.method === "chat.postEphemeral") {
      this.noteAnswer(text);
      return;
    }
    if (call.response.ok !== true) {
      this.noteAnswer(`${call.method} failed: ${String(call.response.error)}`);
      return;
    }
    if (call.method === "chat.postMessage") {
      const threadTs = typeof call.params.thread_ts === "string" ? call.params.thread_ts : "";
      if (threadTs === "") {
        const domain = POSTED_TEXT.exec(text)?.[1];
        if (domain === undefined) return;
        const ts = String(call.response.ts);
        this.domainOfTs.set(ts, domain);
        this.tsOfDomain.set(domain, ts);
        this.milestones.mark(`posted:${domain}`);
        return;
      }
      const domain = this.domainOfTs.get(threadTs);
      if (domain !== undefined && /\*Active\*/.test(text)) {
        this.milestones.mark(`active-reply:${domain}`);
      }
      return;
    }
    if (call.method === "chat.update") {
      const domain = ACTIVE_TEXT.exec(text)?.[1];
      // The active card keeps Check DNS and Rotate; what marks its final redraw is that
      // Approve and Reject are gone.
      const decisionButtons = buttonsOf(call.params.blocks).filter(
        (b) => b.action_id === ACTION_IDS.approve || b.action_id === ACTION_IDS.reject,
      );
      if (domain !== undefined && decisionButtons.length === 0) {
        this.milestones.mark(`final:${domain}`);
      }
    }
  }

  private onSpamExperts(request: RecordedRequest): void {
    if (request.params.call === "api_set_dkim_selector" && request.params.domain !== undefined) {
      // One username per request here, so the selector call is the last one.
      this.milestones.mark(`se-last:${request.params.domain}`);
    }
  }
}

// ---- the bot process ------------------------------------------------------------------------

export class BotChild {
  private nextId = 1;
  private readonly pending = new Map<number, (message: ChildToBench) => void>();
  private readonly exited: Promise<number | null>;
  private readonly logListeners: Array<(line: string) => void> = [];
  /** Forwarded lines that came before anyone listened (e.g. during the start). */
  private readonly logBacklog: string[] = [];

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {
    this.exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    child.on("message", (message: ChildToBench) => {
      if (message.type === "log-line") {
        if (this.logListeners.length === 0) this.logBacklog.push(message.line);
        for (const listener of this.logListeners) listener(message.line);
        return;
      }
      if (!("id" in message)) return;
      const wake = this.pending.get(message.id);
      this.pending.delete(message.id);
      wake?.(message);
    });
  }

  static async start(env: Record<string, string>, ownSession = false): Promise<BotChild> {
    const extra = (process.env.BENCH_CHILD_NODE_OPTIONS ?? "").split(" ").filter(Boolean);
    const child = fork(CHILD, [], {
      cwd: REPO_ROOT,
      env,
      // A session of its own is a scheduling group of its own (Linux autogroups): the bot then
      // shares the CPU with the bench's sender and stand-ins as it would with Slack's, as a
      // process of its own, rather than thread by thread inside the bench's group.
      detached: ownSession,
      execArgv: ["--expose-gc", ...extra, "--import", "tsx"],
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("bench: the bot did not start")), 60_000);
      child.on("message", (message: ChildToBench) => {
        if (message.type === "ready") {
          clearTimeout(timer);
          resolve(message.port);
        } else if (message.type === "error" && message.id === 0) {
          clearTimeout(timer);
          reject(new Error(`bench: the bot could not start: ${message.message}`));
        }
      });
      child.once("exit", (code) => reject(new Error(`bench: the bot exited with ${code}`)));
    });
    return new BotChild(child, `http://127.0.0.1:${port}`);
  }

  private ask(type: BenchToChild["type"]): Promise<ChildToBench> {
    const id = this.nextId;
    this.nextId += 1;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (message) => {
        if (message.type === "error") reject(new Error(`bench: the bot said ${message.message}`));
        else resolve(message);
      });
      this.child.send({ type, id } satisfies BenchToChild);
    });
  }

  /** Log lines containing BENCH_FORWARD_LOGS (given in the bot's env), as the bot writes them. */
  onLog(listener: (line: string) => void): void {
    this.logListeners.push(listener);
    for (const line of this.logBacklog.splice(0)) listener(line);
  }

  async resetLoop(): Promise<void> {
    await this.ask("loop-reset");
  }

  async readLoop(): Promise<LoopReading> {
    const reply = await this.ask("loop-read");
    if (reply.type !== "loop") throw new Error("bench: unexpected reply");
    return { p50: reply.p50, p99: reply.p99, max: reply.max, samples: reply.samples };
  }

  async memory(): Promise<MemoryReading> {
    const reply = await this.ask("memory");
    if (reply.type !== "memory") throw new Error("bench: unexpected reply");
    const { rss, heapUsed, heapTotal, external, arrayBuffers } = reply;
    return { rss, heapUsed, heapTotal, external, arrayBuffers };
  }

  /** Milliseconds each POST /slack/events spent inside the bot since the last call. */
  async serverTimes(): Promise<number[]> {
    const reply = await this.ask("server-times");
    if (reply.type !== "server-times") throw new Error("bench: unexpected reply");
    return reply.times;
  }

  async cpu(): Promise<CpuReading> {
    const reply = await this.ask("cpu");
    if (reply.type !== "cpu") throw new Error("bench: unexpected reply");
    return { mainMs: reply.mainMs, processMs: reply.processMs };
  }

  async logs(): Promise<LogTally> {
    const reply = await this.ask("logs");
    if (reply.type !== "logs") throw new Error("bench: unexpected reply");
    return reply.tally;
  }

  async stop(): Promise<void> {
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 15_000);
    await this.ask("stop").catch(() => undefined);
    await this.exited;
    clearTimeout(timer);
  }
}

// ---- stand-ins + bot ------------------------------------------------------------------------

export interface Rig {
  slack: FakeSlack;
  spamExperts: FakeSpamExperts;
  dns: DnsTestServer;
  watch: Watch;
  bot: BotChild;
  /** POSTs a signed request to the bot's /slack/events. */
  send(prepared: SignedRequest): Promise<Sent>;
  close(): Promise<void>;
}

export interface RigOptions {
  /** Variables for the bot on top of (or instead of) the rig's own. */
  env?: Record<string, string>;
  spamExperts?: Partial<FakeSpamExpertsOptions>;
  /** The bot in a session (Linux: a scheduling autogroup) of its own; see BotChild.start. */
  ownSession?: boolean;
}

export async function startRig(options: RigOptions = {}): Promise<Rig> {
  const slack = await startFakeSlack();
  const spamExperts = await startFakeSpamExperts({
    username: SE_USER,
    password: SE_PASSWORD,
    ...options.spamExperts,
  });
  const dns = await startDnsServer();
  const dataDir = await mkdtemp(join(tmpdir(), "dkim-bench-"));
  const watch = new Watch(slack, spamExperts);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    // The bot child reads it to measure another build (before/after comparisons).
    ...(process.env.BENCH_DIST === undefined ? {} : { BENCH_DIST: process.env.BENCH_DIST }),
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    PORT: "0",
    SLACK_API_URL: slack.apiUrl,
    SPAMEXPERTS_URL: spamExperts.url,
    SPAMEXPERTS_USERNAME: SE_USER,
    SPAMEXPERTS_PASSWORD: SE_PASSWORD,
    SPAMEXPERTS_TIMEOUT_MS: "10000",
    DKIM_APPROVERS: APPROVER,
    DKIM_DNS_SERVERS: dns.address,
    // Production defaults otherwise: DKIM_REQUIRE_DNS=true, DKIM_DEFAULT_BITS=2048, LOG_LEVEL
    // info. The watcher's own polling is left out of the figures.
    DKIM_DNS_POLL_SECONDS: "3600",
    DATA_DIR: dataDir,
    // Given, so the bot does not write (and warn about) a new key file in DATA_DIR.
    DKIM_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
    ...options.env,
  };
  if (process.env.UV_THREADPOOL_SIZE !== undefined) {
    env.UV_THREADPOOL_SIZE = process.env.UV_THREADPOOL_SIZE;
  }
  let bot: BotChild;
  try {
    bot = await BotChild.start(env, options.ownSession === true);
  } catch (error) {
    void watch.stop();
    await Promise.all([slack.close(), spamExperts.close(), dns.close()]);
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  const agent = createSenderAgent();
  return {
    slack,
    spamExperts,
    dns,
    watch,
    bot,
    send: (prepared) => send(bot.url, prepared, agent),
    async close() {
      agent.destroy();
      await bot.stop();
      void watch.stop();
      await Promise.all([slack.close(), spamExperts.close(), dns.close()]);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * The channel a domain's request is made in: the bot paces its posts and edits per channel
 * (about one a second, as Slack asks), so 200 requests in one channel would measure Slack's
 * pace, not the bot. Spread over many channels, as a fleet's would be.
 */
export const SETUP_CHANNELS = 64;

export function channelOf(domain: string): string {
  let hash = 0;
  for (const char of domain) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return `CBENCH${(hash % SETUP_CHANNELS).toString().padStart(2, "0")}`;
}

export function setupCommand(rig: Rig, domain: string, extra = "") {
  return signedCommand(SIGNING_SECRET, {
    text: `setup ${domain} selector=${SELECTOR}${extra}`,
    userId: REQUESTER,
    channelId: channelOf(domain),
    responseUrl: rig.slack.responseUrl(),
  });
}

/** Publishes the request's record on the DNS server, as a DNS admin would. */
export function publishRecord(rig: Rig, domain: string): void {
  const message = rig.slack.message(channelOf(domain), rig.watch.tsOf(domain));
  if (message === undefined) throw new Error(`bench: request message of ${domain} not stored`);
  rig.dns.setTxt(`${SELECTOR}._domainkey.${domain}`, splitIntoStrings(recordValueShown(message)));
}

export function approveClick(rig: Rig, domain: string) {
  const ts = rig.watch.tsOf(domain);
  const message = rig.slack.message(channelOf(domain), ts);
  if (message === undefined) throw new Error(`bench: request message of ${domain} not stored`);
  return signedClick(SIGNING_SECRET, {
    actionId: ACTION_IDS.approve,
    value: buttonValue(message, ACTION_IDS.approve),
    userId: APPROVER,
    channelId: channelOf(domain),
    messageTs: ts,
    responseUrl: rig.slack.responseUrl(),
  });
}

export function expectOk(status: number, what: string): void {
  if (status !== 200) throw new Error(`bench: ${what} answered HTTP ${status}`);
}
