/** The inventory's cache over the real client and the fake cluster, with a clock of its own. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createSpamExpertsClient } from "../../src/spamexperts/client.js";
import { createDomainListCache } from "../../src/spamexperts/domain-list-cache.js";
import type { SpamExpertsClient } from "../../src/spamexperts/types.js";
import { type FakeSpamExperts, faults, startFakeSpamExperts } from "../helpers/fake-spamexperts.js";
import { PASSWORD, USERNAME } from "./support.js";

const MINUTE = 60_000;
const START = Date.parse("2026-11-02T09:00:00Z");

let api: FakeSpamExperts;
let se: SpamExpertsClient;
let now = START;
const clock = () => new Date(now);

beforeAll(async () => {
  api = await startFakeSpamExperts({ username: USERNAME, password: PASSWORD });
  se = createSpamExpertsClient({
    baseUrl: api.url,
    username: USERNAME,
    password: PASSWORD,
    maxAttempts: 1,
  });
});

afterEach(() => {
  api.reset();
  api.setDomains(undefined);
  api.setLatency(0);
  now = START;
});

afterAll(async () => {
  await se.close();
  await api.close();
});

function listCalls(): number {
  return api.requests.filter((request) => request.params.call === "api_list_domains").length;
}

describe("createDomainListCache", () => {
  it("serves the kept list until it is ttlMs old, then asks again", async () => {
    api.setDomains(["a.example"]);
    const cache = createDomainListCache({ inventory: se, ttlMs: 60 * MINUTE, clock });
    const first = await cache.get();
    expect(first).toMatchObject({ domains: ["a.example"], fetchedAt: new Date(START) });

    api.setDomains(["a.example", "b.example"]);
    now = START + 59 * MINUTE;
    expect((await cache.get()).domains).toEqual(["a.example"]);
    expect(listCalls()).toBe(1);

    now = START + 60 * MINUTE;
    const second = await cache.get();
    expect(second).toMatchObject({
      domains: ["a.example", "b.example"],
      fetchedAt: new Date(START + 60 * MINUTE),
    });
    expect(listCalls()).toBe(2);
  });

  it("asks again on refresh whatever the age", async () => {
    api.setDomains(["a.example"]);
    const cache = createDomainListCache({ inventory: se, ttlMs: 60 * MINUTE, clock });
    await cache.get();
    api.setDomains(["b.example"]);
    now += 1_000;
    expect((await cache.get({ refresh: true })).domains).toEqual(["b.example"]);
    expect(listCalls()).toBe(2);
  });

  it("shares one call among everyone asking while it is under way", async () => {
    api.setDomains(["a.example"]);
    api.setLatency(200);
    const cache = createDomainListCache({ inventory: se, ttlMs: 60 * MINUTE, clock });
    const lists = await Promise.all([
      cache.get(),
      cache.get(),
      cache.get({ refresh: true }),
      cache.get({ refresh: true }),
    ]);
    expect(lists.map((list) => list.domains)).toEqual(Array(4).fill(["a.example"]));
    expect(listCalls()).toBe(1);
  });

  it("keeps no failure: the error goes to the caller, the last good list stays, the next get asks again", async () => {
    api.setDomains(["a.example"]);
    const cache = createDomainListCache({ inventory: se, ttlMs: MINUTE, clock });
    expect(cache.peek()).toBeUndefined();
    await cache.get();

    now += 2 * MINUTE;
    api.failNext("api_list_domains", faults.apiError("no permissions"));
    await expect(cache.get()).rejects.toMatchObject({ code: "SPAMEXPERTS_AUTH" });
    expect(cache.peek()).toMatchObject({ domains: ["a.example"], fetchedAt: new Date(START) });

    api.setDomains(["c.example"]);
    expect((await cache.get()).domains).toEqual(["c.example"]);
    expect(listCalls()).toBe(3);
  });

  it("asks every time with ttlMs 0, and when the clock was set back", async () => {
    api.setDomains(["a.example"]);
    const uncached = createDomainListCache({ inventory: se, ttlMs: 0, clock });
    await uncached.get();
    await uncached.get();
    expect(listCalls()).toBe(2);

    const cache = createDomainListCache({ inventory: se, ttlMs: 60 * MINUTE, clock });
    await cache.get();
    now -= MINUTE;
    await cache.get();
    expect(listCalls()).toBe(4);
  });

  it("refuses a negative ttlMs", () => {
    expect(() => createDomainListCache({ inventory: se, ttlMs: -1 })).toThrow(RangeError);
  });
});
