/**
 * The queries behind `/dkim domains`, for SQLite and PostgreSQL alike, each read through
 * requests_current_by_domain (migration 10), which holds the current keys only, in (domain,
 * id) order: reading a cluster's worth of domains costs the same whether the store holds a
 * hundred requests or a hundred thousand. test/requests/store/inventory-queries.test.ts asks
 * both databases for each plan.
 *
 * The counts need every key of the fleet, but turning ten thousand rows into objects is where
 * the time goes (more than the database's work): so they are read as groups of keys alike in
 * all that decides a domain's state (channel, state, verdict, rotation), each with its domains
 * as one text, a range of domains at a time. The columns a line shows are read for the keys of
 * one page only.
 */
import { type SqlBool, sql } from "kysely";
import type { CurrentKey, KeyCursor, KeyGroup } from "../store.js";
import { IS_CURRENT_KEY_SQL } from "./migrations.js";
import type { RequestsTable, StoreDb, StoreDialect } from "./schema.js";

const DETAIL_COLUMNS = [
  "id",
  "domain",
  "selector",
  "state",
  "channel_id",
  "message_ts",
  "team_id",
  "enterprise_id",
  "created_at",
  "activated_at",
  "dns_status",
  "dns_checked_at",
  "rotation_of",
] as const;

type DetailRow = Pick<RequestsTable, (typeof DETAIL_COLUMNS)[number]>;

/** The current keys, read through the index's own condition, word for word (IS_CURRENT_KEY_SQL). */
function currentKeys(db: StoreDb) {
  return db.selectFrom("requests").where(sql<SqlBool>`${IS_CURRENT_KEY_SQL}`);
}

/**
 * The domain of the key `offset` places after the first key of `from` (or of the fleet): where
 * a range of about `offset` keys ends. Read from the index alone.
 */
export function keyBoundaryQuery(db: StoreDb, from: string | undefined, offset: number) {
  const query = from === undefined ? currentKeys(db) : currentKeys(db).where("domain", ">=", from);
  return query
    .select("domain")
    .orderBy("domain")
    .limit(1)
    .offset(Math.max(0, Math.trunc(offset)));
}

/** The first domain with a current key after `after`. */
export function nextKeyDomainQuery(db: StoreDb, after: string) {
  return currentKeys(db).where("domain", ">", after).select("domain").orderBy("domain").limit(1);
}

/**
 * The current keys of the domains in [from, to) (either end open when undefined), grouped by
 * what decides a domain's state, each group's domains joined by commas (no domain holds one).
 */
export function keyGroupsQuery(
  db: StoreDb,
  dialect: StoreDialect,
  from: string | undefined,
  to: string | undefined,
) {
  let query = currentKeys(db);
  if (from !== undefined) query = query.where("domain", ">=", from);
  if (to !== undefined) query = query.where("domain", "<", to);
  const domains =
    dialect === "postgres"
      ? sql<string>`string_agg(domain, ',')`
      : sql<string>`group_concat(domain, ',')`;
  const rotation = sql<boolean | number>`rotation_of is not null`;
  return (
    query
      .select([
        "state",
        "channel_id",
        "team_id",
        "enterprise_id",
        "dns_status",
        rotation.as("rotation"),
        domains.as("domains"),
      ])
      // channel_id first: no index starts with it, so no other index is taken for the grouping's
      // order (SQLite took one with `state` in front, walking the whole history).
      .groupBy(["channel_id", "team_id", "enterprise_id", "state", "dns_status", rotation])
  );
}

/** A page of current keys after `after`, in (domain, id) order, every column (the CSV). */
export function currentKeysQuery(db: StoreDb, after: KeyCursor | undefined, limit: number) {
  const query =
    after === undefined
      ? currentKeys(db)
      : currentKeys(db).where(({ eb, refTuple, tuple }) =>
          eb(refTuple("domain", "id"), ">", tuple(after.domain, after.id)),
        );
  return query
    .select(DETAIL_COLUMNS)
    .orderBy("domain")
    .orderBy("id")
    .limit(Math.max(1, Math.trunc(limit)));
}

/** The current keys of these domains (a page's), every column. */
export function keysOfDomainsQuery(db: StoreDb, domains: readonly string[]) {
  return currentKeys(db)
    .where("domain", "in", domains)
    .select(DETAIL_COLUMNS)
    .orderBy("domain")
    .orderBy("id");
}

/**
 * The domains of requests written after generation `since`, one row per request, at most
 * `limit`, through migration 11's requests_by_written_in. Not DISTINCT: SQLite would then
 * walk requests_by_domain, the whole history, to have them unique without a sort.
 */
export function domainsWrittenSinceQuery(db: StoreDb, since: number, limit: number) {
  return db
    .selectFrom("requests")
    .select("domain")
    .where("written_in", ">", since)
    .limit(Math.max(1, Math.trunc(limit)));
}

/** Domains of any request after `after`, each once, in name order: requests_by_domain. */
export function requestDomainsQuery(db: StoreDb, after: string | undefined, limit: number) {
  const query = db.selectFrom("requests").select("domain").distinct();
  const from = after === undefined ? query : query.where("domain", ">", after);
  return from.orderBy("domain").limit(Math.max(1, Math.trunc(limit)));
}

export function keyGroupFromRow(row: {
  state: string;
  channel_id: string;
  team_id: string | null;
  enterprise_id: string | null;
  dns_status: RequestsTable["dns_status"];
  rotation: boolean | number;
  domains: string;
}): KeyGroup {
  return {
    // The queries read only migration 10's four states.
    state: row.state as KeyGroup["state"],
    channelId: row.channel_id,
    teamId: row.team_id,
    enterpriseId: row.enterprise_id,
    dnsStatus: row.dns_status,
    // PostgreSQL answers a boolean, SQLite 0 or 1.
    rotation: row.rotation === true || row.rotation === 1,
    domains: row.domains.split(","),
  };
}

export function currentKeyFromRow(row: DetailRow): CurrentKey {
  return {
    id: row.id,
    domain: row.domain,
    selector: row.selector,
    state: row.state as CurrentKey["state"],
    channelId: row.channel_id,
    teamId: row.team_id,
    enterpriseId: row.enterprise_id,
    messageTs: row.message_ts,
    createdAt: row.created_at,
    activatedAt: row.activated_at,
    dnsStatus: row.dns_status,
    dnsCheckedAt: row.dns_checked_at,
    rotation: row.rotation_of !== null,
  };
}
