/**
 * The store's App Home queries on both databases: what each section holds, in which order, and
 * that each is answered through an index (never a walk over the whole history), asked of the
 * database's own planner.
 */
import type { Compilable } from "kysely";
import { describe, expect, it } from "vitest";
import { generateKeyPair } from "../../../src/dkim/keys.js";
import {
  homeSectionCountQuery,
  homeSectionQuery,
  stateCountsQuery,
  statePageQuery,
} from "../../../src/requests/store/home-queries.js";
import type { KyselyRequestStore } from "../../../src/requests/store/kysely-store.js";
import { listQuery } from "../../../src/requests/store/request-queries.js";
import type { HomeSection } from "../../../src/requests/store.js";
import { DIALECTS, freshDatabase, openTestStore } from "../../helpers/test-stores.js";
import { randomEncryptionKey } from "../support.js";
import { iso, planOf, type Seed, seed, walksEverything } from "./seed-requests.js";

const keyPair = await generateKeyPair(1024);

const SEEDS: Seed[] = [
  { id: "waitold", state: "pending", day: 1, dns: "live", requesterId: "UALICE" },
  { id: "waitnew", state: "pending", day: 3, dns: "live", requesterId: "UBOB" },
  { id: "notlive", state: "pending", day: 2, dns: "missing", requesterId: "UALICE" },
  { id: "applying", state: "applying", day: 4, requesterId: "UALICE" },
  { id: "failed", state: "failed", day: 5, requesterId: "UALICE" },
  { id: "rejected", state: "rejected", day: 6, requesterId: "UALICE" },
  { id: "oldkey", state: "active", day: 7, activatedDay: 7, dns: "live" },
  { id: "rotating", state: "active", day: 8, activatedDay: 8, dns: "live" },
  { id: "rotation", state: "pending", day: 30, rotationOf: "rotating", dns: "missing" },
  { id: "broken", state: "active", day: 9, activatedDay: 100, dns: "missing" },
  { id: "youngkey", state: "active", day: 10, activatedDay: 150, dns: "live" },
  { id: "retiring", state: "retiring", day: 11, activatedDay: 11, dns: "wrong" },
  { id: "retired", state: "retired", day: 12, activatedDay: 12, dns: "missing" },
];

const SECTIONS: Array<{ section: HomeSection; ids: string[] }> = [
  { section: { kind: "waiting-approval" }, ids: ["waitold", "waitnew"] },
  { section: { kind: "waiting-approval", notRequestedBy: "UALICE" }, ids: ["waitnew"] },
  {
    section: { kind: "requested-by", requesterId: "UALICE" },
    ids: ["failed", "applying", "notlive", "waitold"],
  },
  { section: { kind: "monitor-problems" }, ids: ["broken", "retiring"] },
  // Older than day 120, no rotation under way: not `rotating` (its rotation is open).
  { section: { kind: "rotation-due", activatedBefore: iso(120) }, ids: ["oldkey", "broken"] },
  // The key-age reminders' keys: less those reminded after day 150 (`oldkey`, on day 200;
  // `broken` was reminded on day 100, long enough ago).
  {
    section: { kind: "rotation-due", activatedBefore: iso(120), notRemindedSince: iso(150) },
    ids: ["broken"],
  },
];

/** Key-age reminders already given: [key, day]. */
const REMINDERS: Array<[string, number]> = [
  ["oldkey", 200],
  ["broken", 100],
];

