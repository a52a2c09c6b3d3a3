import type { Database } from "better-sqlite3";
import { CodedError } from "../errors.js";

export interface Migration {
  /** 1, 2, 3, ... in order; stored in SQLite's `user_version` once applied. */
  version: number;
  description: string;
  sql: string;
}

/**
 * Ordered schema steps. Never edit a step that has shipped: add the next one.
 * The CHECK on `sealed_key` makes the database itself refuse to keep a private key on a
 * request that no longer needs one.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "requests, audit events, metadata",
    sql: `
      CREATE TABLE requests (
        id TEXT PRIMARY KEY,
        domain TEXT NOT NULL,
        selector TEXT NOT NULL,
        bits INTEGER NOT NULL,
        usernames TEXT NOT NULL,
        testing INTEGER NOT NULL,
        reason TEXT,
        ticket TEXT,
        requester_id TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        message_ts TEXT,
        public_key_base64 TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        record_value TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN
          ('pending', 'applying', 'active', 'failed', 'rejected', 'cancelled', 'expired')),
        certificate_installed INTEGER NOT NULL DEFAULT 0,
        enabled_usernames TEXT NOT NULL DEFAULT '[]',
        dns_status TEXT,
        dns_problem_code TEXT,
        dns_summary TEXT,
        dns_checked_at TEXT,
        decided_by TEXT,
        decided_at TEXT,
        reject_reason TEXT,
        last_error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        sealed_key BLOB,
        CHECK (state IN ('pending', 'applying', 'failed') OR sealed_key IS NULL)
      ) STRICT;
      CREATE UNIQUE INDEX requests_one_open_per_selector ON requests (domain, selector)
        WHERE state IN ('pending', 'applying', 'failed');
      CREATE INDEX requests_by_state ON requests (state, created_at);
      CREATE INDEX requests_by_domain ON requests (domain, created_at);
      CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        request_id TEXT NOT NULL REFERENCES requests (id),
        at TEXT NOT NULL,
        actor_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        details TEXT NOT NULL
      ) STRICT;
      CREATE INDEX events_by_request ON events (request_id, id);
      CREATE TABLE meta (
        name TEXT PRIMARY KEY,
        value ANY NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 2,
    description: "remember which audit events were told in Slack",
    // Events written before this step were told by the version that wrote them.
    sql: `
      ALTER TABLE events ADD COLUMN delivered_at TEXT;
      UPDATE events SET delivered_at = at;
      CREATE INDEX events_undelivered ON events (id) WHERE delivered_at IS NULL;
    `,
  },
];

/**
 * Brings the schema up to date. Runs under BEGIN IMMEDIATE so two processes opening the
 * same file at once cannot both apply a step; the second sees the new version and skips.
 */
export function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS): void {
  const latest = migrations.at(-1)?.version ?? 0;
  db.transaction(() => {
    const current = Number(db.pragma("user_version", { simple: true }));
    if (current > latest) {
      throw new CodedError(
        "CONFIG_INVALID",
        `The database ${db.name} has schema version ${current}, newer than this dkim-bot knows (${latest}). Run the newer dkim-bot, or restore a backup made by this version.`,
      );
    }
    for (const migration of migrations) {
      if (migration.version > current) {
        db.exec(migration.sql);
        // Integer from our own list, not input: safe to put in the pragma text.
        db.pragma(`user_version = ${migration.version}`);
      }
    }
  }).immediate();
}
