/**
 * `dkim-bot migrate-store`: copies everything from one store to another (SQLite to
 * PostgreSQL), as one transaction on the target: requests with their sealed keys (the same
 * encryption key opens them; they are copied sealed, never opened), events with their ids,
 * the thread replies the bot edits later, batches, and nothing else (leases are per run). A target that already holds requests or events is
 * refused, so nothing is ever merged or overwritten. Counts are verified, and every copied
 * sealed key is opened once on the target to prove it is intact.
 */
import { sql } from "kysely";
import { CodedError } from "../../errors.js";
import type { KyselyRequestStore } from "./kysely-store.js";

export interface CopyReport {
  requests: number;
  events: number;
  sealedKeys: number;
}

const PAGE = 500;

export async function copyStore(
  source: KyselyRequestStore,
  target: KyselyRequestStore,
): Promise<CopyReport> {
  const from = source.kysely;
  const to = target.kysely;
  const [targetRequests, targetEvents] = await Promise.all([
    countOf(to, "requests"),
    countOf(to, "events"),
  ]);
  if (targetRequests + targetEvents > 0) {
    throw new CodedError(
      "CONFIG_INVALID",
      `The target ${target.description} is not empty (${targetRequests} requests, ${targetEvents} events): migrate-store copies only into an empty database. Point --to at a new database.`,
    );
  }
  await to.transaction().execute(async (trx) => {
    for (let offset = 0; ; offset += PAGE) {
      const rows = await from
        .selectFrom("requests")
        .selectAll()
        .orderBy("created_at")
        .orderBy("id")
        .limit(PAGE)
        .offset(offset)
        .execute();
      if (rows.length === 0) break;
      await trx.insertInto("requests").values(rows).execute();
    }
    for (let after = 0; ; ) {
      const rows = await from
        .selectFrom("events")
        .selectAll()
        .where("id", ">", after)
        .orderBy("id")
        .limit(PAGE)
        .execute();
      const last = rows.at(-1);
      if (last === undefined) break;
      await trx.insertInto("events").values(rows).execute();
      after = Number(last.id);
    }
    const replies = await from.selectFrom("thread_replies").selectAll().execute();
    for (let at = 0; at < replies.length; at += PAGE) {
      await trx
        .insertInto("thread_replies")
        .values(replies.slice(at, at + PAGE))
        .execute();
    }
    // Batches without their holds: the bot is stopped, so nobody holds them.
    const batchRows = await from.selectFrom("batches").selectAll().execute();
    for (let at = 0; at < batchRows.length; at += PAGE) {
      await trx
        .insertInto("batches")
        .values(
          batchRows.slice(at, at + PAGE).map((row) => ({ ...row, owner: null, lease_until: null })),
        )
        .execute();
    }
    if (target.dialect === "postgres") {
      // Explicit ids went past the identity's sequence: new events must number after them.
      await sql`select setval(pg_get_serial_sequence('events', 'id'), coalesce((select max(id) from events), 0) + 1, false)`.execute(
        trx,
      );
    }
  });
  const report: CopyReport = {
    requests: await countOf(to, "requests"),
    events: await countOf(to, "events"),
    sealedKeys: 0,
  };
  const expected = {
    requests: await countOf(from, "requests"),
    events: await countOf(from, "events"),
  };
  if (report.requests !== expected.requests || report.events !== expected.events) {
    throw new CodedError(
      "STORE_UNAVAILABLE",
      `The copy does not add up: ${expected.requests} requests and ${expected.events} events in the source, ${report.requests} and ${report.events} in the target. Do not start the bot on the target; drop it and run migrate-store again.`,
    );
  }
  const sealed = await to
    .selectFrom("requests")
    .select("id")
    .where("sealed_key", "is not", null)
    .execute();
  for (const { id } of sealed) {
    await target.readPrivateKey(id);
    report.sealedKeys++;
  }
  return report;
}

async function countOf(
  db: KyselyRequestStore["kysely"],
  table: "requests" | "events",
): Promise<number> {
  const row = await db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number | string>().as("count"))
    .executeTakeFirstOrThrow();
  return Number(row.count);
}
