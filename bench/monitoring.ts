/**
 * Monitoring at fleet size (issue 16): the real bot (bench/rig.ts) with 1,000 and then 10,000
 * active keys in its SQLite store, their records served by a DNS server in a process of its
 * own (bench/dns-child.ts, 2 ms per answer), monitoring cycles coming every two seconds or so
 * (DKIM_MONITOR_HOURS as a decimal). Per cycle: its time (first DNS query to the bot's
 * "Monitoring cycle done." line), cost per key, the DNS queries in flight at the server (peak),
 * the bot's event-loop delay and main-thread CPU, the ack of 50 /dkim status sent meanwhile,
 * RSS after GC across the cycles; and one cycle against a resolver that answers nothing.
 */
import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { generateKeyPair } from "../src/dkim/keys.js";
import { splitIntoStrings } from "../src/dkim/record.js";
import { VERDICT_BATCH } from "../src/requests/dns-checks.js";
import { DNS_ROUND } from "../src/requests/dns-round.js";
import type { DkimRequest } from "../src/requests/model.js";
import { READ_PAGE } from "../src/requests/paged-reads.js";
import { parseEncryptionKey, seal } from "../src/requests/sealing.js";
import { DATABASE_FILE, openStore } from "../src/requests/store/open-store.js";
import { toRow } from "../src/requests/store/rows.js";
import { sampleRequest, withKey } from "../test/helpers/sample-request.js";
import type { BenchToDns, DnsStats, DnsToBench } from "./dns-child.js";
import type { LogTally, MemoryReading } from "./protocol.js";
import { CHANNEL, REPO_ROOT, type Rig, SIGNING_SECRET, startRig } from "./rig.js";
import type { BenchScenario, BenchSection, Verdict } from "./section.js";
import { signedCommand } from "./sender.js";
import { fixed, max, mb, mbSigned, median, ms, percentile, slope } from "./stats.js";

const DNS_CHILD = fileURLToPath(new URL("./dns-child.ts", import.meta.url));
const DONE_LINE = "Monitoring cycle done.";
const SELECTOR = "m1";
const DNS_DELAY_MS = 2;
/** About two seconds between cycles (the scheduler adds +-20 %). */
const MONITOR_HOURS = 2 / 3600;

interface Plan {
  small: number;
  large: number;
  /** Cycles of the small fleet; the first is a warm-up. */
  smallCycles: number;
  /** Cycles of the large fleet: one warm-up, then the ones RSS is read across. */
  largeCycles: number;
  commands: number;
  /** Cycles of the large fleet during which the commands are sent (and, in the gap before, alone). */
  ackCycles: number[];
  /** Keys whose record goes away (and comes back) every cycle: verdict changes told. */
  flips: number;
  /** Pending requests, records not published yet, at the DNS watch's first round after start. */
  pending: number;
}

const FULL: Plan = {
  small: 1000,
  large: 10_000,
  smallCycles: 4,
  largeCycles: 11,
  commands: 50,
  ackCycles: [2, 5, 8],
  flips: 10,
  pending: 5000,
};
const SMOKE: Plan = {
  small: 100,
  large: 200,
  smallCycles: 2,
  largeCycles: 3,
  commands: 5,
  ackCycles: [2],
  flips: 2,
  pending: 100,
};

// ---- the DNS server process -------------------------------------------------------------------

class DnsChild {
  private nextId = 1;
  private readonly waiting = new Map<number, (stats: DnsStats) => void>();
  private firstQueries: Array<() => void> = [];
  private pendingFirst = 0;
  private readonly exited: Promise<unknown>;

  private constructor(
    private readonly child: ChildProcess,
    readonly address: string,
  ) {
    this.exited = new Promise((resolve) => child.once("exit", resolve));
    child.on("message", (message: DnsToBench) => {
      if (message.type === "first-query") {
        const wake = this.firstQueries.shift();
        if (wake === undefined) this.pendingFirst += 1;
        else wake();
      } else if (message.type === "stats") {
        const { type: _type, id, ...stats } = message;
        this.waiting.get(id)?.(stats);
        this.waiting.delete(id);
      }
    });
  }

