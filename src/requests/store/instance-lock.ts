/**
 * One bot per SQLite DATA_DIR. Two processes on one SQLite file would each resume the other's
 * applies (two certificate calls) and tell the same events twice; several replicas need
 * PostgreSQL. The lock is SQLite's own: a small lock database held in an EXCLUSIVE
 * transaction for the life of the process. The operating system drops the lock when the
 * process ends, however it ends (SIGKILL included), so a crash never leaves a stale lock.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { CodedError } from "../../errors.js";

export const LOCK_FILE = "dkim-bot.lock";

export interface InstanceLock {
  readonly path: string;
  release(): void;
}

export function acquireInstanceLock(dataDir: string): InstanceLock {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, LOCK_FILE);
  const db = new Database(path);
  try {
    db.pragma("busy_timeout = 0");
    db.pragma("locking_mode = EXCLUSIVE");
    db.exec("BEGIN EXCLUSIVE");
  } catch (error) {
    db.close();
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("SQLITE_BUSY")) {
      throw new CodedError(
        "STORE_BUSY",
        `another dkim-bot is already running on DATA_DIR ${dataDir} (it holds ${path}). Stop it first: one bot per SQLite DATA_DIR. To run several replicas, give them one PostgreSQL database with DATABASE_URL.`,
      );
    }
    throw error;
  }
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      if (db.inTransaction) db.exec("ROLLBACK");
      db.close();
    },
  };
}
