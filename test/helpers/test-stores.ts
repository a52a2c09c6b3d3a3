/**
 * Stores for tests, on both dialects: a real SQLite file in a temp dir, and a real PostgreSQL
 * server (DKIM_TEST_DATABASE_URL, which .ci/run sets after starting a throwaway server with
 * scripts/test-servers/start-postgres.sh). Each PostgreSQL store gets a schema of its own, so
 * tests never see each other's rows; two stores opened with the same `shareWith` are two
 * replicas on one database.
 *
 * Outside CI, without a server, the PostgreSQL variants are skipped with a note saying how
 * to run them; in CI a missing server fails them instead (nothing may be skipped there).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll } from "vitest";
import type { EncryptionKey } from "../../src/requests/sealing.js";
import type { KyselyRequestStore } from "../../src/requests/store/kysely-store.js";
import { openStore } from "../../src/requests/store/open-store.js";
import type { StoreDialect } from "../../src/requests/store/schema.js";

export const POSTGRES_URL = process.env.DKIM_TEST_DATABASE_URL;
const IN_CI = process.env.CI === "true" || process.env.CI === "1";

if (POSTGRES_URL === undefined && !IN_CI) {
  console.warn(
    'PostgreSQL tests skipped: no DKIM_TEST_DATABASE_URL. Start a throwaway server with: eval "$(bash scripts/test-servers/start-postgres.sh)"',
  );
}

/** The dialects to run store tests on here: both, or SQLite alone outside CI without a server. */
export const DIALECTS: readonly StoreDialect[] =
  POSTGRES_URL !== undefined || IN_CI ? ["sqlite", "postgres"] : ["sqlite"];

export interface TestDatabase {
  dialect: StoreDialect;
  /** SQLite: the data dir. PostgreSQL: a data dir too (unused by the store) and a schema. */
  dataDir: string;
  /** PostgreSQL: `search_path=<schema>`. */
  connectionOptions?: string;
  databaseUrl?: string;
}

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await admin?.end();
  admin = undefined;
});

let admin: pg.Pool | undefined;
function adminPool(): pg.Pool {
  if (POSTGRES_URL === undefined) {
    throw new Error(
      'CI must run the PostgreSQL tests: start the server first (eval "$(bash scripts/test-servers/start-postgres.sh)")',
    );
  }
  admin ??= new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
  return admin;
}

/** A fresh, empty database of the dialect: a temp dir, or a new schema. */
export async function freshDatabase(dialect: StoreDialect): Promise<TestDatabase> {
  const dataDir = mkdtempSync(join(tmpdir(), "dkim-store-"));
  cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
  if (dialect === "sqlite") return { dialect, dataDir };
  const schema = `t_${randomBytes(6).toString("hex")}`;
  const pool = adminPool();
  await pool.query(`CREATE SCHEMA ${schema}`);
  cleanups.push(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });
  return {
    dialect,
    dataDir,
    connectionOptions: `search_path=${schema}`,
    ...(POSTGRES_URL === undefined ? {} : { databaseUrl: POSTGRES_URL }),
  };
}

/** Runs SQL on the test database as another connection would (a lock held elsewhere, a peek). */
export async function adminQuery(database: TestDatabase, text: string): Promise<pg.QueryResult> {
  const client = await adminPool().connect();
  try {
    await client.query(`SET ${database.connectionOptions?.replace("=", " TO ") ?? ""}`);
    return await client.query(text);
  } finally {
    client.release();
  }
}

export async function openTestStore(
  database: TestDatabase,
  options: {
    encryptionKey: EncryptionKey;
    owner?: string;
    busyDeadlineMs?: number;
    deliveryHoldMs?: number;
    clock?: () => number;
  },
): Promise<KyselyRequestStore> {
  const store = await openStore({
    dataDir: database.dataDir,
    encryptionKey: options.encryptionKey,
    owner: options.owner ?? `test-${randomBytes(3).toString("hex")}`,
    ...(database.databaseUrl === undefined ? {} : { databaseUrl: database.databaseUrl }),
    ...(database.connectionOptions === undefined
      ? {}
      : { connectionOptions: database.connectionOptions, poolSize: 4 }),
    ...(options.busyDeadlineMs === undefined ? {} : { busyDeadlineMs: options.busyDeadlineMs }),
    ...(options.deliveryHoldMs === undefined ? {} : { deliveryHoldMs: options.deliveryHoldMs }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  cleanups.push(() => store.close());
  return store;
}

/**
 * A new, empty PostgreSQL database on the test server, for whole bots (end-to-end tests):
 * its URL. Dropped after the file's tests (the bots must be stopped by then).
 */
export async function freshPostgresUrl(): Promise<string> {
  const pool = adminPool();
  const name = `e2e_${randomBytes(6).toString("hex")}`;
  await pool.query(`CREATE DATABASE ${name}`);
  cleanups.push(async () => {
    await pool.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });
  const url = new URL(POSTGRES_URL ?? "");
  url.pathname = `/${name}`;
  return url.toString();
}
