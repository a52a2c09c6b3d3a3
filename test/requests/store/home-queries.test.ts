/**
 * The store's App Home queries on both databases: what each section holds, in which order, and
 * that each is answered through an index (never a walk over the whole history), asked of the
 * database's own planner.
 */
import { type Compilable, CompiledQuery, sql } from "kysely";
import { describe, expect, it } from "vitest";
import { generateKeyPair } from "../../../src/dkim/keys.js";
import type { DkimRequest, RequestState, StoredDnsCheck } from "../../../src/requests/model.js";
import {
  homeSectionCountQuery,
  homeSectionQuery,
  stateCountsQuery,
} from "../../../src/requests/store/home-queries.js";
import type { KyselyRequestStore } from "../../../src/requests/store/kysely-store.js";
import type { HomeSection } from "../../../src/requests/store.js";
import { sampleRequest, withKey } from "../../helpers/sample-request.js";
import { DIALECTS, freshDatabase, openTestStore } from "../../helpers/test-stores.js";
import { randomEncryptionKey } from "../support.js";

const keyPair = await generateKeyPair(1024);
const DAY = 24 * 60 * 60 * 1000;
const T0 = Date.parse("2026-01-01T00:00:00.000Z");
const iso = (days: number) => new Date(T0 + days * DAY).toISOString();

function verdict(status: StoredDnsCheck["status"]): StoredDnsCheck {
  return { status, problemCode: null, summary: status, checkedAt: iso(0) };
}

interface Seed {
  id: string;
  state: RequestState;
  day: number;
  requesterId?: string;
  dns?: StoredDnsCheck["status"];
  /** Active and retiring keys: when they turned active (days). */
  activatedDay?: number;
  rotationOf?: string;
}

/** Inserts a request and moves it to its state the way the service would. */
async function seed(store: KyselyRequestStore, each: Seed): Promise<void> {
  const at = iso(each.day);
  const request: DkimRequest = sampleRequest({
    id: each.id,
    domain: `${each.id}.example`,
    selector: "s1",
    requesterId: each.requesterId ?? "UREQ",
    channelId: "CCHAN",
    ...withKey(keyPair),
    rotationOf: each.rotationOf === undefined ? null : { id: each.rotationOf, selector: "s0" },
    createdAt: at,
    updatedAt: at,
  });
  await store.insert(request, keyPair.privateKeyPem, {
    actorId: request.requesterId,
    kind: "created",
    details: {},
  });
  const move = async (from: RequestState, to: RequestState, changes = {}) => {
    const change = await store.transition({
      id: each.id,
      from,
      to,
      at,
      changes,
      event: { actorId: "system", kind: "resumed", details: {} },
    });
    if (change === undefined) throw new Error(`could not move ${each.id} to ${to}`);
  };
  const signs = ["active", "retiring", "retired"].includes(each.state);
  if (["applying", "failed", ...(signs ? [each.state] : [])].includes(each.state)) {
    await move("pending", "applying");
  }
  if (each.state === "failed") await move("applying", "failed");
  if (signs) await move("applying", "active", { activatedAt: iso(each.activatedDay ?? each.day) });
  if (each.state === "retiring" || each.state === "retired") await move("active", "retiring");
  if (each.state === "retired") await move("retiring", "retired");
  if (["rejected", "cancelled", "expired"].includes(each.state)) await move("pending", each.state);
  if (each.dns !== undefined) {
    const state = each.state;
    await store.update({
      id: each.id,
      whileState: state,
      at,
      changes: { lastDnsCheck: verdict(each.dns) },
    });
  }
}

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
];

/** Every line of the database's plan for `query` with sequential scans made as dear as can be. */
async function planOf(store: KyselyRequestStore, query: Compilable): Promise<string[]> {
  const compiled = query.compile();
  if (store.dialect === "sqlite") {
    const result = await store.kysely.executeQuery<{ detail: string }>(
      CompiledQuery.raw(`EXPLAIN QUERY PLAN ${compiled.sql}`, [...compiled.parameters]),
    );
    return result.rows.map((row) => row.detail);
  }
  return store.kysely.transaction().execute(async (trx) => {
    // With few rows a sequential scan is cheapest; turned off, one is chosen only when no
    // index can answer the query at all.
    await sql`set local enable_seqscan = off`.execute(trx);
    const result = await trx.executeQuery<{ "QUERY PLAN": string }>(
      CompiledQuery.raw(`EXPLAIN ${compiled.sql}`, [...compiled.parameters]),
    );
    return result.rows.map((row) => row["QUERY PLAN"]);
  });
}

/** A plan that reads the whole table (or a whole index) instead of the rows it needs. */
function walksEverything(plan: string[]): string[] {
  return plan.filter((line) => /^SCAN \w+/.test(line.trim()) || /Seq Scan/.test(line));
}

describe.each(DIALECTS)("App Home's queries on %s", (dialect) => {
  async function seeded(): Promise<KyselyRequestStore> {
    const store = await openTestStore(await freshDatabase(dialect), {
      encryptionKey: randomEncryptionKey(),
    });
    for (const each of SEEDS) await seed(store, each);
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
});
