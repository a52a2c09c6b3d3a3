/**
 * The store's `/dkim domains` queries on both databases: which rows each page holds, in which
 * order, that pages follow one another without a gap or a repeat, and that each is answered
 * through an index (never a walk over the whole history), asked of the database's planner.
 */
import { describe, expect, it } from "vitest";
import { generateKeyPair } from "../../../src/dkim/keys.js";
import {
  currentKeysQuery,
  domainsWrittenSinceQuery,
  keyBoundaryQuery,
  keyGroupsQuery,
  keysOfDomainsQuery,
  nextKeyDomainQuery,
  requestDomainsQuery,
} from "../../../src/requests/store/inventory-queries.js";
import type { KyselyRequestStore } from "../../../src/requests/store/kysely-store.js";
import type { CurrentKey, KeyCursor, KeyKind } from "../../../src/requests/store.js";
import { DIALECTS, freshDatabase, openTestStore } from "../../helpers/test-stores.js";
import { randomEncryptionKey } from "../support.js";
import { iso, planOf, type Seed, seed, verdict, walksEverything } from "./seed-requests.js";

const keyPair = await generateKeyPair(1024);

const SEEDS: Seed[] = [
  // b.example: an active key being rotated, its history behind it.
  { id: "b1", domain: "b.example", state: "retired", day: 1, activatedDay: 1 },
  { id: "b2", domain: "b.example", state: "active", day: 2, activatedDay: 3, dns: "live" },
  { id: "b3", domain: "b.example", state: "pending", day: 9, rotationOf: "b2", dns: "missing" },
  // a.example: a failed setup after a rejected one; a-b.example sorts between a and b.
  { id: "a1", domain: "a.example", state: "rejected", day: 1 },
  { id: "a2", domain: "a.example", state: "failed", day: 4, channelId: "CPRIVATE" },
  { id: "ab", domain: "a-b.example", state: "applying", day: 5 },
  // c.example: only history. d.example: an active key whose record is gone.
  { id: "c1", domain: "c.example", state: "expired", day: 1 },
  { id: "c2", domain: "c.example", state: "cancelled", day: 2 },
  { id: "d0", domain: "d.example", state: "retiring", day: 1, activatedDay: 1 },
  { id: "d1", domain: "d.example", state: "active", day: 6, activatedDay: 6, dns: "missing" },
];

/** Every page of `size` in turn, as the CSV reads them. */
async function allPages(store: KyselyRequestStore, size: number): Promise<CurrentKey[][]> {
  const pages: CurrentKey[][] = [];
  let after: KeyCursor | undefined;
  for (;;) {
    const page = await store.listCurrentKeys(after, size);
    if (page.length === 0) return pages;
    pages.push(page);
    const last = page.at(-1);
    after = last === undefined ? undefined : { domain: last.domain, id: last.id };
  }
}

