import { createPrivateKey } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism, getPriority } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { createKeyWorkerPool } from "../../src/dkim/key-workers.js";
import { generateKeyPair, keyWorkers } from "../../src/dkim/keys.js";
import { CodedError } from "../../src/errors.js";

const LINUX = existsSync("/proc/thread-self/stat");

/** Field 19 of /proc/<pid>/task/<tid>/stat: the thread's nice value. */
function niceOfThread(tid: number): number {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
  // After the command name (in parentheses, which may hold spaces) come fields 3 onwards.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[16]);
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let tries = 0; tries < 600; tries += 1) {
    if (condition()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("key generation on worker threads", () => {
  it("makes as many keys at once as there are cores, and queues the rest", async () => {
    const pool = keyWorkers();
    expect(pool.size).toBe(availableParallelism());
    const count = 2 * pool.size;
    const pending = Array.from({ length: count }, () => generateKeyPair(1024));
    expect(pool.running).toBe(pool.size);
    expect(pool.waiting).toBe(count - pool.size);
    const pairs = await Promise.all(pending);
    expect(new Set(pairs.map((pair) => pair.publicKeyBase64)).size).toBe(count);
    expect(pool.running).toBe(0);
    expect(pool.waiting).toBe(0);
    expect(pool.threads().length).toBeLessThanOrEqual(pool.size);
  });

  it.runIf(LINUX)(
    "runs the workers at nice 19 and leaves the event loop's thread as it was",
    async () => {
      const before = getPriority(0);
      const pool = keyWorkers();
      await Promise.all(Array.from({ length: pool.size }, () => generateKeyPair(1024)));
      const threads = pool.threads();
      expect(threads.length).toBe(pool.size);
      for (const thread of threads) {
        expect(thread.tid).toBeTypeOf("number");
        expect(thread.tid).not.toBe(process.pid);
        // Read by the kernel's account, not only the worker's word.
        expect(niceOfThread(thread.tid ?? 0)).toBe(19);
        expect(thread.nice).toBe(19);
      }
      expect(niceOfThread(process.pid)).toBe(before);
      expect(getPriority(0)).toBe(before);
    },
  );

  it("keeps the event loop turning while every worker makes 2048-bit keys", async () => {
    const ticks: number[] = [];
    const started = performance.now();
    const timer = setInterval(() => ticks.push(performance.now()), 10);
    try {
      const pairs = await Promise.all(
        Array.from({ length: 2 * availableParallelism() }, () => generateKeyPair(2048)),
      );
      expect(pairs.every((pair) => pair.bits === 2048)).toBe(true);
    } finally {
      clearInterval(timer);
    }
    const moments = [started, ...ticks, performance.now()];
    const largestGap = Math.max(...moments.slice(1).map((at, i) => at - (moments[i] ?? at)));
    // A functional check, not a benchmark: generation on the event loop would block it.
    expect(largestGap).toBeLessThan(1000);
    expect(ticks.length).toBeGreaterThan(0);
  });

  it("fails the key of a worker that dies with KEY_GENERATION_FAILED, and replaces the worker", async () => {
    const pool = keyWorkers();
    const doomed = generateKeyPair(4096);
    await until(() => pool.threads().some((thread) => thread.busy), "a busy worker");
    const busy = pool.threads().find((thread) => thread.busy);
    await pool.kill(busy?.threadId ?? -1);
    const error = await doomed.then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(CodedError);
    expect((error as CodedError).code).toBe("KEY_GENERATION_FAILED");
    expect((error as CodedError).message).toBe("Could not generate a 4096-bit RSA key.");
    expect(pool.threads().map((thread) => thread.threadId)).not.toContain(busy?.threadId);

    // The next keys get a new worker, as many at once as before.
    const pairs = await Promise.all(Array.from({ length: pool.size }, () => generateKeyPair(1024)));
    for (const pair of pairs) {
      expect(createPrivateKey(pair.privateKeyPem).asymmetricKeyDetails?.modulusLength).toBe(1024);
    }
    expect(pool.threads().length).toBe(pool.size);
  });

  it("stops idle workers after a while and starts them again for the next key", async () => {
    const pool = createKeyWorkerPool({ size: 2, idleMs: 50 });
    try {
      const key = await pool.generate(1024);
      expect(key.privateKeyPem.startsWith("-----BEGIN RSA PRIVATE KEY-----\n")).toBe(true);
      expect(pool.threads().length).toBe(1);
      await until(() => pool.threads().length === 0, "the idle worker to stop");
      await pool.generate(1024);
      expect(pool.threads().length).toBe(1);
    } finally {
      await pool.stop();
    }
  });

  it("fails the keys still waiting when the pool is stopped", async () => {
    const pool = createKeyWorkerPool({ size: 1, idleMs: 60_000 });
    const running = expect(pool.generate(4096)).rejects.toThrow(/worker stopped/);
    const waiting = expect(pool.generate(1024)).rejects.toThrow("key generation was stopped");
    await pool.stop();
    await running;
    await waiting;
    expect(pool.threads()).toEqual([]);
  });
});
