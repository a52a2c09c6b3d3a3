/**
 * The queries behind `/dkim domains`, for SQLite and PostgreSQL alike: pages in name order
 * (keyset, never OFFSET), each read through an index, so that reading a cluster's worth of
 * domains costs the same whether the store holds a hundred requests or a hundred thousand.
 * test/requests/store/inventory-queries.test.ts asks both databases for each plan.
 */
import { type SqlBool, sql } from "kysely";
import type { KeyCursor } from "../store.js";
import { IS_CURRENT_KEY_SQL } from "./migrations.js";
import type { StoreDb } from "./schema.js";

/**
 * Current keys after `after`, in (domain, id) order: requests_current_by_domain (migration 10)
 * holds exactly these rows in this order, so a page is one range of that index.
 */
export function currentKeysQuery(db: StoreDb, after: KeyCursor | undefined, limit: number) {
  const query = db
    .selectFrom("requests")
    .select([
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
    ])
    // The index's own condition, word for word (see IS_CURRENT_KEY_SQL).
    .where(sql<SqlBool>`${IS_CURRENT_KEY_SQL}`);
  const from =
    after === undefined
      ? query
      : query.where(({ eb, refTuple, tuple }) =>
          eb(refTuple("domain", "id"), ">", tuple(after.domain, after.id)),
        );
  return from
    .orderBy("domain")
    .orderBy("id")
    .limit(Math.max(1, Math.trunc(limit)));
}

/** Domains of any request after `after`, each once, in name order: requests_by_domain. */
export function requestDomainsQuery(db: StoreDb, after: string | undefined, limit: number) {
  const query = db.selectFrom("requests").select("domain").distinct();
  const from = after === undefined ? query : query.where("domain", ">", after);
  return from.orderBy("domain").limit(Math.max(1, Math.trunc(limit)));
}
