import { describe, expect, it } from "vitest";
import { createCallSlots } from "../../src/spamexperts/call-slots.js";

/** A task that runs until released by hand, recording when it started. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** Lets every settled promise run its continuations. */
async function settle(): Promise<void> {
  for (let index = 0; index < 10; index += 1) await Promise.resolve();
}

describe("createCallSlots", () => {
  it("runs at most `limit` tasks at once and the others in the order they came", async () => {
    const slots = createCallSlots(2);
    const started: string[] = [];
    const gates = new Map<string, ReturnType<typeof gate>>();
    const tasks = ["a", "b", "c", "d"].map((name) => {
      const held = gate();
      gates.set(name, held);
      return slots.run("new", async () => {
        started.push(name);
        await held.promise;
        return name;
      });
    });
    await settle();
    expect(started).toEqual(["a", "b"]);
    expect([slots.active, slots.waiting]).toEqual([2, 2]);

    gates.get("b")?.open();
    await settle();
    expect(started).toEqual(["a", "b", "c"]);
    expect([slots.active, slots.waiting]).toEqual([2, 1]);

    for (const held of gates.values()) held.open();
    expect(await Promise.all(tasks)).toEqual(["a", "b", "c", "d"]);
    expect([slots.active, slots.waiting]).toEqual([0, 0]);
  });

  it("lets a retry go ahead of tasks not yet tried", async () => {
    const slots = createCallSlots(1);
    const started: string[] = [];
    const first = gate();
    const running = slots.run("new", async () => {
      started.push("first");
      await first.promise;
    });
    const later = ["new-1", "new-2"].map((name) =>
      slots.run("new", async () => {
        started.push(name);
      }),
    );
    const retry = slots.run("retry", async () => {
      started.push("retry");
    });
    first.open();
    await Promise.all([running, ...later, retry]);
    expect(started).toEqual(["first", "retry", "new-1", "new-2"]);
  });

  it("gives the slot back when a task fails, and passes the failure on", async () => {
    const slots = createCallSlots(1);
    const failing = slots.run("new", () => Promise.reject(new Error("boom")));
    const next = slots.run("new", () => Promise.resolve("next"));
    await expect(failing).rejects.toThrow("boom");
    expect(await next).toBe("next");
    expect(slots.active).toBe(0);
  });

  it("says when nothing runs or waits any more", async () => {
    const slots = createCallSlots(1);
    await slots.idle();
    const held = gate();
    const tasks = [slots.run("new", () => held.promise), slots.run("new", () => held.promise)];
    let idle = false;
    const idled = slots.idle().then(() => {
      idle = true;
    });
    await settle();
    expect(idle).toBe(false);
    held.open();
    await Promise.all([...tasks, idled]);
    expect(idle).toBe(true);
  });

  it("keeps tens of thousands of waiters in order", async () => {
    const slots = createCallSlots(3);
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 20_000 }, (_, index) =>
        slots.run("new", async () => {
          order.push(index);
        }),
      ),
    );
    expect(order).toEqual(Array.from({ length: 20_000 }, (_, index) => index));
  });

  it("refuses a limit that is not a positive integer", () => {
    expect(() => createCallSlots(0)).toThrow(RangeError);
    expect(() => createCallSlots(1.5)).toThrow(RangeError);
  });
});