  static async start(): Promise<DnsChild> {
    const child = fork(DNS_CHILD, [], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? "", BENCH_DNS_DELAY_MS: String(DNS_DELAY_MS) },
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error("bench: the DNS child did not start")),
        30_000,
      );
      child.on("message", (message: DnsToBench) => {
        if (message.type === "ready") {
          clearTimeout(timer);
          resolve(message.port);
        }
      });
      child.once("exit", (code) => reject(new Error(`bench: the DNS child exited with ${code}`)));
    });
    return new DnsChild(child, `127.0.0.1:${port}`);
  }

  tell(message: BenchToDns): void {
    this.child.send(message);
  }

  /** The first query after the last stats() (the start of a cycle). */
  firstQuery(): Promise<void> {
    if (this.pendingFirst > 0) {
      this.pendingFirst -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.firstQueries.push(resolve));
  }

  /** What the server saw since the last call; starts counting anew. */
  stats(): Promise<DnsStats> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.tell({ type: "stats", id });
    });
  }

  async close(): Promise<void> {
    this.child.disconnect();
    await this.exited;
  }
}

// ---- the fleet in the store -------------------------------------------------------------------

interface Fleet {
  dataDir: string;
  encryptionKey: string;
  domains: string[];
  /** Record strings of the live key, per record name. */
  live: string[];
  recordName: (index: number) => string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** A seeded key's channel (one per 10 keys) and card. */
const fleetChannelOf = (i: number): string => `CMON${Math.floor(i / 10)}`;
const fleetTsOf = (i: number): string => `1760000000.${String(i).padStart(6, "0")}`;

/**
 * `count` active keys (one per domain, no sealed key), written as the store writes a request
 * (rows.ts's toRow), after the store's own migrations; last verdict "live" a day ago. Keys
 * share one key pair (the record check compares the published key with the stored one, which
 * costs the same for any key). Channel: one per 10 keys.
 */
async function seedFleet(
  count: number,
  publicKeyBase64: string,
  fingerprint: string,
): Promise<Fleet> {
  const dataDir = await mkdtemp(join(tmpdir(), "dkim-bench-monitoring-"));
  const encryptionKey = randomBytes(32).toString("base64");
  const store = await openStore({
    dataDir,
    encryptionKey: parseEncryptionKey(encryptionKey),
    owner: "bench-seed",
  });
  await store.close();
  const recordValue = `v=DKIM1; k=rsa; p=${publicKeyBase64}`;
  const now = Date.now();
  const at = (msAgo: number) => new Date(now - msAgo).toISOString();
  const domains = Array.from({ length: count }, (_, i) => `m${i}.fleet.example`);
  insertRequests(dataDir, count, (i) => toRow(requestOf(i)));

  function requestOf(i: number): DkimRequest {
    const domain = domains[i] ?? "";
    return sampleRequest({
      id: `mon${i.toString(36).padStart(6, "0")}`,
      domain,
      selector: SELECTOR,
      bits: 1024,
      usernames: [domain],
      requesterId: "UREQUESTER",
      channelId: fleetChannelOf(i),
      messageTs: fleetTsOf(i),
      ...withKey({ publicKeyBase64, fingerprint }),
      state: "active",
      progress: { certificateInstalled: true, enabledUsernames: [domain] },
      lastDnsCheck: {
        status: "live",
        problemCode: null,
        summary: "The record is published and matches the key.",
        checkedAt: at(DAY_MS),
      },
      decidedBy: "UAPPROVER1",
      decidedAt: at(30 * DAY_MS),
      activatedAt: at(30 * DAY_MS),
      createdAt: at(31 * DAY_MS - i * 1000),
      updatedAt: at(DAY_MS),
    });
  }

  return {
    dataDir,
    encryptionKey,
    domains,
    live: splitIntoStrings(recordValue),
    recordName: (index) => `${SELECTOR}._domainkey.${domains[index]}`,
  };
}

// ---- one fleet, several cycles ----------------------------------------------------------------

interface Cycle {
  keys: number;
  /** First DNS query at the server to the bot's "done" line, ms. */
  spanMs: number;
  /** The bot's own figure, when its log says (durationMs). */
  botMs: number | undefined;
  checked: number;
  problems: number;
  unanswered: number;
  skipped: number;
  queries: number;
  peakInFlight: number;
  peakKeys: number;
  loopP99: number;
  loopMax: number;
  /** Main-thread CPU of the bot over the cycle, ms. */
  cpuMs: number;
  memory: MemoryReading;
  /** Acks of the commands sent during this cycle (client side), ms; empty for other cycles. */
  acks: number[];
  /** The commands' acks all came before the cycle ended. */
  acksInside: boolean;
  /** The same commands sent in the gap before this cycle, no cycle running; empty for others. */
  baseline: number[];
  /** The baseline burst was over before this cycle's first DNS query. */
  baselineInGap: boolean;
  slackCalls: number;
}

interface FleetRun {
  keys: number;
  cycles: Cycle[];
  dead: Cycle | undefined;
  logs: LogTally;
  /** Told verdict changes (monitor-problem / monitor-recovered posts) seen at fake Slack. */
  slackCalls: number;
}

function parseDone(line: string): Record<string, unknown> {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return {};
  }
}

