import { describe, expect, it } from "vitest";
import { createLimiter } from "../../src/dkim/concurrency-limit.js";

/** A task the test finishes by hand. */
function gate<T>(value: T) {
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  let started = false;
  return {
    task: async () => {
      started = true;
      await opened;
      return value;
    },
    open: () => open(),
    get started() {
      return started;
    },
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("createLimiter", () => {
  it("runs at most `limit` tasks at once, then the others in order", async () => {
    const limiter = createLimiter(2);
    const gates = [gate("a"), gate("b"), gate("c"), gate("d")];
    const results = gates.map((g) => limiter.run(g.task));
    await settle();
    expect(gates.map((g) => g.started)).toEqual([true, true, false, false]);
    expect([limiter.running, limiter.waiting]).toEqual([2, 2]);

    gates[1]?.open();
    await settle();
    expect(gates.map((g) => g.started)).toEqual([true, true, true, false]);
    expect([limiter.running, limiter.waiting]).toEqual([2, 1]);

    for (const g of gates) g.open();
    expect(await Promise.all(results)).toEqual(["a", "b", "c", "d"]);
    expect([limiter.running, limiter.waiting]).toEqual([0, 0]);
  });

  it("frees the slot of a task that fails", async () => {
    const limiter = createLimiter(1);
    const failing = limiter.run(async () => {
      throw new Error("boom");
    });
    const next = limiter.run(async () => "next");
    await expect(failing).rejects.toThrow("boom");
    expect(await next).toBe("next");
    expect(limiter.running).toBe(0);
  });

  it("never runs more than the limit when tasks arrive while one hands over its slot", async () => {
    const limiter = createLimiter(1);
    let concurrent = 0;
    let most = 0;
    const task = async () => {
      concurrent += 1;
      most = Math.max(most, concurrent);
      await settle();
      concurrent -= 1;
    };
    const first = limiter.run(task);
    const second = limiter.run(task);
    await first;
    // Arrives after the first finished and handed its slot to the second.
    const third = limiter.run(task);
    await Promise.all([second, third]);
    expect(most).toBe(1);
  });
});
