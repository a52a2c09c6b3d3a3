import { afterEach, describe, expect, it } from "vitest";
import { startDnsWatcher } from "../../src/requests/dns-watcher.js";
import { CHANNEL, createHarness, dnsResult, type Harness, REQUESTER } from "./support.js";

const harnesses: Harness[] = [];
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  for (const each of harnesses.splice(0)) await each.close();
});

async function setup(): Promise<Harness> {
  const h = await createHarness();
  harnesses.push(h);
  return h;
}

const create = (h: Harness, selector = "s1") =>
  h.service.create({
    domain: "example.com",
    selector,
    bits: 1024,
    requesterId: REQUESTER,
    channelId: CHANNEL,
  });

describe("startDnsWatcher", () => {
  it("one round checks the DNS of pending requests and expires the old ones", async () => {
    const h = await setup();
    const watcher = startDnsWatcher({ service: h.service, intervalSeconds: 300 });
    stops.push(watcher.stop);
    h.dns.answer(dnsResult("missing", { problem: "missing" }));
    const { request } = await create(h);

    await watcher.runOnce();
    expect(h.dns.calls).toHaveLength(1);
    // Checked and stored; a fresh record not published yet is no news for the thread.
    expect((await h.service.get(request.id))?.lastDnsCheck?.status).toBe("missing");
    expect((await h.store.listEvents(request.id)).map((event) => event.kind)).toEqual(["created"]);

    h.setNow("2026-12-11T10:00:00.000Z");
    await watcher.runOnce();
    expect((await h.service.get(request.id))?.state).toBe("expired");
    expect(await h.store.readPrivateKey(request.id)).toBeUndefined();
  });

  it("never runs two rounds at once, and runs none after stop", async () => {
    const h = await setup();
    const watcher = startDnsWatcher({ service: h.service, intervalSeconds: 300 });
    await create(h);
    await create(h, "s2");
    await Promise.all([watcher.runOnce(), watcher.runOnce()]);
    expect(h.dns.calls).toHaveLength(2);
    await watcher.stop();
    await watcher.runOnce();
    expect(h.dns.calls).toHaveLength(2);
  });

  it("keeps polling on its own timer", async () => {
    const h = await setup();
    await create(h);
    let rounds = 0;
    let resolveSecond: () => void = () => {};
    const secondRound = new Promise<void>((resolve) => {
      resolveSecond = resolve;
    });
    const watcher = startDnsWatcher({
      service: {
        checkPending: async () => {
          rounds++;
          if (rounds === 2) resolveSecond();
          return h.service.checkPending();
        },
        expire: h.service.expire,
      },
      intervalSeconds: 0.05,
      random: () => 0.5,
    });
    stops.push(watcher.stop);
    await secondRound;
    await watcher.stop();
    expect(h.dns.calls.length).toBeGreaterThanOrEqual(2);
  });
});
