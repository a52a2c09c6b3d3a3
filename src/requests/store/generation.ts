/**
 * The generation of the requests: a count in the meta row `requests_generation` that every write
 * of requests moves in its own transaction, and the mark it leaves on the rows it wrote.
 */
import { sql, type Transaction } from "kysely";
import type { StoreDialect, StoreTables } from "./schema.js";

/** The meta row that counts the writes of requests (requestsGeneration). */
export const GENERATION = "requests_generation";

/**
 * Counts a write of requests, in the writing transaction: readers see the new count exactly
 * when they see the change, on every replica. A requests write locks its own rows first and
 * this row last, so two writers never wait on each other in a cycle.
 *
 * The rows written are marked with the new count (`written_in`, migration 11). The meta row
 * stays locked until the commit, so the counts are handed out in commit order: once a reader
 * sees generation G, every write marked G or lower is visible to it (listDomainsWrittenSince).
 */
export async function bumpGeneration(
  trx: Transaction<StoreTables>,
  requestIds: readonly string[],
  dialect: StoreDialect,
): Promise<void> {
  if (dialect === "postgres" && requestIds.length > 0) {
    // One round trip: the count moved and the rows marked in one statement (a data-modifying
    // WITH runs once, first; the rows are already this transaction's, the meta row last).
    await sql`with moved as (
        insert into meta (name, value) values (${GENERATION}, '1')
        on conflict (name) do update set value = cast(cast(meta.value as bigint) + 1 as text)
        returning value)
      update requests set written_in = (select cast(value as bigint) from moved)
      where id in (${sql.join(requestIds)})`.execute(trx);
    return;
  }
  const row = await trx
    .insertInto("meta")
    .values({ name: GENERATION, value: "1" })
    .onConflict((oc) =>
      oc.column("name").doUpdateSet({ value: sql`cast(cast(meta.value as bigint) + 1 as text)` }),
    )
    .returning("value")
    .executeTakeFirstOrThrow();
  if (requestIds.length === 0) return;
  await trx
    .updateTable("requests")
    .set({ written_in: Number(row.value) })
    .where("id", "in", requestIds)
    .execute();
}
