/**
 * Requests in a real store in whatever state a query test needs, moved there the way the
 * service moves them (insert, then each transition in turn), and the database's own plan of a
 * query: shared by the App Home and the inventory query tests.
 */
import { type Compilable, CompiledQuery, sql } from "kysely";
import type { DkimKeyPair } from "../../../src/dkim/keys.js";
import type { DkimRequest, RequestState, StoredDnsCheck } from "../../../src/requests/model.js";
import type { KyselyRequestStore } from "../../../src/requests/store/kysely-store.js";
import { sampleRequest, withKey } from "../../helpers/sample-request.js";

const DAY = 24 * 60 * 60 * 1000;
const T0 = Date.parse("2026-01-01T00:00:00.000Z");

/** Day `days` of the seeds' calendar, as ISO 8601. */
export const iso = (days: number) => new Date(T0 + days * DAY).toISOString();

export function verdict(status: StoredDnsCheck["status"]): StoredDnsCheck {
  return { status, problemCode: null, summary: status, checkedAt: iso(0) };
}

export interface Seed {
  id: string;
  state: RequestState;
  day: number;
  /** Default `<id>.example`. */
  domain?: string;
  /** Default CCHAN. */
  channelId?: string;
  requesterId?: string;
  dns?: StoredDnsCheck["status"];
  /** Active and retiring keys: when they turned active (days). */
  activatedDay?: number;
  rotationOf?: string;
}

/** Inserts a request and moves it to its state the way the service would. */
export async function seed(
  store: KyselyRequestStore,
  keyPair: DkimKeyPair,
  each: Seed,
): Promise<void> {
  const at = iso(each.day);
  const request: DkimRequest = sampleRequest({
    id: each.id,
    domain: each.domain ?? `${each.id}.example`,
    selector: "s1",
    requesterId: each.requesterId ?? "UREQ",
    channelId: each.channelId ?? "CCHAN",
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

/**
 * Every line of the database's plan for `query` with sequential scans made as dear as can be;
 * with `sortsToo`, sorts as well (PostgreSQL then sorts only when no index gives the order).
 */
export async function planOf(
  store: KyselyRequestStore,
  query: Compilable,
  options: { sortsToo?: boolean } = {},
): Promise<string[]> {
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
    if (options.sortsToo === true) {
      await sql`set local enable_sort = off`.execute(trx);
      await sql`set local enable_bitmapscan = off`.execute(trx);
    }
    const result = await trx.executeQuery<{ "QUERY PLAN": string }>(
      CompiledQuery.raw(`EXPLAIN ${compiled.sql}`, [...compiled.parameters]),
    );
    return result.rows.map((row) => row["QUERY PLAN"]);
  });
}

/** A plan that reads the whole table (or a whole index) instead of the rows it needs. */
export function walksEverything(plan: string[]): string[] {
  return plan.filter((line) => /^SCAN \w+/.test(line.trim()) || /Seq Scan/.test(line));
}
