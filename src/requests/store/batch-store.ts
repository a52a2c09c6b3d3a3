/**
 * The batches table (migration 9) on Kysely, for SQLite and PostgreSQL alike: the rows, and
 * the writes KyselyRequestStore delegates here. A batch row is small and changes rarely (a
 * check, a card, a run), so a write reads it, applies the change and writes it back only if
 * nobody wrote in between (`version`), all in one transaction.
 */
import type { ExpressionBuilder, Selectable, Transaction } from "kysely";
import {
  type Batch,
  type BatchChanges,
  type BatchInput,
  type BatchRun,
  hasWork,
  type LeftOut,
  type PlannedDomain,
} from "../batch.js";
import type { Lease } from "../store.js";
import { bumpGeneration } from "./generation.js";
import type { BatchesTable, StoreDb, StoreDialect, StoreTables } from "./schema.js";

export const BATCH_COLUMNS = [
  "id",
  "requester_id",
  "channel_id",
  "team_id",
  "enterprise_id",
  "input",
  "response_url",
  "state",
  "invalid",
  "skipped",
  "planned",
  "message_ts",
  "runs",
  "told",
  "version",
  "created_at",
  "updated_at",
] as const;

type BatchRow = Pick<Selectable<BatchesTable>, (typeof BATCH_COLUMNS)[number]>;

function toRow(batch: Batch): BatchRow & { has_work: number } {
  return {
    id: batch.id,
    requester_id: batch.requesterId,
    channel_id: batch.channelId,
    team_id: batch.teamId,
    enterprise_id: batch.enterpriseId,
    input: JSON.stringify(batch.input),
    response_url: batch.responseUrl,
    state: batch.state,
    invalid: JSON.stringify(batch.invalid),
    skipped: JSON.stringify(batch.skipped),
    planned: JSON.stringify(batch.planned),
    message_ts: batch.messageTs,
    runs: JSON.stringify(batch.runs),
    told: JSON.stringify(batch.told),
    version: batch.version,
    has_work: hasWork(batch) ? 1 : 0,
    created_at: batch.createdAt,
    updated_at: batch.updatedAt,
  };
}

export function batchFromRow(row: BatchRow): Batch {
  return {
    id: row.id,
    requesterId: row.requester_id,
    channelId: row.channel_id,
    teamId: row.team_id,
    enterpriseId: row.enterprise_id,
    input: JSON.parse(row.input) as BatchInput,
    responseUrl: row.response_url,
    state: row.state,
    invalid: JSON.parse(row.invalid) as LeftOut[],
    skipped: JSON.parse(row.skipped) as LeftOut[],
    planned: JSON.parse(row.planned) as PlannedDomain[],
    messageTs: row.message_ts,
    runs: JSON.parse(row.runs) as BatchRun[],
    told: JSON.parse(row.told) as Batch["told"],
    version: Number(row.version),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

type Db = StoreDb | Transaction<StoreTables>;

export async function insertBatch(trx: Db, batch: Batch, hold: Lease): Promise<void> {
  await trx
    .insertInto("batches")
    .values({ ...toRow(batch), owner: hold.owner, lease_until: hold.until })
    .execute();
}

export async function getBatch(db: Db, id: string): Promise<Batch | undefined> {
  const row = await db
    .selectFrom("batches")
    .select(BATCH_COLUMNS)
    .where("id", "=", id)
    .executeTakeFirst();
  return row === undefined ? undefined : batchFromRow(row);
}

/**
 * Applies `changes` to the batch as read at `expectedVersion`; undefined when another write
 * came first (the caller reads again and decides again).
 */
export async function updateBatch(
  trx: Transaction<StoreTables>,
  id: string,
  expectedVersion: number,
  at: string,
  changes: BatchChanges,
): Promise<Batch | undefined> {
  const current = await getBatch(trx, id);
  if (current === undefined || current.version !== expectedVersion) return undefined;
  const next: Batch = { ...current, ...changes, version: current.version + 1, updatedAt: at };
  const { id: _id, created_at: _created, ...row } = toRow(next);
  const result = await trx
    .updateTable("batches")
    .set(row)
    .where("id", "=", id)
    .where("version", "=", expectedVersion)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1 ? next : undefined;
}

/**
 * The card is posted: the batch, and every request of it without a message yet (made while
 * Slack did not answer, or while the card was being posted), point at it, in the same
 * transaction. A card already attached wins: the requests point at that one, and the batch is
 * returned as it is.
 */
export async function attachBatchCard(
  trx: Transaction<StoreTables>,
  id: string,
  channelId: string,
  messageTs: string,
  at: string,
  dialect: StoreDialect,
): Promise<Batch | undefined> {
  const current = await getBatch(trx, id);
  if (current === undefined) return undefined;
  const next =
    current.messageTs === null
      ? await updateBatch(trx, id, current.version, at, { messageTs })
      : current;
  const attached = await trx
    .updateTable("requests")
    .set({ message_ts: next?.messageTs ?? messageTs, channel_id: channelId })
    .where("batch_id", "=", id)
    .where("message_ts", "is", null)
    .returning("id")
    .execute();
  // The channel decides who sees these keys in /dkim domains: a write of requests like any.
  if (attached.length > 0)
    await bumpGeneration(
      trx,
      attached.map((row) => row.id),
      dialect,
    );
  return next;
}

const free = (now: string) => (eb: ExpressionBuilder<StoreTables, "batches">) =>
  eb.or([eb("lease_until", "is", null), eb("lease_until", "<", now)]);

/** Batches with work that nobody holds now, taken for `lease.owner`, oldest first. */
export async function claimBatchesWithWork(
  trx: Transaction<StoreTables>,
  lease: Lease,
  now: string,
  limit: number,
): Promise<Batch[]> {
  const rows = await trx
    .updateTable("batches")
    .set({ owner: lease.owner, lease_until: lease.until })
    .where("has_work", "=", 1)
    .where(free(now))
    .where(
      "id",
      "in",
      trx
        .selectFrom("batches")
        .select("id")
        .where("has_work", "=", 1)
        .where(free(now))
        .orderBy("created_at")
        .limit(limit),
    )
    .returning(BATCH_COLUMNS)
    .execute();
  return rows.map(batchFromRow).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/** Takes or extends the hold on one batch for `lease.owner`, unless another holds it. */
export async function holdBatch(
  trx: Transaction<StoreTables>,
  id: string,
  lease: Lease,
  now: string,
): Promise<boolean> {
  const result = await trx
    .updateTable("batches")
    .set({ owner: lease.owner, lease_until: lease.until })
    .where("id", "=", id)
    .where((eb) => eb.or([free(now)(eb), eb("owner", "=", lease.owner)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function releaseBatch(
  trx: Transaction<StoreTables>,
  id: string,
  owner: string,
): Promise<void> {
  await trx
    .updateTable("batches")
    .set({ owner: null, lease_until: null })
    .where("id", "=", id)
    .where("owner", "=", owner)
    .execute();
}
