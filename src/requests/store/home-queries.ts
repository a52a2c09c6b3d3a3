/**
 * The queries behind App Home (and monitoring's pages of a state, and the key-age reminders'
 * keys due), for SQLite and PostgreSQL alike. Each reads only the rows it
 * shows or counts, through an index of migration 7 (or of an earlier one), so Home costs the
 * same whether the store holds a hundred requests or a hundred thousand (most of them long
 * finished): no query walks the history. test/requests/store/home-queries.test.ts asks both
 * databases for each plan.
 */
import { type ExpressionBuilder, type SelectQueryBuilder, type SqlBool, sql } from "kysely";
import type { RequestState } from "../model.js";
import { OPEN_STATES } from "../state-machine.js";
import type { HomeSection, PageCursor } from "../store.js";
import { IS_OPEN_REQUEST_SQL } from "./migrations.js";
import { REQUEST_COLUMNS, type RequestRow } from "./rows.js";
import type { StoreDb, StoreTables } from "./schema.js";

type RequestsQuery<Row> = SelectQueryBuilder<StoreTables, "requests", Row>;

/** A verdict of monitoring that is a problem (a failed lookup is not stored for these keys). */
const PROBLEM_VERDICTS = ["missing", "wrong"] as const;

/** The rows of one section, in the order Home shows them, at most `limit`. */
export function homeSectionQuery(
  db: StoreDb,
  section: HomeSection,
  limit: number,
): RequestsQuery<RequestRow> {
  const query = whereSection(db.selectFrom("requests").select(REQUEST_COLUMNS), section);
  const ordered =
    section.kind === "rotation-due"
      ? query.orderBy("activated_at").orderBy("created_seq")
      : section.kind === "requested-by"
        ? query.orderBy("created_at", "desc").orderBy("created_seq", "desc")
        : query.orderBy("created_at").orderBy("created_seq");
  return ordered.limit(Math.max(0, Math.trunc(limit)));
}

/** How many rows the section has in all (Home shows a page of them). */
export function homeSectionCountQuery(db: StoreDb, section: HomeSection) {
  return whereSection(
    db.selectFrom("requests").select((eb) => eb.fn.countAll<number | string>().as("count")),
    section,
  );
}

/**
 * A page of the requests in one state, in creation order (ties by id), after a cursor
 * (monitoring reads its fleet so). requests_by_state (state, created_at): the `>=` lets the
 * planner seek to the cursor; the `or` alone would walk the state's rows from the first on
 * every page.
 */
export function statePageQuery(
  db: StoreDb,
  state: RequestState,
  after: PageCursor | undefined,
  limit: number,
): RequestsQuery<RequestRow> {
  let query = db.selectFrom("requests").select(REQUEST_COLUMNS).where("state", "=", state);
  if (after !== undefined) {
    query = query
      .where("created_at", ">=", after.createdAt)
      .where((eb) => eb.or([eb("created_at", ">", after.createdAt), eb("id", ">", after.id)]));
  }
  return query
    .orderBy("created_at")
    .orderBy("id")
    .limit(Math.max(0, Math.trunc(limit)));
}

/** How many requests are in each of `states` (none finished: those are the history). */
export function stateCountsQuery(db: StoreDb, states: readonly RequestState[]) {
  return db
    .selectFrom("requests")
    .select(["state", (eb) => eb.fn.countAll<number | string>().as("count")])
    .where("state", "in", states)
    .groupBy("state");
}

function whereSection<Row>(query: RequestsQuery<Row>, section: HomeSection): RequestsQuery<Row> {
  switch (section.kind) {
    case "waiting-approval": {
      // requests_by_dns_status (state, dns_status, created_at): the oldest live ones first.
      const live = query.where("state", "=", "pending").where("dns_status", "=", "live");
      return section.notRequestedBy === undefined
        ? live
        : live.where("requester_id", "<>", section.notRequestedBy);
    }
    case "requested-by":
      // requests_open_by_requester (migration 11): the person's open requests, newest first.
      return query
        .where("requester_id", "=", section.requesterId)
        .where(sql<SqlBool>`${IS_OPEN_REQUEST_SQL}`);
    case "monitor-problems":
      // requests_by_dns_status again: keys that sign, whose last verdict is not live.
      return query
        .where("state", "in", ["active", "retiring"])
        .where("dns_status", "in", PROBLEM_VERDICTS);
    case "rotation-due": {
      // requests_by_activation (state, activated_at); the open rotation by requests_by_rotation_of.
      const due = query
        .where("state", "=", "active")
        .where("activated_at", "<", section.activatedBefore)
        .where((eb) => eb.not(eb.exists(openRotationOf(eb))));
      const since = section.notRemindedSince;
      return since === undefined
        ? due
        : due.where((eb) => eb.not(eb.exists(reminderAfter(eb, since))));
    }
  }
}

/** A key-age reminder of this key after `since` (events_by_request: a key's few events). */
function reminderAfter(eb: ExpressionBuilder<StoreTables, "requests">, since: string) {
  return eb
    .selectFrom("events")
    .select("events.id")
    .whereRef("events.request_id", "=", "requests.id")
    .where("events.kind", "=", "rotation-due")
    .where("events.at", ">", since);
}

/** An open request that rotates this key (a rotation under way). */
function openRotationOf(eb: ExpressionBuilder<StoreTables, "requests">) {
  return eb
    .selectFrom("requests as rotation")
    .select("rotation.id")
    .whereRef("rotation.rotation_of", "=", "requests.id")
    .where("rotation.state", "in", OPEN_STATES);
}