describe.each(DIALECTS)("App Home's queries on %s", (dialect) => {
  async function seeded(): Promise<KyselyRequestStore> {
    const store = await openTestStore(await freshDatabase(dialect), {
      encryptionKey: randomEncryptionKey(),
    });
    for (const each of SEEDS) await seed(store, keyPair, each);
    for (const [requestId, day] of REMINDERS) {
      await store.appendEvent({
        requestId,
        at: iso(day),
        actorId: "system",
        kind: "rotation-due",
        details: {},
      });
    }
    return store;
  }

  it("lists each section's requests in its order, and counts them", async () => {
    const store = await seeded();
    for (const { section, ids } of SECTIONS) {
      expect(
        (await store.listHomeSection(section, 10)).map((each) => each.id),
        section.kind,
      ).toEqual(ids);
      expect(await store.countHomeSection(section), section.kind).toBe(ids.length);
      expect((await store.listHomeSection(section, 1)).map((each) => each.id)).toEqual(
        ids.slice(0, 1),
      );
    }
  });

  it("counts the requests of the given states, 0 where there are none", async () => {
    const store = await seeded();
    const counts = await store.countByState([
      "pending",
      "applying",
      "failed",
      "active",
      "retiring",
    ]);
    expect(counts).toMatchObject({ pending: 4, applying: 1, failed: 1, active: 4, retiring: 1 });
    // Not asked for: not counted.
    expect(counts.retired).toBe(0);
    expect(counts.rejected).toBe(0);
  });

  it("answers every query through an index", async () => {
    const store = await seeded();
    const queries: Array<[string, Compilable]> = [
      ...SECTIONS.map(({ section }): [string, Compilable] => [
        section.kind,
        homeSectionQuery(store.kysely, section, 10),
      ]),
      ...SECTIONS.map(({ section }): [string, Compilable] => [
        `count ${section.kind}`,
        homeSectionCountQuery(store.kysely, section),
      ]),
      [
        "state counts",
        stateCountsQuery(store.kysely, ["pending", "applying", "failed", "active", "retiring"]),
      ],
    ];
    for (const [name, query] of queries) {
      const plan = await planOf(store, query);
      expect(walksEverything(plan), `${name}:\n${plan.join("\n")}`).toEqual([]);
      expect(plan.join("\n"), name).toMatch(/requests_by_|INDEX|Index/);
    }
  });

  it("reads the newest open requests, and a person's, from the open ones alone, in order", async () => {
    const store = await seeded();
    const open = ["pending", "applying", "failed"] as const;
    const ordered: Array<[string, Compilable, RegExp]> = [
      [
        "a person's open requests (Home)",
        homeSectionQuery(store.kysely, { kind: "requested-by", requesterId: "UREQ" }, 10),
        /requests_open_by_requester/,
      ],
      [
        "the newest open requests (/dkim status)",
        listQuery(store.kysely, { states: [...open], limit: 60 }),
        /requests_open_by_created/,
      ],
    ];
    for (const [name, query, index] of ordered) {
      const plan = await planOf(store, query, { sortsToo: true });
      // Reading the open requests' own index from its newest end is the point (it stops at
      // the limit); anything else that walks is not.
      const walks = walksEverything(plan).filter(
        (line) => !/^SCAN requests USING INDEX requests_open_by_created$/.test(line),
      );
      expect(walks, `${name}:\n${plan.join("\n")}`).toEqual([]);
      expect(plan.join("\n"), name).toMatch(index);
      // In the index's order: the page is read, not every open request sorted.
      expect(plan.join("\n"), name).not.toMatch(/TEMP B-TREE|Sort/);
    }
    // One domain's open requests: through that domain's rows, never all open requests.
    const plan = await planOf(
      store,
      listQuery(store.kysely, { domain: "a.example", states: [...open], limit: 60 }),
    );
    expect(walksEverything(plan), plan.join("\n")).toEqual([]);
    expect(plan.join("\n")).toMatch(/requests_by_domain|requests_one_open_per_selector/);
    // Fewer states than every open one: the plain condition, as before.
    const some = await store.list({ states: ["failed"], limit: 60 });
    expect(some.every((request) => request.state === "failed")).toBe(true);
  });

  it("reads a page of a state by seeking to its cursor in the index, not from the first row", async () => {
    const store = await seeded();
    const query = statePageQuery(store.kysely, "active", { createdAt: iso(2), id: "someid" }, 250);
    const plan = await planOf(store, query);
    const text = plan.join("\n");
    expect(walksEverything(plan), text).toEqual([]);
    // The seek uses the creation time too, not the state alone.
    expect(text).toMatch(
      store.dialect === "sqlite"
        ? /requests_by_state \(state=\? AND created_at>\?\)/
        : /Index Cond: .*created_at >=/s,
    );
  });
});
