/**
 * The requests table's reads that several store methods share: `list`'s query (its filters and
 * orders, each served by an index of migrations.ts) and the guard of a verdict write.
 */
import { type SqlBool, sql, type UpdateQueryBuilder } from "kysely";
import type { RequestState, StoredDnsCheck } from "../model.js";
import { isOpenState, OPEN_STATES } from "../state-machine.js";
import type { RequestFilter } from "../store.js";
import { IS_OPEN_REQUEST_SQL } from "./migrations.js";
import { REQUEST_COLUMNS } from "./rows.js";
import type { StoreDb, StoreTables } from "./schema.js";

/** An update of a request guarded by its stored DNS verdict (null: none yet). */
export function whileVerdict<
  Q extends UpdateQueryBuilder<StoreTables, "requests", "requests", O>,
  O,
>(query: Q, dns: StoredDnsCheck | null): Q {
  if (dns === null) return query.where("dns_status", "is", null) as Q;
  return query
    .where("dns_status", "=", dns.status)
    .where("dns_summary", "=", dns.summary)
    .where("dns_checked_at", "=", dns.checkedAt)
    .where("dns_problem_code", dns.problemCode === null ? "is" : "=", dns.problemCode) as Q;
}

/**
 * The requests `list` reads: oldest first (a batch's in name order), or with a limit the
 * newest first. Every open state asked for at once is written as migration 11's condition, so
 * requests_open_by_created reads the newest open requests without sorting them all.
 */
export function listQuery(db: StoreDb, filter: RequestFilter) {
  let query = db.selectFrom("requests").select(REQUEST_COLUMNS);
  if (filter.states !== undefined) {
    // Every open state: migration 11's requests_open_by_created answers it, newest first.
    query = isEveryOpenState(filter.states)
      ? query.where(sql<SqlBool>`${IS_OPEN_REQUEST_SQL}`)
      : query.where("state", "in", filter.states);
  }
  if (filter.domain !== undefined) query = query.where("domain", "=", filter.domain);
  if (filter.batchId !== undefined) query = query.where("batch_id", "=", filter.batchId);
  if (filter.createdBefore !== undefined) {
    query = query.where("created_at", "<", filter.createdBefore);
  }
  if (filter.publicationDue === true) {
    query = query
      .where("publish_zone", "is not", null)
      .where((eb) =>
        eb.or([
          eb("publish_state", "is", null),
          eb.and([
            eb("state", "in", ["pending", "applying", "failed", "active"]),
            eb("publish_state", "<>", "published"),
          ]),
          eb.and([eb("state", "=", "retiring"), eb("publish_state", "<>", "revoked")]),
          eb.and([eb("state", "=", "retired"), eb("publish_state", "<>", "revoked")]),
          eb.and([
            eb("state", "in", ["rejected", "cancelled", "expired"]),
            eb("publish_state", "<>", "removed"),
          ]),
        ]),
      );
  }
  // A batch's members in name order, as its card lists them: their keys are made on every core
  // at once, so the order they were stored in is the order their keys happened to finish.
  if (filter.batchId !== undefined && filter.limit === undefined) {
    return query.orderBy("domain").orderBy("created_at").orderBy("created_seq");
  }
  query =
    filter.limit === undefined
      ? query.orderBy("created_at").orderBy("created_seq")
      : query
          .orderBy("created_at", "desc")
          .orderBy("created_seq", "desc")
          .limit(Math.max(0, Math.trunc(filter.limit)));
  return query;
}

function isEveryOpenState(states: readonly RequestState[]): boolean {
  return OPEN_STATES.every((state) => states.includes(state)) && states.every(isOpenState);
}
