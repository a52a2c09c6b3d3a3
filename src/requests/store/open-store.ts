/**
 * Opens the store the configuration asks for: PostgreSQL when DATABASE_URL is set (several
 * replicas share it), else SQLite in DATA_DIR. Opening runs the migrations and checks the
 * encryption key against a sealed canary, so a wrong key, URL or password stops the start-up
 * with one sentence instead of failing later on one request.
 */
import { chmodSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { CodedError } from "../../errors.js";
import {
  ENCRYPTION_KEY_FILE,
  ENCRYPTION_KEY_VARIABLE,
  type EncryptionKey,
  seal,
  unseal,
} from "../sealing.js";
import { retryWhileBusy } from "./busy.js";
import { KyselyRequestStore } from "./kysely-store.js";
import { migrate } from "./migrations.js";
import { describeDatabaseError, describePostgresTarget } from "./postgres-errors.js";
import type { StoreDb, StoreDialect, StoreTables } from "./schema.js";
import { betterSqliteDialect } from "./sqlite-dialect.js";

export const DATABASE_FILE = "dkim-bot.sqlite";

/** How long opening waits for another replica's migration or lock. */
const OPEN_DEADLINE_MS = 30_000;

export interface OpenStoreOptions {
  /** `postgres://…`: PostgreSQL. Unset: SQLite in `dataDir`. */
  databaseUrl?: string | undefined;
  dataDir: string;
  encryptionKey: EncryptionKey;
  /** This replica's name in leases and delivery holds. */
  owner: string;
  fileName?: string;
  busyDeadlineMs?: number;
  deliveryHoldMs?: number;
  clock?: () => number;
  /** PostgreSQL only: connections in the pool. */
  poolSize?: number;
  /** PostgreSQL only: e.g. `search_path=test_1` for isolated tests. */
  connectionOptions?: string;
}

export async function openStore(options: OpenStoreOptions): Promise<KyselyRequestStore> {
  return options.databaseUrl === undefined ? openSqlite(options) : openPostgres(options);
}

/**
 * SQLite's page cache, in KiB, the bound of the memory the store keeps for itself. SQLite fills
 * it as the database grows and keeps it: better-sqlite3 builds SQLite with 16 MB, which a
 * bot's RSS reached only after some 3,000 requests (about 0.5 MB more per 100 until then,
 * issue 16). The bot reads a request, its audit events and a few indexes at a time; pages it
 * does not keep come back from the OS's file cache.
 */
export const SQLITE_CACHE_KIB = 2000;

async function openSqlite(options: OpenStoreOptions): Promise<KyselyRequestStore> {
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const path = join(options.dataDir, options.fileName ?? DATABASE_FILE);
  const raw = new Database(path);
  try {
    // Sealed keys only, but there is no reason to let others read the audit trail either.
    chmodSync(path, 0o600);
    raw.pragma("journal_mode = WAL");
    // In WAL mode NORMAL is still safe against a crash of the process (every commit is in the
    // WAL); only an OS crash or power cut may lose the last commits, never corrupt the file.
    // FULL would fsync on every commit, on the event loop: measured 0.35 ms against 0.03 ms
    // per commit here, a few commits per request (see BENCHMARKS.md).
    raw.pragma("synchronous = NORMAL");
    // Waiting for another process's lock would block the event loop: give up at once (almost)
    // and let the store retry asynchronously (busy.ts).
    raw.pragma("busy_timeout = 5");
    // Foreign keys are enforced once the migrations ran: a step that rebuilds a table (SQLite's
    // only way to change a CHECK) needs them off, and they cannot change inside its transaction.
    raw.pragma("foreign_keys = OFF");
    // Erased sealed keys are overwritten in the file, not just unlinked from the b-tree.
    raw.pragma("secure_delete = ON");
    raw.pragma(`cache_size = -${SQLITE_CACHE_KIB}`);
  } catch (error) {
    raw.close();
    throw error;
  }
  const db: StoreDb = new Kysely<StoreTables>({ dialect: betterSqliteDialect(raw) });
  const afterMigrations = async (applied: number) => {
    // Only a migration (with the keys off) can have broken a reference: the check reads every
    // row (about 0.1 s at 100,000 requests), so a start that migrated nothing skips it.
    const broken = applied > 0 ? (raw.pragma("foreign_key_check") as unknown[]) : [];
    if (broken.length > 0) {
      throw new Error(
        `The database ${path} has ${broken.length} broken references after migrating.`,
      );
    }
    raw.pragma("foreign_keys = ON");
  };
  return prepare(db, "sqlite", `SQLite database ${path}`, options, afterMigrations, {
    restore: `set ${ENCRYPTION_KEY_VARIABLE} to it, or restore ${join(options.dataDir, ENCRYPTION_KEY_FILE)} from your backup`,
    ifLost: `move ${path} aside to start with an empty database`,
  });
}

async function openPostgres(options: OpenStoreOptions): Promise<KyselyRequestStore> {
  const url = options.databaseUrl ?? "";
  const target = describePostgresTarget(url);
  const size = options.poolSize ?? 10;
  // The production pool is opened whole at start and kept (`min`): a burst of commands after a
  // quiet while would otherwise open its connections (TCP and SCRAM each) before their acks.
  const warm = options.poolSize === undefined;
  const pool = new pg.Pool({
    connectionString: url,
    max: size,
    ...(warm ? { min: size } : {}),
    application_name: "dkim-bot",
    connectionTimeoutMillis: 5000,
    // A statement waiting for a lock gives up after this; the store retries it (busy.ts), so a
    // long lock held by someone else delays a write but never hangs a person's command.
    lock_timeout: 500,
    statement_timeout: 30_000,
    idle_in_transaction_session_timeout: 30_000,
    ...(options.connectionOptions === undefined
      ? {}
      : { options: `-c ${options.connectionOptions}` }),
  });
  // An idle client that loses its connection must not crash the process.
  pool.on("error", () => {});
  try {
    const opened = await Promise.allSettled(
      Array.from({ length: warm ? size : 1 }, () => pool.connect()),
    );
    for (const each of opened) if (each.status === "fulfilled") each.value.release();
    const failed = opened.find((each) => each.status === "rejected");
    if (failed !== undefined) throw failed.reason;
  } catch (error) {
    await pool.end().catch(() => {});
    throw new CodedError("STORE_UNAVAILABLE", describeDatabaseError(error, target), {
      cause: error,
    });
  }
  const db: StoreDb = new Kysely<StoreTables>({ dialect: new PostgresDialect({ pool }) });
  return prepare(db, "postgres", `PostgreSQL database ${target}`, options, async () => {}, {
    restore: `set ${ENCRYPTION_KEY_VARIABLE} to it on every replica`,
    ifLost: "point DATABASE_URL at a new, empty database",
  });
}

async function prepare(
  db: StoreDb,
  dialect: StoreDialect,
  description: string,
  options: OpenStoreOptions,
  afterMigrations: (applied: number) => Promise<void>,
  keyAdvice: KeyAdvice,
): Promise<KyselyRequestStore> {
  try {
    // Replicas starting together wait for each other here (the first one migrates).
    const applied = await retryWhileBusy(
      () => migrate(db, dialect, { describe: description }),
      OPEN_DEADLINE_MS,
    );
    await afterMigrations(applied);
    await retryWhileBusy(
      () => checkEncryptionKey(db, options.encryptionKey, description, keyAdvice),
      OPEN_DEADLINE_MS,
    );
  } catch (error) {
    await db.destroy().catch(() => {});
    throw error;
  }
  return new KyselyRequestStore({
    db,
    dialect,
    encryptionKey: options.encryptionKey,
    description,
    owner: options.owner,
    ...(options.busyDeadlineMs === undefined ? {} : { busyDeadlineMs: options.busyDeadlineMs }),
    ...(options.deliveryHoldMs === undefined ? {} : { deliveryHoldMs: options.deliveryHoldMs }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
}

/** What to tell an operator whose encryption key does not open the database. */
interface KeyAdvice {
  restore: string;
  ifLost: string;
}

/** A sealed known text: opening it proves the configured key is the one the database knows. */
const KEY_CHECK_NAME = "key-check";
const KEY_ID_NAME = "key-id";
const KEY_CHECK_TEXT = "dkim-bot encryption key check v1";

/**
 * The first replica to open the database seals the canary; every later open, on any replica,
 * must be able to unseal it. (A conflict-free insert, so two replicas starting at once agree.)
 */
async function checkEncryptionKey(
  db: StoreDb,
  key: EncryptionKey,
  description: string,
  advice: KeyAdvice,
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto("meta")
      .values([
        {
          name: KEY_CHECK_NAME,
          value: seal(key, KEY_CHECK_TEXT, KEY_CHECK_NAME).toString("base64"),
        },
        { name: KEY_ID_NAME, value: key.id },
      ])
      .onConflict((oc) => oc.column("name").doNothing())
      .execute();
  });
  const rows = await db
    .selectFrom("meta")
    .select(["name", "value"])
    .where("name", "in", [KEY_CHECK_NAME, KEY_ID_NAME])
    .execute();
  const canary = rows.find((row) => row.name === KEY_CHECK_NAME)?.value;
  const storedId = rows.find((row) => row.name === KEY_ID_NAME)?.value;
  let opened = false;
  try {
    // Databases made by dkim-bot 0.1 hold the canary as a blob; later ones as base64 text.
    const blob = typeof canary === "string" ? Buffer.from(canary, "base64") : canary;
    opened = blob !== undefined && unseal(key, blob, KEY_CHECK_NAME) === KEY_CHECK_TEXT;
  } catch {
    opened = false;
  }
  if (opened) return;
  throw new CodedError(
    "SEALING_FAILED",
    `The encryption key from ${key.source} (key id ${key.id}) is not the key the ${description} was sealed with (key id ${typeof storedId === "string" ? storedId : "unknown"}). ` +
      `Start dkim-bot with the original key: ${advice.restore}. ` +
      `If that key is lost, ${advice.ifLost}; its open requests must then be created again.`,
  );
}
