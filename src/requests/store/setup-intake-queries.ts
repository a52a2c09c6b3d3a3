/**
 * The setup_intake table: an acked setup, recorded before its ack, until its request exists or
 * its requester was told it was refused. Any replica finishes one nobody holds (after a stop or
 * a crash). KyselyRequestStore delegates here.
 */
import type { ExpressionBuilder, Kysely } from "kysely";
import type { QueuedSetup } from "../model.js";
import type { Lease } from "../store.js";
import { INTAKE_COLUMNS, type IntakeRow, intakeFromRow } from "./rows.js";
import type { StoreTables } from "./schema.js";

type Db = Kysely<StoreTables>;

export async function getSetup(db: Db, id: string): Promise<QueuedSetup | undefined> {
  const row = await db
    .selectFrom("setup_intake")
    .select(INTAKE_COLUMNS)
    .where("id", "=", id)
    .executeTakeFirst();
  return row === undefined ? undefined : intakeFromRow(row);
}

/** Up to `limit` setups nobody holds (as of `now`), oldest first, held by `lease`. */
export async function claimUnfinishedSetups(
  trx: Db,
  lease: Lease,
  now: string,
  limit: number,
): Promise<QueuedSetup[]> {
  const unheld = (eb: ExpressionBuilder<StoreTables, "setup_intake">) =>
    eb.or([eb("lease_until", "is", null), eb("lease_until", "<", now)]);
  const rows: IntakeRow[] = await trx
    .updateTable("setup_intake")
    .set({ owner: lease.owner, lease_until: lease.until })
    .where(unheld)
    .where(
      "id",
      "in",
      trx.selectFrom("setup_intake").select("id").where(unheld).orderBy("received_at").limit(limit),
    )
    .returning(INTAKE_COLUMNS)
    .execute();
  return rows.map(intakeFromRow).sort((a, b) => a.receivedAt.localeCompare(b.receivedAt));
}

export async function refuseSetup(trx: Db, id: string, outcome: string): Promise<void> {
  await trx
    .updateTable("setup_intake")
    .set({ state: "refused", outcome })
    .where("id", "=", id)
    .where("state", "=", "queued")
    .execute();
}

export async function forgetSetup(trx: Db, id: string): Promise<void> {
  await trx.deleteFrom("setup_intake").where("id", "=", id).execute();
}