describe.each(DIALECTS)("the inventory's queries on %s", (dialect) => {
  async function seeded(): Promise<KyselyRequestStore> {
    const store = await openTestStore(await freshDatabase(dialect), {
      encryptionKey: randomEncryptionKey(),
    });
    for (const each of SEEDS) await seed(store, keyPair, each);
    return store;
  }

  it("reads the current keys (open and active, never history) in name order, page by page", async () => {
    const store = await seeded();
    const whole = (await allPages(store, 100)).flat();
    // The order of the database's own collation; both give this one here.
    expect(whole.map((key) => key.id)).toEqual(["ab", "a2", "b2", "b3", "d1"]);
    for (const size of [1, 2, 3]) {
      const pages = await allPages(store, size);
      expect(pages.every((page) => page.length <= size)).toBe(true);
      expect(pages.flat()).toEqual(whole);
    }
    const [ab, a2, b2, b3, d1] = whole;
    expect(ab).toMatchObject({ domain: "a-b.example", state: "applying", rotation: false });
    expect(a2).toMatchObject({ state: "failed", channelId: "CPRIVATE", rotation: false });
    expect(b2).toEqual({
      id: "b2",
      domain: "b.example",
      selector: "s1",
      state: "active",
      channelId: "CCHAN",
      teamId: null,
      enterpriseId: null,
      messageTs: b2?.messageTs,
      createdAt: iso(2),
      activatedAt: iso(3),
      dnsStatus: "live",
      dnsCheckedAt: iso(0),
      rotation: false,
    });
    expect(b2?.messageTs).toMatch(/^\d+\.\d+$/);
    expect(b3).toMatchObject({ state: "pending", rotation: true, dnsStatus: "missing" });
    expect(d1).toMatchObject({ state: "active", dnsStatus: "missing", createdAt: iso(6) });

    // The groups hold the same keys, each once, with only what decides a domain's state,
    // whatever the size of the ranges they are read in.
    const kindOf = ({ state, channelId, teamId, enterpriseId, dnsStatus, rotation }: KeyKind) =>
      JSON.stringify({ state, channelId, teamId, enterpriseId, dnsStatus, rotation });
    const expected = whole.map((key) => `${key.domain} ${kindOf(key)}`).sort();
    for (const keys of [1, 2, 3, 100]) {
      const read: string[] = [];
      let ranges = 0;
      let from: string | undefined;
      do {
        const range = await store.listKeyGroups(from, keys);
        ranges += 1;
        for (const group of range.groups) {
          for (const domain of group.domains) read.push(`${domain} ${kindOf(group)}`);
        }
        expect(range.next === undefined || from === undefined || range.next > from).toBe(true);
        from = range.next;
      } while (from !== undefined);
      expect(read.sort(), `ranges of ${keys}`).toEqual(expected);
      // Whole domains only: b.example's two keys are never split, so ranges of 1 make four
      // on SQLite; PostgreSQL, off the event loop, answers every range at once.
      if (keys === 1) expect(ranges).toBe(dialect === "sqlite" ? 4 : 1);
    }
    // And a page's lines read their domains' keys in full.
    expect(await store.getCurrentKeysOf(["d.example", "b.example", "c.example"])).toEqual([
      b2,
      b3,
      d1,
    ]);
    expect(await store.getCurrentKeysOf([])).toEqual([]);
  });

  it("moves its generation with every write of a request, and with nothing else", async () => {
    const store = await openTestStore(await freshDatabase(dialect), {
      encryptionKey: randomEncryptionKey(),
    });
    const seen = [await store.requestsGeneration()];
    const changed = async () => {
      const now = await store.requestsGeneration();
      const moved = now !== seen.at(-1);
      seen.push(now);
      return moved;
    };
    await seed(store, keyPair, { id: "g1", state: "pending", day: 1 });
    expect(await changed()).toBe(true);
    await store.listKeyGroups(undefined, 10);
    await store.appendEvent({
      requestId: "g1",
      at: iso(1),
      actorId: "U1",
      kind: "resumed",
      details: {},
    });
    expect(await changed()).toBe(false);
    const moved = await store.transition({
      id: "g1",
      from: "pending",
      to: "cancelled",
      at: iso(2),
      event: { actorId: "U1", kind: "cancelled", details: {} },
    });
    expect(moved).toBeDefined();
    expect(await changed()).toBe(true);
    // A move that lost its race wrote nothing.
    const lost = await store.transition({
      id: "g1",
      from: "pending",
      to: "expired",
      at: iso(3),
      event: { actorId: "system", kind: "expired", details: {} },
    });
    expect(lost).toBeUndefined();
    expect(await changed()).toBe(false);
    expect(new Set(seen).size).toBe(3);
  });

  it("names the domains written after a generation, on any replica, and no others", async () => {
    const database = await freshDatabase(dialect);
    const encryptionKey = randomEncryptionKey();
    const store = await openTestStore(database, { encryptionKey });
    const replica = await openTestStore(database, { encryptionKey });
    await seed(store, keyPair, { id: "w1", state: "active", day: 1 });
    await seed(store, keyPair, { id: "w2", state: "pending", day: 1 });
    const read = await store.requestsGeneration();
    expect(await store.listDomainsWrittenSince(read, 10)).toEqual([]);

    // A move on another replica, and a new request: both domains, each once.
    await replica.transition({
      id: "w2",
      from: "pending",
      to: "cancelled",
      at: iso(2),
      event: { actorId: "U1", kind: "cancelled", details: {} },
    });
    await seed(replica, keyPair, { id: "w3", state: "failed", day: 2 });
    const now = await store.requestsGeneration();
    expect(Number(now)).toBeGreaterThan(Number(read));
    expect((await store.listDomainsWrittenSince(read, 10))?.sort()).toEqual([
      "w2.example",
      "w3.example",
    ]);
    // Past the limit: undefined (read everything again).
    expect(await store.listDomainsWrittenSince(read, 1)).toBeUndefined();
    expect(await store.listDomainsWrittenSince(now, 10)).toEqual([]);

    // An event alone, and a move that lost its race, write no request.
    await store.appendEvent({
      requestId: "w1",
      at: iso(3),
      actorId: "U1",
      kind: "resumed",
      details: {},
    });
    const lost = await store.transition({
      id: "w2",
      from: "pending",
      to: "expired",
      at: iso(3),
      event: { actorId: "system", kind: "expired", details: {} },
    });
    expect(lost).toBeUndefined();
    expect(await store.requestsGeneration()).toBe(now);
    expect(await store.listDomainsWrittenSince(now, 10)).toEqual([]);
    // A verdict stored on an active key is a write of it.
    await replica.update({
      id: "w1",
      whileState: "active",
      at: iso(4),
      changes: { lastDnsCheck: verdict("missing") },
    });
    expect(await store.listDomainsWrittenSince(now, 10)).toEqual(["w1.example"]);
  });

  it("lists every domain the bot has a request for, once, in name order, page by page", async () => {
    const store = await seeded();
    const all = await store.listRequestDomains(undefined, 100);
    expect(all).toEqual(["a-b.example", "a.example", "b.example", "c.example", "d.example"]);
    expect(await store.listRequestDomains(undefined, 2)).toEqual(all.slice(0, 2));
    expect(await store.listRequestDomains("a.example", 2)).toEqual(all.slice(2, 4));
    expect(await store.listRequestDomains("d.example", 2)).toEqual([]);
  });

  it("answers every query through an index", async () => {
    const store = await seeded();
    const after = { domain: "a.example", id: "a2" };
    const ordered = [
      ["first page of keys", currentKeysQuery(store.kysely, undefined, 10)],
      ["next page of keys", currentKeysQuery(store.kysely, after, 10)],
      ["first range's end", keyBoundaryQuery(store.kysely, undefined, 2)],
      ["next range's end", keyBoundaryQuery(store.kysely, "a.example", 2)],
      ["the next domain", nextKeyDomainQuery(store.kysely, "a.example")],
      ["a page's keys", keysOfDomainsQuery(store.kysely, ["b.example", "d.example"])],
      ["first page of domains", requestDomainsQuery(store.kysely, undefined, 10)],
      ["next page of domains", requestDomainsQuery(store.kysely, "a.example", 10)],
    ] as const;
    // What changed since a generation: read through migration 11's index (then made distinct).
    const changed = await planOf(store, domainsWrittenSinceQuery(store.kysely, 3, 10));
    expect(walksEverything(changed), changed.join("\n")).toEqual([]);
    expect(changed.join("\n")).toMatch(/requests_by_written_in/);
    for (const [name, query] of ordered) {
      const plan = await planOf(store, query, { sortsToo: true });
      // A first page reads its index from the start, in order, and stops at the limit.
      const walks = walksEverything(plan).filter(
        (line) =>
          !/^SCAN requests USING (COVERING )?INDEX requests_(current_)?by_domain$/.test(line),
      );
      expect(walks, `${name}:\n${plan.join("\n")}`).toEqual([]);
      expect(plan.join("\n"), name).toMatch(/requests_(current_)?by_domain/);
      // Read in the index's order: nothing read is sorted (so a page costs a page).
      expect(plan.join("\n"), name).not.toMatch(/TEMP B-TREE|Sort/);
    }
    // The groups of a range: read through the index; the grouping sorts that range's keys.
    for (const [from, to] of [
      [undefined, undefined],
      ["a.example", "d.example"],
    ] as const) {
      const plan = await planOf(store, keyGroupsQuery(store.kysely, store.dialect, from, to));
      const walks = walksEverything(plan).filter(
        (line) => !/^SCAN requests USING (COVERING )?INDEX requests_current_by_domain$/.test(line),
      );
      expect(walks, plan.join("\n")).toEqual([]);
      expect(plan.join("\n")).toMatch(/requests_current_by_domain/);
    }
  });
});
