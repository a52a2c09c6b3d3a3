import { describe, expect, it } from "vitest";
import { startPeriodic } from "../../src/requests/scheduler.js";
import { DIALECTS, freshDatabase, openTestStore } from "../helpers/test-stores.js";
import { randomEncryptionKey } from "./support.js";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(DIALECTS)("periodic jobs on several replicas, on %s", (dialect) => {
  async function replicas(count: number) {
    const database = await freshDatabase(dialect);
    const encryptionKey = randomEncryptionKey();
    return Promise.all(
      Array.from({ length: count }, (_, index) =>
        openTestStore(database, { encryptionKey, owner: `replica-${index}` }),
      ),
    );
  }

  it("runs each cycle of an exclusive job on one replica only", async () => {
    const stores = await replicas(3);
    const ran: string[] = [];
    const jobs = stores.map((store) =>
      startPeriodic(
        {
          name: "watch",
          periodMs: 60_000,
          async cycle() {
            ran.push(store.owner);
          },
        },
        { leases: store },
      ),
    );
    // Every replica asks for the same cycle at once: one runs it.
    await Promise.all(jobs.map((job) => job.runOnce()));
    expect(ran).toHaveLength(1);
    // Asked again within the period: the cycle is not run again anywhere.
    await Promise.all(jobs.map((job) => job.runOnce()));
    expect(ran).toHaveLength(1);
    await Promise.all(jobs.map((job) => job.stop()));
  });

  it("does not start a cycle elsewhere while one overruns its period", async () => {
    const [first, second] = await replicas(2);
    if (first === undefined || second === undefined) throw new Error("two replicas");
    let release: () => void = () => {};
    const slow = new Promise<void>((resolve) => {
      release = resolve;
    });
    let overrunning = false;
    const startedDuringOverrun: string[] = [];
    const ran: string[] = [];
    const job = (store: typeof first, name: string, cycle: () => Promise<void>) =>
      startPeriodic(
        {
          name: "monitor",
          periodMs: 100,
          async cycle() {
            ran.push(name);
            if (overrunning && name !== "a") startedDuringOverrun.push(name);
            await cycle();
          },
        },
        { leases: store, leaseMs: 150 },
      );
    const a = job(first, "a", async () => {
      if (ran.length === 1) {
        overrunning = true;
        await slow;
        overrunning = false;
      }
    });
    const b = job(second, "b", async () => {});
    const running = a.runOnce();
    // Far past its period and several lease lengths: a's heartbeat keeps the cycle a's.
    for (let round = 0; round < 5; round++) {
      await pause(80);
      await b.runOnce();
    }
    expect(startedDuringOverrun).toEqual([]);
    release();
    await running;
    // Once a is done, the job goes on, on whichever replica gets the next cycle.
    for (let round = 0; round < 50 && ran.length < 2; round++) {
      await pause(40);
      await b.runOnce();
    }
    expect(ran.length).toBeGreaterThanOrEqual(2);
    await Promise.all([a.stop(), b.stop()]);
  });

  it("logs a failing cycle and goes on with the next", async () => {
    const [store] = await replicas(1);
    if (store === undefined) throw new Error("a replica");
    const warnings: string[] = [];
    let cycles = 0;
    const job = startPeriodic(
      {
        name: "flaky",
        periodMs: 10,
        async cycle() {
          cycles++;
          if (cycles === 1) throw new Error("DNS is down");
        },
      },
      {
        leases: store,
        logger: { info() {}, error() {}, warn: (message) => warnings.push(message) },
      },
    );
    await job.runOnce();
    await pause(30);
    await job.runOnce();
    expect(cycles).toBe(2);
    expect(warnings).toEqual(["The flaky cycle failed; it runs again later."]);
    await job.stop();
  });
});
