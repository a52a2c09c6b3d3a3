/**
 * 1. Key generation through our generateKeyPair against `openssl genrsa`, one key at a time,
 *    interleaved, in this process (the bench's own event loop is otherwise idle).
 * 2. Event-loop delay while 20 key pairs are generated at once.
 */
import { spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { generateKeyPair, type KeyBits } from "../src/dkim/keys.js";
import { mapLimit, median, sum } from "./stats.js";

export interface KeygenSizeResult {
  bits: KeyBits;
  /** Milliseconds per key, in the order measured. */
  ours: number[];
  openssl: number[];
  oursKeysPerSecond: number;
  opensslKeysPerSecond: number;
  oursMedianMs: number;
  opensslMedianMs: number;
  /** ours keys/s over openssl keys/s (total time over all samples): the target figure. */
  throughputRatio: number;
  /** openssl median over ours median: the same ratio, robust to a few slow primes. */
  medianRatio: number;
}

export interface KeygenResult {
  sizes: KeygenSizeResult[];
  /** Median time to spawn `openssl version` and see it exit: the per-key spawn cost in openssl's figures. */
  spawnMedianMs: number;
}

export interface KeygenPlan {
  sizes: ReadonlyArray<{ bits: KeyBits; samples: number }>;
  spawnSamples: number;
}

export function runOpenssl(args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.once("error", reject);
    child.once("close", (code) => {
      if (code === 0) resolve();
      else reject(new Error(`openssl ${args.join(" ")} exited with ${code}: ${stderr.trim()}`));
    });
  });
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

export async function measureKeygen(plan: KeygenPlan): Promise<KeygenResult> {
  // Warm up both paths (module loading, JIT, the page cache for the openssl binary).
  await generateKeyPair(2048);
  await runOpenssl(["genrsa", "2048"]);

  const spawnTimes: number[] = [];
  for (let index = 0; index < plan.spawnSamples; index += 1) {
    spawnTimes.push(await timed(() => runOpenssl(["version"])));
  }

  const sizes: KeygenSizeResult[] = [];
  for (const { bits, samples } of plan.sizes) {
    const ours: number[] = [];
    const openssl: number[] = [];
    for (let index = 0; index < samples; index += 1) {
      // Alternate who goes first, so drift in the machine's load hits both alike.
      const runOurs = async () => ours.push(await timed(() => generateKeyPair(bits)));
      const runTheirs = async () =>
        openssl.push(await timed(() => runOpenssl(["genrsa", String(bits)])));
      if (index % 2 === 0) {
        await runOurs();
        await runTheirs();
      } else {
        await runTheirs();
        await runOurs();
      }
    }
    const oursKeysPerSecond = ours.length / (sum(ours) / 1000);
    const opensslKeysPerSecond = openssl.length / (sum(openssl) / 1000);
    const oursMedianMs = median(ours);
    const opensslMedianMs = median(openssl);
    sizes.push({
      bits,
      ours,
      openssl,
      oursKeysPerSecond,
      opensslKeysPerSecond,
      oursMedianMs,
      opensslMedianMs,
      throughputRatio: oursKeysPerSecond / opensslKeysPerSecond,
      medianRatio: opensslMedianMs / oursMedianMs,
    });
  }
  return { sizes, spawnMedianMs: median(spawnTimes) };
}

export interface LoopDelayResult {
  resolutionMs: number;
  keysPerRound: number;
  rounds: number;
  /** Pooled over every round, milliseconds. */
  p50: number;
  p99: number;
  max: number;
  samples: number;
  /** The same monitor over an idle second, for the machine's own noise. */
  idleP99: number;
  idleMax: number;
  /** Keys per second with `keysPerRound` at once through our code (a worker thread per core). */
  oursConcurrentKeysPerSecond: number;
  /** Keys per second with as many `openssl genrsa` processes at once as there are cores. */
  opensslConcurrentKeysPerSecond: number;
  opensslProcesses: number;
  threadpoolSize: number;
}

const NS_PER_MS = 1e6;

export async function measureLoopDelay(plan: {
  keysPerRound: number;
  rounds: number;
  resolutionMs: number;
  idleMs: number;
}): Promise<LoopDelayResult> {
  const idle = monitorEventLoopDelay({ resolution: plan.resolutionMs });
  idle.enable();
  await sleep(plan.idleMs);
  idle.disable();

  const histogram = monitorEventLoopDelay({ resolution: plan.resolutionMs });
  let oursElapsed = 0;
  for (let round = 0; round < plan.rounds; round += 1) {
    histogram.enable();
    const start = performance.now();
    await Promise.all(Array.from({ length: plan.keysPerRound }, () => generateKeyPair(2048)));
    oursElapsed += performance.now() - start;
    histogram.disable();
  }

  const processes = availableParallelism();
  const opensslKeys = plan.keysPerRound;
  const opensslStart = performance.now();
  await mapLimit(
    Array.from({ length: opensslKeys }, (_, index) => index),
    processes,
    () => runOpenssl(["genrsa", "2048"]),
  );
  const opensslElapsed = performance.now() - opensslStart;

  return {
    resolutionMs: plan.resolutionMs,
    keysPerRound: plan.keysPerRound,
    rounds: plan.rounds,
    p50: histogram.percentile(50) / NS_PER_MS,
    p99: histogram.percentile(99) / NS_PER_MS,
    max: histogram.max / NS_PER_MS,
    samples: histogram.count,
    idleP99: idle.percentile(99) / NS_PER_MS,
    idleMax: idle.max / NS_PER_MS,
    oursConcurrentKeysPerSecond: (plan.keysPerRound * plan.rounds) / (oursElapsed / 1000),
    opensslConcurrentKeysPerSecond: opensslKeys / (opensslElapsed / 1000),
    opensslProcesses: processes,
    threadpoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
  };
}