async function runFleet(options: {
  keys: number;
  cycles: number;
  plan: Plan;
  ackCycles: number[];
  deadCycle: boolean;
  publicKeyBase64: string;
  fingerprint: string;
}): Promise<FleetRun> {
  const { keys, plan } = options;
  const fleet = await seedFleet(keys, options.publicKeyBase64, options.fingerprint);
  const dns = await DnsChild.start();
  // Most records live and matching; 0.5 % missing, 0.5 % another key: told in the first cycle.
  const other = splitIntoStrings("v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDx");
  const records: Array<[string, string[] | null]> = [];
  for (let i = 0; i < keys; i++) {
    const name = fleet.recordName(i);
    if (i % 200 === 199) continue; // missing
    records.push([name, i % 200 === 101 ? other : fleet.live]);
  }
  for (let at = 0; at < records.length; at += 2000) {
    dns.tell({ type: "set", records: records.slice(at, at + 2000) });
  }
  // The keys that flip (away, back, away…) each cycle: one per channel, spread over the fleet.
  const step = Math.floor(keys / plan.flips);
  const flipping = Array.from({ length: plan.flips }, (_, j) => j * step + 3);

  let rig: Rig | undefined;
  const cycles: Cycle[] = [];
  let dead: Cycle | undefined;
  const doneLines: string[] = [];
  const doneWaiters: Array<(line: string) => void> = [];
  try {
    rig = await startRig({
      env: {
        DATA_DIR: fleet.dataDir,
        DKIM_ENCRYPTION_KEY: fleet.encryptionKey,
        DKIM_DNS_SERVERS: dns.address,
        DKIM_MONITOR_HOURS: String(MONITOR_HOURS),
        BENCH_FORWARD_LOGS: DONE_LINE,
      },
    });
    // The keys' cards, as the bot posted them once: alerts go into their threads.
    for (let i = 0; i < keys; i++) rig.slack.seedMessage(fleetChannelOf(i), fleetTsOf(i), "card");
    const bot = rig.bot;
    bot.onLog((line) => {
      const wake = doneWaiters.shift();
      if (wake === undefined) doneLines.push(line);
      else wake(line);
    });
    const nextDone = (): Promise<string> => {
      const line = doneLines.shift();
      if (line !== undefined) return Promise.resolve(line);
      return new Promise((resolve) => doneWaiters.push(resolve));
    };
    const withTimeout = <T>(promise: Promise<T>, what: string, timeoutMs = 300_000) =>
      Promise.race([
        promise,
        new Promise<never>((_, reject) =>
          setTimeout(
            () => reject(new Error(`bench: no ${what} within ${timeoutMs} ms`)),
            timeoutMs,
          ).unref(),
        ),
      ]);

    /** `plan.commands` concurrent /dkim status (signed before the clock starts): their acks, ms. */
    const burst = (
      current: Rig,
      textOf = (i: number) => `status ${fleet.domains[(i * 37) % keys]}`,
    ): Promise<number[]> => {
      const commands = Array.from({ length: plan.commands }, (_, i) =>
        signedCommand(SIGNING_SECRET, {
          text: textOf(i),
          userId: "UREQUESTER",
          channelId: CHANNEL,
          responseUrl: current.slack.responseUrl(),
        }),
      );
      return Promise.all(
        commands.map(async (command) => {
          const sent = await current.send(command);
          if (sent.status !== 200) throw new Error(`bench: /dkim answered ${sent.status}`);
          return sent.ms;
        }),
      );
    };
    const total = options.cycles + (options.deadCycle ? 1 : 0);
    for (let index = 0; index < total; index++) {
      const isDead = options.deadCycle && index === options.cycles;
      // The commands alone, in the gap before a cycle they are then sent during.
      let baseline: number[] = [];
      let baselineDoneAt = 0;
      if (options.ackCycles.includes(index)) {
        // Opens the connections first (Slack's keep them alive too), so neither measured burst
        // pays for them: the one during the cycle finds them open.
        await burst(rig, () => "help");
        baseline = await burst(rig);
        baselineDoneAt = performance.timeOrigin + performance.now();
      }
      await withTimeout(dns.firstQuery(), "DNS query (cycle start)");
      const started = performance.timeOrigin + performance.now();
      const cpuBefore = await bot.cpu();
      await bot.resetLoop();
      const callsBefore = rig.slack.calls().length;
      const acks = options.ackCycles.includes(index) ? burst(rig) : undefined;
      let acksDoneAt = 0;
      const ackTimes = acks?.then((times) => {
        acksDoneAt = performance.timeOrigin + performance.now();
        return times;
      });
      const line = await withTimeout(nextDone(), `"${DONE_LINE}"`);
      const ended = performance.timeOrigin + performance.now();
      const loop = await bot.readLoop();
      const cpuAfter = await bot.cpu();
      const dnsStats = await dns.stats();
      const times = (await ackTimes) ?? [];
      const memory = await bot.memory();
      const done = parseDone(line);
      const cycle: Cycle = {
        keys,
        spanMs: ended - Math.min(started, dnsStats.firstAt || started),
        botMs: typeof done.durationMs === "number" ? done.durationMs : undefined,
        checked: Number(done.checked ?? 0),
        problems: Number(done.problems ?? 0),
        unanswered: Number(done.unanswered ?? 0),
        skipped: Number(done.skipped ?? 0),
        queries: dnsStats.received,
        peakInFlight: dnsStats.peakInFlight,
        peakKeys: dnsStats.peakKeys,
        loopP99: loop.p99,
        loopMax: loop.max,
        cpuMs: cpuAfter.mainMs - cpuBefore.mainMs,
        memory,
        acks: times,
        acksInside: acks === undefined || (acksDoneAt > 0 && acksDoneAt <= ended),
        baseline,
        baselineInGap: baselineDoneAt === 0 || baselineDoneAt < (dnsStats.firstAt || started),
        slackCalls: rig.slack.calls().length - callsBefore,
      };
      if (isDead) dead = cycle;
      else cycles.push(cycle);
      // Before the next cycle: the flipping keys' records go away (or come back).
      const away = index % 2 === 0;
      dns.tell({
        type: "set",
        records: flipping.map((i) => [fleet.recordName(i), away ? null : fleet.live]),
      });
      if (options.deadCycle && index === options.cycles - 1)
        dns.tell({ type: "mode", mode: "silent" });
    }
    const logs = await bot.logs();
    const slackCalls = rig.slack
      .calls()
      .filter((call) => call.method === "chat.postMessage").length;
    return { keys, cycles, dead, logs, slackCalls };
  } finally {
    await rig?.close();
    await dns.close();
    await rm(fleet.dataDir, { recursive: true, force: true });
  }
}

