/**
 * The schema as dkim-bot 0.1 shipped it (SQLite only, version in user_version), to prove that
 * such a database is adopted by today's migrations. A fixture: never change it.
 */
import Database from "better-sqlite3";

const V1 = `
  CREATE TABLE requests (
    id TEXT PRIMARY KEY, domain TEXT NOT NULL, selector TEXT NOT NULL, bits INTEGER NOT NULL,
    usernames TEXT NOT NULL, testing INTEGER NOT NULL, reason TEXT, ticket TEXT,
    requester_id TEXT NOT NULL, channel_id TEXT NOT NULL, message_ts TEXT,
    public_key_base64 TEXT NOT NULL, fingerprint TEXT NOT NULL, record_value TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN
      ('pending', 'applying', 'active', 'failed', 'rejected', 'cancelled', 'expired')),
    certificate_installed INTEGER NOT NULL DEFAULT 0, enabled_usernames TEXT NOT NULL DEFAULT '[]',
    dns_status TEXT, dns_problem_code TEXT, dns_summary TEXT, dns_checked_at TEXT,
    decided_by TEXT, decided_at TEXT, reject_reason TEXT, last_error TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, sealed_key BLOB,
    CHECK (state IN ('pending', 'applying', 'failed') OR sealed_key IS NULL)
  ) STRICT;
  CREATE UNIQUE INDEX requests_one_open_per_selector ON requests (domain, selector)
    WHERE state IN ('pending', 'applying', 'failed');
  CREATE INDEX requests_by_state ON requests (state, created_at);
  CREATE INDEX requests_by_domain ON requests (domain, created_at);
  CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT NOT NULL REFERENCES requests (id),
    at TEXT NOT NULL, actor_id TEXT NOT NULL, kind TEXT NOT NULL, details TEXT NOT NULL
  ) STRICT;
  CREATE INDEX events_by_request ON events (request_id, id);
  CREATE TABLE meta (name TEXT PRIMARY KEY, value ANY NOT NULL) STRICT;
`;

const V2 = `
  ALTER TABLE events ADD COLUMN delivered_at TEXT;
  UPDATE events SET delivered_at = at;
  CREATE INDEX events_undelivered ON events (id) WHERE delivered_at IS NULL;
`;

/** A database file as 0.1 left it at `version` (1 or 2), with `seed` run after step 1. */
export function writeLegacyDatabase(path: string, version: 1 | 2, seed = ""): void {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.exec(V1);
  db.exec(seed);
  db.pragma("user_version = 1");
  if (version === 2) {
    db.exec(V2);
    db.pragma("user_version = 2");
  }
  db.close();
}
