/**
 * The events table (the audit trail) and its delivery holds: an event is told in Slack by the
 * replica that holds it, and any replica takes it once the hold has run out. KyselyRequestStore
 * delegates here; each function runs in the transaction (or on the connection) it is given.
 */
import type { Kysely } from "kysely";
import type { AuditEvent } from "../model.js";
import type { Lease } from "../store.js";
import { EVENT_COLUMNS, type EventRow, eventFromRow } from "./rows.js";
import type { StoreTables } from "./schema.js";

type Db = Kysely<StoreTables>;

export async function listEvents(db: Db, requestId: string): Promise<AuditEvent[]> {
  const rows: EventRow[] = await db
    .selectFrom("events")
    .select(EVENT_COLUMNS)
    .where("request_id", "=", requestId)
    .orderBy("id")
    .execute();
  return rows.map(eventFromRow);
}

export async function listEventsByDomain(db: Db, domain: string): Promise<AuditEvent[]> {
  const rows: EventRow[] = await db
    .selectFrom("events as e")
    .innerJoin("requests as r", "r.id", "e.request_id")
    .select(["e.id", "e.request_id", "e.at", "e.actor_id", "e.kind", "e.details"])
    .where("r.domain", "=", domain)
    .orderBy("e.id")
    .execute();
  return rows.map(eventFromRow);
}

export async function listUndeliveredEvents(db: Db): Promise<AuditEvent[]> {
  const rows: EventRow[] = await db
    .selectFrom("events")
    .select(EVENT_COLUMNS)
    .where("delivered_at", "is", null)
    .orderBy("id")
    .execute();
  return rows.map(eventFromRow);
}

/** Up to `limit` undelivered events nobody holds (as of `now`), oldest first, held by `hold`. */
export async function claimUndeliveredEvents(
  trx: Db,
  hold: Lease,
  now: string,
  limit: number,
): Promise<AuditEvent[]> {
  const rows: EventRow[] = await trx
    .updateTable("events")
    .set({ delivery_owner: hold.owner, delivery_until: hold.until })
    .where("delivered_at", "is", null)
    .where((eb) => eb.or([eb("delivery_until", "is", null), eb("delivery_until", "<", now)]))
    .where(
      "id",
      "in",
      trx
        .selectFrom("events")
        .select("id")
        .where("delivered_at", "is", null)
        .where((eb) => eb.or([eb("delivery_until", "is", null), eb("delivery_until", "<", now)]))
        .orderBy("id")
        .limit(limit),
    )
    .returning(EVENT_COLUMNS)
    .execute();
  return rows.map(eventFromRow).sort((a, b) => a.id - b.id);
}

/** Moves the end of this owner's holds on events still undelivered. */
export async function extendHolds(
  trx: Db,
  eventIds: readonly number[],
  hold: Lease,
): Promise<void> {
  await trx
    .updateTable("events")
    .set({ delivery_owner: hold.owner, delivery_until: hold.until })
    .where("id", "in", eventIds)
    .where("delivered_at", "is", null)
    .where("delivery_owner", "=", hold.owner)
    .execute();
}

/** Gives this owner's holds back: any replica may take the events at once. */
export async function releaseHolds(
  trx: Db,
  eventIds: readonly number[],
  owner: string,
): Promise<void> {
  await trx
    .updateTable("events")
    .set({ delivery_owner: null, delivery_until: null })
    .where("id", "in", eventIds)
    .where("delivered_at", "is", null)
    .where("delivery_owner", "=", owner)
    .execute();
}

export async function markDelivered(trx: Db, eventId: number, at: string): Promise<void> {
  await trx
    .updateTable("events")
    .set({ delivered_at: at })
    .where("id", "=", eventId)
    .where("delivered_at", "is", null)
    .execute();
}