// ---- the DNS watch's first round over many pending requests --------------------------------

interface WatchRound {
  pending: number;
  /** First to last DNS query of the round, ms. */
  roundMs: number;
  queries: number;
  peakKeys: number;
  /** Web API calls fake Slack saw from the start to 2 s after the round (but auth.test). */
  slackCalls: number;
  logs: LogTally;
}

/**
 * `count` pending requests (sealed keys, as the store keeps them; no verdict yet), records not
 * published: the bot starts and the DNS watch's first round checks them all. Nothing is news
 * (a record not yet published is what everyone expects), so Slack should hear nothing.
 */
async function runPendingWatch(count: number): Promise<WatchRound> {
  const pair = await generateKeyPair(1024);
  const dataDir = await mkdtemp(join(tmpdir(), "dkim-bench-watch-"));
  const encryptionKey = randomBytes(32).toString("base64");
  const key = parseEncryptionKey(encryptionKey);
  const store = await openStore({ dataDir, encryptionKey: key, owner: "bench-seed" });
  await store.close();
  const now = Date.now();
  insertRequests(dataDir, count, (i) => {
    const id = `pen${i.toString(36).padStart(6, "0")}`;
    const domain = `p${i}.pending.example`;
    const at = new Date(now - 3_600_000 + i).toISOString();
    const request = sampleRequest({
      id,
      domain,
      selector: SELECTOR,
      bits: 1024,
      usernames: [domain],
      requesterId: "UREQUESTER",
      channelId: `CPEN${Math.floor(i / 10)}`,
      messageTs: `1760000000.${String(i).padStart(6, "0")}`,
      ...withKey(pair),
      createdAt: at,
      updatedAt: at,
    });
    return { ...toRow(request), sealed_key: seal(key, pair.privateKeyPem, id) };
  });
  const dns = await DnsChild.start();
  let rig: Rig | undefined;
  try {
    rig = await startRig({
      env: {
        DATA_DIR: dataDir,
        DKIM_ENCRYPTION_KEY: encryptionKey,
        DKIM_DNS_SERVERS: dns.address,
      },
    });
    await dns.firstQuery();
    // The round is over once a second passes without a query.
    let firstAt = 0;
    let lastAt = 0;
    let queries = 0;
    let peakKeys = 0;
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const stats = await dns.stats();
      if (stats.received === 0 && queries > 0) break;
      if (firstAt === 0) firstAt = stats.firstAt;
      if (stats.lastAt > 0) lastAt = stats.lastAt;
      queries += stats.received;
      peakKeys = Math.max(peakKeys, stats.peakKeys);
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
    return {
      pending: count,
      roundMs: lastAt - firstAt,
      queries,
      peakKeys,
      // auth.test at start is the bot learning who it is, not a word to anyone.
      slackCalls: rig.slack.calls().filter((call) => call.method !== "auth.test").length,
      logs: await rig.bot.logs(),
    };
  } finally {
    await rig?.close();
    await dns.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

// ---- the section ------------------------------------------------------------------------------

/**
 * The same bench on main's build before the fix (f12b5de: the whole fleet read in one query,
 * one transaction per verdict), full size, on this machine (2 cores shared with other
 * benchmarks), 2026-12-07. Printed beside this run's figures.
 */
const BEFORE_FIX = {
  build: "main f12b5de",
  cpuPerKeyLarge: 0.311,
  cpuPerKeySmall: 0.4,
  cycleMs: 5376,
  cycleCpuMs: 3115,
  loopP99: 51.1,
  loopMax: 571,
  ackP99: 115,
  baselineP99: 270,
  rssSlopeMb: -1.46,
  watchSlackCalls: 0,
  load: "6.2 at the start, 3.9 at the end",
};

function steady(cycles: Cycle[]): Cycle[] {
  return cycles.length > 1 ? cycles.slice(1) : cycles;
}

/** Wall time per key (the span: the same measure for every build). */
function perKey(cycle: Cycle): number {
  return cycle.spanMs / cycle.keys;
}

/** The bot's main-thread CPU per key: what a cycle costs the event loop, whatever the load. */
function cpuPerKey(cycle: Cycle): number {
  return cycle.cpuMs / cycle.keys;
}

async function run({ smoke, number }: { smoke: boolean; number: number }): Promise<BenchSection> {
  const plan = smoke ? SMOKE : FULL;
  const loadBefore = loadavg()[0] ?? 0;
  const pair = await generateKeyPair(1024);
  const common = { plan, publicKeyBase64: pair.publicKeyBase64, fingerprint: pair.fingerprint };
  const small = await runFleet({
    ...common,
    keys: plan.small,
    cycles: plan.smallCycles,
    ackCycles: [],
    deadCycle: true,
  });
  const large = await runFleet({
    ...common,
    keys: plan.large,
    cycles: plan.largeCycles,
    ackCycles: plan.ackCycles,
    deadCycle: false,
  });

  const watch = await runPendingWatch(plan.pending);
  const loadAfter = loadavg()[0] ?? 0;

  const smallSteady = steady(small.cycles);
  const largeSteady = steady(large.cycles);
  const smallPerKey = median(smallSteady.map(perKey));
  const largePerKey = median(largeSteady.map(perKey));
  const smallCpuPerKey = median(smallSteady.map(cpuPerKey));
  const largeCpuPerKey = median(largeSteady.map(cpuPerKey));
  const cpuRatio = largeCpuPerKey / smallCpuPerKey;
  const wallRatio = largePerKey / smallPerKey;
  const largeCycle = median(largeSteady.map((c) => c.spanMs));
  const largeCpu = median(largeSteady.map((c) => c.cpuMs));
  const all = [...small.cycles, ...large.cycles];
  const peakKeys = max(all.map((c) => c.peakKeys));
  const peakQueries = max(all.map((c) => c.peakInFlight));
  const loopP99 = max(largeSteady.map((c) => c.loopP99));
  const loopMax = max(largeSteady.map((c) => c.loopMax));
  const ackCycles = plan.ackCycles.flatMap((index) => large.cycles[index] ?? []);
  const acks = ackCycles.flatMap((c) => c.acks);
  const ackP99 = percentile(acks, 99);
  const acksInside = ackCycles.every((c) => c.acksInside);
  const baseline = ackCycles.flatMap((c) => c.baseline);
  const baselineP99 = percentile(baseline, 99);
  const baselineInGap = ackCycles.every((c) => c.baselineInGap);
  const ackRatio = ackP99 / baselineP99;
  const rssPoints = largeSteady.map((c, i) => [i + 1, c.memory.rss] as const);
  const rssSlope = slope(rssPoints);
  const heapSlope = slope(largeSteady.map((c, i) => [i + 1, c.memory.heapUsed] as const));
  const dead = small.dead;
  const periodMs = 24 * 3_600_000;

  const verdicts: Verdict[] = [
    {
      name: `monitoring: one cycle over ${plan.large} keys (median span; main-thread CPU)`,
      figure: `${ms(largeCycle)}; CPU ${ms(largeCpu)}`,
      target: "within DKIM_MONITOR_HOURS (24 h default), on one core",
      met: largeCycle < periodMs && largeCpu <= largeCycle * 1.05,
    },
    {
      name: `monitoring: cost per key (main-thread CPU), ${plan.large} vs ${plan.small} keys`,
      figure: `x ${fixed(cpuRatio)} (${fixed(largeCpuPerKey, 3)} vs ${fixed(smallCpuPerKey, 3)} ms/key; wall x ${fixed(wallRatio)})`,
      target: "<= 1.25",
      met: cpuRatio <= 1.25,
    },
    {
      name: "monitoring: DNS checks in flight (peak at the server: keys with a query held)",
      figure: `${peakKeys} (queries ${peakQueries})`,
      target: `<= ${DNS_ROUND.concurrency} (the round's concurrency)`,
      met: peakKeys <= DNS_ROUND.concurrency,
    },
    {
      name: `monitoring: event-loop delay p99 during a ${plan.large}-key cycle (worst cycle)`,
      figure: `${ms(loopP99)} (max ${ms(loopMax)})`,
      target: "<= 50 ms",
      met: loopP99 <= 50,
    },
    {
      name: `monitoring: ack p99 of ${plan.commands} concurrent /dkim status during a cycle (${ackCycles.length} bursts)`,
      figure: `${ms(ackP99)}${acksInside ? "" : " (some acks after the cycle ended)"}`,
      target: "<= 100 ms",
      met: ackP99 <= 100,
    },
    {
      name: "monitoring: ack p99 during a cycle vs the same bursts between cycles",
      figure: `x ${fixed(ackRatio)} (${ms(ackP99)} vs ${ms(baselineP99)})`,
      target: "<= 1.5",
      met: ackRatio <= 1.5,
    },
    {
      name: `monitoring: RSS after GC across ${largeSteady.length} cycles of ${plan.large} keys`,
      figure: `${mbSigned(rssSlope)}/cycle`,
      target: "<= +1 MB/cycle",
      met: rssSlope <= 1024 * 1024,
    },
    {
      name: `DNS watch: Slack calls in the first round over ${watch.pending} pending requests (records not yet published)`,
      figure: `${watch.slackCalls} (round ${ms(watch.roundMs)}, ${watch.queries} queries, checks in flight <= ${watch.peakKeys})`,
      target: "0 (nothing is news)",
      met: watch.slackCalls === 0,
    },
    {
      name: `monitoring: a cycle with a dead resolver (${plan.small} keys)`,
      figure:
        dead === undefined ? "n/a" : `${ms(dead.spanMs)}, ${dead.skipped} keys left for the next`,
      target: "ends after one give-up (<= 2 x 15 s lookup timeout)",
      met: dead !== undefined && dead.spanMs <= 30_000 && dead.skipped > 0,
    },
  ];

  const row = (label: string, c: Cycle) =>
    `| ${label} | ${c.keys} | ${ms(c.spanMs)} | ${c.botMs === undefined ? "n/a" : ms(c.botMs)} | ${fixed(perKey(c), 3)} | ${ms(c.cpuMs)} | ${fixed(cpuPerKey(c), 3)} | ${c.checked} | ${c.problems} | ${c.queries} | ${c.peakKeys} / ${c.peakInFlight} | ${ms(c.loopP99)} | ${ms(c.loopMax)} | ${mb(c.memory.rss)} | ${mb(c.memory.heapUsed)} | ${c.slackCalls} |`;
  const markdown = [
    `## ${number}. Monitoring ${plan.small} and ${plan.large} active keys`,
    "",
    `The real bot (its own process) with ${plan.small}, then ${plan.large} active keys seeded in its SQLite store (rows as the store writes them, last verdict live),`,
    `their records on a DNS server in a process of its own (dns-packet over UDP, each answer after ${DNS_DELAY_MS} ms); 0.5 % of records missing and 0.5 % another key`,
    `(told in the first cycle), and ${plan.flips} keys whose record goes away and comes back every cycle (told each time, one key per channel).`,
    `DKIM_MONITOR_HOURS=${fixed(MONITOR_HOURS, 6)} (a cycle about two seconds after the last). A cycle runs from the first DNS query at the server to the bot's`,
    `"${DONE_LINE}" line ("span"; the bot's own duration where its log says it). In flight, at the server: keys with a query received and not yet answered (a check asks TXT and CNAME, and for a missing record the names with the zone typed twice), and those queries.`,
    `Loop delay and CPU: the bot's event loop over the cycle. Ack: ${plan.commands} concurrent signed /dkim status during some cycles of the large fleet, and alone in the gap before them (after a burst of /dkim help that opens the connections, so both measured bursts find them open).`,
    "RSS and heap after forced GC at the end of each cycle. Dead resolver: the server stops answering before the small fleet's last cycle.",
    `Machine: ${availableParallelism()} cores shared with other benchmarks; load average (1 min) ${fixed(loadBefore, 1)} at the start, ${fixed(loadAfter, 1)} at the end: wall times and latencies are inflated by other processes, CPU times much less.`,
    `DNS watch: ${plan.pending} pending requests seeded (sealed keys, no verdict yet), records not published; the bot starts, its watch's first round checks them all; Slack calls counted until 2 s after the last query.`,
    "",
    "| cycle | keys | span | bot's own | wall ms/key | main CPU | CPU ms/key | checked | problems | DNS queries | peak in flight (keys / queries) | loop p99 | loop max | RSS | heap | Slack calls |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...small.cycles.map((c, i) => row(`small ${i + 1}`, c)),
    ...(dead === undefined ? [] : [row("small, dead resolver", dead)]),
    ...large.cycles.map((c, i) => row(`large ${i + 1}`, c)),
    "",
    `Cost per key (median of the cycles after the first): main-thread CPU ${fixed(smallCpuPerKey, 3)} ms at ${plan.small}, ${fixed(largeCpuPerKey, 3)} ms at ${plan.large} (x ${fixed(cpuRatio)}); wall ${fixed(smallPerKey, 3)} vs ${fixed(largePerKey, 3)} ms (x ${fixed(wallRatio)}).`,
    `Acks of ${plan.commands} concurrent /dkim status, ${ackCycles.length} bursts during cycles ${plan.ackCycles.map((i) => i + 1).join(", ")} of the large fleet: p50 ${ms(median(acks))}, p99 ${ms(ackP99)}, max ${ms(max(acks))}${acksInside ? ", all inside the cycle" : " (not all inside the cycle)"};`,
    `the same bursts alone in the gap before each of those cycles: p50 ${ms(median(baseline))}, p99 ${ms(baselineP99)}, max ${ms(max(baseline))}${baselineInGap ? "" : " (a burst ran into the next cycle)"}.`,
    "With 3 bursts of 50 the p99 is about the slowest ack of 150: on this shared machine it swung 2-3x between runs of one build (during/between: 111/219, 122/235 and 299/134 ms after the fix; 115/270 and 322/307 ms before), so the two ack verdicts mostly measure the other processes; the p50s are steadier.",
    `RSS slope ${mbSigned(rssSlope)}/cycle, heap ${mbSigned(heapSlope)}/cycle over ${largeSteady.length} cycles of ${plan.large} keys.`,
    "",
    // The before figures are of the full size: beside a smoke run they would compare nothing.
    ...(smoke
      ? []
      : [
          `Before and after the fix (${BEFORE_FIX.build}: the whole fleet read in one query at the start of a cycle and again for the key-age reminders, one transaction per verdict; after: pages of ${READ_PAGE} keys, verdicts that tell nothing stored ${VERDICT_BATCH} to a transaction, only old keys read for reminders). Before measured with this bench at full size, load ${BEFORE_FIX.load}:`,
          "",
          `| figure (${FULL.large} keys unless said) | before | after (this run) |`,
          "|---|---:|---:|",
          `| main-thread CPU per key, ${FULL.large} keys | ${fixed(BEFORE_FIX.cpuPerKeyLarge, 3)} ms | ${fixed(largeCpuPerKey, 3)} ms |`,
          `| main-thread CPU per key, ${FULL.small} keys | ${fixed(BEFORE_FIX.cpuPerKeySmall, 3)} ms | ${fixed(smallCpuPerKey, 3)} ms |`,
          `| cycle span (median) / its main-thread CPU | ${ms(BEFORE_FIX.cycleMs)} / ${ms(BEFORE_FIX.cycleCpuMs)} | ${ms(largeCycle)} / ${ms(largeCpu)} |`,
          `| event-loop delay p99, worst cycle / max over the cycles | ${ms(BEFORE_FIX.loopP99)} / ${ms(BEFORE_FIX.loopMax)} | ${ms(loopP99)} / ${ms(loopMax)} |`,
          `| ack p99 during a cycle / the same bursts between cycles | ${ms(BEFORE_FIX.ackP99)} / ${ms(BEFORE_FIX.baselineP99)} | ${ms(ackP99)} / ${ms(baselineP99)} |`,
          `| RSS slope over 10 cycles | ${fixed(BEFORE_FIX.rssSlopeMb)} MB/cycle | ${mbSigned(rssSlope)}/cycle |`,
          `| DNS watch, first round over ${FULL.pending} pending: Slack calls | ${BEFORE_FIX.watchSlackCalls} | ${watch.slackCalls} |`,
          "",
        ]),
    "| target | figure | goal | verdict |",
    "|---|---|---|---|",
    ...verdicts.map(
      (v) =>
        `| ${v.name} | ${v.figure} | ${v.target} | ${v.met === undefined ? "info" : v.met ? "MET" : "MISSED"} |`,
    ),
  ];
  return { verdicts, markdown, logs: [small.logs, large.logs, watch.logs] };
}

export const monitoringScenario: BenchScenario = {
  id: "monitoring",
  title: "monitoring 1,000 and 10,000 active keys",
  run,
};

/**
 * Writes `count` request rows straight into the SQLite store in DATA_DIR, in one transaction
 * (the store's own writes would take minutes at fleet sizes), and moves the requests'
 * generation past them, as the store's writes do.
 */
function insertRequests(
  dataDir: string,
  count: number,
  rowOf: (i: number) => Record<string, unknown>,
): void {
  const db = new Database(join(dataDir, DATABASE_FILE));
  try {
    const columns = [...Object.keys(rowOf(0)), "created_seq"];
    const insert = db.prepare(
      `insert into requests (${columns.join(", ")}) values (${columns.map(() => "?").join(", ")})`,
    );
    db.transaction(() => {
      for (let i = 0; i < count; i++) insert.run(...Object.values(rowOf(i)), i + 1);
      db.prepare(
        "insert into meta (name, value) values ('requests_generation', ?) on conflict (name) do update set value = excluded.value",
      ).run(String(count));
    })();
  } finally {
    db.close();
  }
}
