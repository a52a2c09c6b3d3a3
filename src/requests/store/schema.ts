/**
 * The tables as Kysely sees them, for SQLite and PostgreSQL alike. Both dialects store the
 * same values: text for ids, JSON and ISO 8601 times (fixed width, so text order is time
 * order), integers 0/1 for flags, and a byte string for the sealed key.
 */
import type { Generated, Kysely } from "kysely";
import type { DkimCheckStatus } from "../../dkim/check.js";
import type { AuditEventKind, RequestState } from "../model.js";

export type StoreDialect = "sqlite" | "postgres";

export interface RequestsTable {
  id: string;
  domain: string;
  selector: string;
  bits: number;
  /** JSON array of strings. */
  usernames: string;
  testing: number;
  reason: string | null;
  ticket: string | null;
  requester_id: string;
  channel_id: string;
  message_ts: string | null;
  public_key_base64: string;
  fingerprint: string;
  record_value: string;
  state: RequestState;
  certificate_installed: number;
  /** JSON array of strings. */
  enabled_usernames: string;
  dns_status: DkimCheckStatus | null;
  dns_problem_code: string | null;
  dns_summary: string | null;
  dns_checked_at: string | null;
  decided_by: string | null;
  decided_at: string | null;
  reject_reason: string | null;
  last_error: string | null;
  created_at: string;
  /** Insertion order: ties of created_at (same millisecond) sort by it. */
  created_seq: number | null;
  updated_at: string;
  /** AES-256-GCM blob (sealing.ts); NULL once the key is no longer needed (a CHECK enforces it). */
  sealed_key: Uint8Array | null;
  /** Which replica runs the apply of this request, and until when that claim holds. */
  apply_owner: string | null;
  apply_lease_until: string | null;
  team_id: string | null;
  enterprise_id: string | null;
  rotation_of: string | null;
  rotation_of_selector: string | null;
  replaced_by: string | null;
  replaced_by_selector: string | null;
  activated_at: string | null;
  retire_after: string | null;
  retired_at: string | null;
  retired_by: string | null;
  publish_zone: string | null;
  publish_state: string | null;
  /** The requests_generation of the write that last changed the row (migration 11); NULL before. */
  written_in: number | string | null;
  /** The batch the request was made in (several domains, one card); NULL for a single setup. */
  batch_id: string | null;
}

export interface BatchesTable {
  id: string;
  requester_id: string;
  channel_id: string;
  team_id: string | null;
  enterprise_id: string | null;
  /** JSON of BatchInput. */
  input: string;
  response_url: string | null;
  state: "queued" | "making" | "ready" | "refused";
  /** JSON arrays of LeftOut, LeftOut and PlannedDomain. */
  invalid: string;
  skipped: string;
  planned: string;
  message_ts: string | null;
  /** JSON array of BatchRun. */
  runs: string;
  /** JSON object: BatchNotice -> ts. */
  told: string;
  version: number;
  has_work: number;
  owner: string | null;
  lease_until: string | null;
  created_at: string;
  updated_at: string;
}

export interface SetupIntakeTable {
  id: string;
  received_at: string;
  requester_id: string;
  channel_id: string;
  team_id: string | null;
  enterprise_id: string | null;
  /** JSON of SetupInput. */
  input: string;
  response_url: string | null;
  state: "queued" | "created" | "refused";
  request_id: string | null;
  outcome: string | null;
  owner: string | null;
  lease_until: string | null;
}

export interface EventsTable {
  id: Generated<number>;
  request_id: string;
  at: string;
  actor_id: string;
  kind: AuditEventKind;
  /** JSON object. */
  details: string;
  /** When the thread was told (or there was nothing to tell); NULL while undelivered. */
  delivered_at: string | null;
  /** The replica telling it, and until when: another replica takes over only after that. */
  delivery_owner: string | null;
  delivery_until: string | null;
}

export interface MetaTable {
  name: string;
  /** Text; databases made by version 0.1 hold the canary as a blob. */
  value: string | Uint8Array;
}

/** One row per scheduler: the replica that runs its cycle, and until when. */
export interface LeasesTable {
  name: string;
  owner: string;
  expires_at: string;
}

export interface ThreadRepliesTable {
  request_id: string;
  slot: string;
  ref: string;
}

export interface SchemaMigrationsTable {
  version: number;
  description: string;
  applied_at: string;
}

export interface StoreTables {
  requests: RequestsTable;
  events: EventsTable;
  meta: MetaTable;
  leases: LeasesTable;
  setup_intake: SetupIntakeTable;
  thread_replies: ThreadRepliesTable;
  batches: BatchesTable;
  schema_migrations: SchemaMigrationsTable;
}

export type StoreDb = Kysely<StoreTables>;
