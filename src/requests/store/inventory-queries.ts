/**
 * The queries behind `/dkim domains`, for SQLite and PostgreSQL alike: pages in name order
 * (keyset, never OFFSET), each read through an index, so that reading a cluster's worth of
 * domains costs the same whether the store holds a hundred requests or a hundred thousand.
 * test/requests/store/inventory-queries.test.ts asks both databases for each plan.
 *
 * Every key of the fleet is read for the counts, so those pages carry only the summary (a
 * handful of short columns: rows turned into objects are what the time goes on); the columns a
 * line shows are read for the keys of one page, by id.
 */
import { type SqlBool, sql } from "kysely";
import type { CurrentKey, KeyCursor, KeySummary } from "../store.js";
import { IS_CURRENT_KEY_SQL } from "./migrations.js";
import type { RequestsTable, StoreDb } from "./schema.js";

const SUMMARY_COLUMNS = [
  "id",
  "domain",
  "state",
  "channel_id",
  "team_id",
  "enterprise_id",
  "dns_status",
  "rotation_of",
] as const;

const DETAIL_COLUMNS = [
  ...SUMMARY_COLUMNS,
  "selector",
  "message_ts",
  "created_at",
  "activated_at",
  "dns_checked_at",
] as const;

type SummaryRow = Pick<RequestsTable, (typeof SUMMARY_COLUMNS)[number]>;
type DetailRow = Pick<RequestsTable, (typeof DETAIL_COLUMNS)[number]>;

/**
 * Current keys after `after`, in (domain, id) order: requests_current_by_domain (migration 10)
 * holds exactly these rows in this order, so a page is one range of that index.
 */
function currentKeysPage(db: StoreDb, after: KeyCursor | undefined, limit: number) {
  const query = db
    .selectFrom("requests")
    // The index's own condition, word for word (see IS_CURRENT_KEY_SQL).
    .where(sql<SqlBool>`${IS_CURRENT_KEY_SQL}`)
    .orderBy("domain")
    .orderBy("id")
    .limit(Math.max(1, Math.trunc(limit)));
  return after === undefined
    ? query
    : query.where(({ eb, refTuple, tuple }) =>
        eb(refTuple("domain", "id"), ">", tuple(after.domain, after.id)),
      );
}

/** A page of every key's summary (the counts read all of them). */
export function keySummariesQuery(db: StoreDb, after: KeyCursor | undefined, limit: number) {
  return currentKeysPage(db, after, limit).select(SUMMARY_COLUMNS);
}

/** A page of keys with the columns a line shows (the CSV). */
export function currentKeysQuery(db: StoreDb, after: KeyCursor | undefined, limit: number) {
  return currentKeysPage(db, after, limit).select(DETAIL_COLUMNS);
}

/**
 * These requests by id (the primary key), with the columns a line shows, while they are still
 * current keys: one that moved on since its summary was read is left out, not shown as it is.
 */
export function keysByIdQuery(db: StoreDb, ids: readonly string[]) {
  return db
    .selectFrom("requests")
    .select(DETAIL_COLUMNS)
    .where("id", "in", ids)
    .where(sql<SqlBool>`${IS_CURRENT_KEY_SQL}`);
}

/** Domains of any request after `after`, each once, in name order: requests_by_domain. */
export function requestDomainsQuery(db: StoreDb, after: string | undefined, limit: number) {
  const query = db.selectFrom("requests").select("domain").distinct();
  const from = after === undefined ? query : query.where("domain", ">", after);
  return from.orderBy("domain").limit(Math.max(1, Math.trunc(limit)));
}

export function keySummaryFromRow(row: SummaryRow): KeySummary {
  return {
    id: row.id,
    domain: row.domain,
    // The queries read only migration 10's four states.
    state: row.state as KeySummary["state"],
    channelId: row.channel_id,
    teamId: row.team_id,
    enterpriseId: row.enterprise_id,
    dnsStatus: row.dns_status,
    rotation: row.rotation_of !== null,
  };
}

export function currentKeyFromRow(row: DetailRow): CurrentKey {
  return {
    ...keySummaryFromRow(row),
    selector: row.selector,
    messageTs: row.message_ts,
    createdAt: row.created_at,
    activatedAt: row.activated_at,
    dnsCheckedAt: row.dns_checked_at,
  };
}
