import { chmodSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { DkimCheckStatus } from "../dkim/check.js";
import { isKeyBits } from "../dkim/keys.js";
import { CodedError } from "../errors.js";
import { RequestConflictError } from "./errors.js";
import { migrate } from "./migrations.js";
import type {
  AuditDetails,
  AuditEvent,
  AuditEventKind,
  DkimRequest,
  NewAuditEvent,
  RequestState,
  StoredDnsCheck,
} from "./model.js";
import {
  ENCRYPTION_KEY_FILE,
  ENCRYPTION_KEY_VARIABLE,
  type EncryptionKey,
  seal,
  unseal,
} from "./sealing.js";
import { assertTransition, keepsPrivateKey } from "./state-machine.js";
import type {
  EventInput,
  RequestChanges,
  RequestFilter,
  RequestStore,
  StoredChange,
  TransitionArgs,
  UpdateArgs,
} from "./store.js";

export const DATABASE_FILE = "dkim-bot.sqlite";

/** A sealed known text: opening it at start-up proves the configured key is the right one. */
const KEY_CHECK_NAME = "key-check";
const KEY_ID_NAME = "key-id";
const KEY_CHECK_TEXT = "dkim-bot encryption key check v1";

export interface SqliteRequestStoreOptions {
  dataDir: string;
  encryptionKey: EncryptionKey;
  /** How long a writer waits for another connection's lock before failing. */
  busyTimeoutMs?: number;
  fileName?: string;
}

interface RequestRow {
  id: string;
  domain: string;
  selector: string;
  bits: number;
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
  updated_at: string;
}

interface EventRow {
  id: number;
  request_id: string;
  at: string;
  actor_id: string;
  kind: AuditEventKind;
  details: string;
}

/** Every column but the sealed key: reading a request never touches the key. */
const REQUEST_COLUMNS = `id, domain, selector, bits, usernames, testing, reason, ticket, requester_id,
  channel_id, message_ts, public_key_base64, fingerprint, record_value, state,
  certificate_installed, enabled_usernames, dns_status, dns_problem_code, dns_summary,
  dns_checked_at, decided_by, decided_at, reject_reason, last_error, created_at, updated_at`;

type Statement = Database.Statement<unknown[], unknown>;

/**
 * RequestStore on one SQLite file in DATA_DIR (WAL, so several connections and processes can
 * share it). Opening runs the migrations and checks the encryption key against the sealed
 * canary, so a wrong key stops the start-up instead of failing later on one request.
 */
export class SqliteRequestStore implements RequestStore {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly key: EncryptionKey;
  private readonly statements = new Map<string, Statement>();

  constructor(options: SqliteRequestStoreOptions) {
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    this.path = join(options.dataDir, options.fileName ?? DATABASE_FILE);
    this.key = options.encryptionKey;
    this.db = new Database(this.path);
    try {
      // Sealed keys only, but there is no reason to let others read the audit trail either.
      chmodSync(this.path, 0o600);
      this.db.pragma("journal_mode = WAL");
      // In WAL mode NORMAL is still safe against a crash of the process (every commit is in the
      // WAL); only an OS crash or power cut may lose the last commits, never corrupt the file.
      // FULL would fsync on every commit, on the event loop: measured 0.35 ms against 0.03 ms
      // per commit here, a few commits per request (see BENCHMARKS.md).
      this.db.pragma("synchronous = NORMAL");
      this.db.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
      this.db.pragma("foreign_keys = ON");
      // Erased sealed keys are overwritten in the file, not just unlinked from the b-tree.
      this.db.pragma("secure_delete = ON");
      migrate(this.db);
      this.checkEncryptionKey(options.dataDir);
    } catch (error) {
      this.db.close();
      throw error;
    }
  }

  insert(request: DkimRequest, privateKeyPem: string, event: EventInput): AuditEvent {
    const sealed = seal(this.key, privateKeyPem, request.id);
    const write = this.db.transaction(() => {
      this.statement(
        `INSERT INTO requests (${REQUEST_COLUMNS}, sealed_key) VALUES (@id, @domain, @selector,
          @bits, @usernames, @testing, @reason, @ticket, @requester_id, @channel_id, @message_ts,
          @public_key_base64, @fingerprint, @record_value, @state, @certificate_installed,
          @enabled_usernames, @dns_status, @dns_problem_code, @dns_summary, @dns_checked_at,
          @decided_by, @decided_at, @reject_reason, @last_error, @created_at, @updated_at,
          @sealed_key)`,
      ).run({ ...toRow(request), sealed_key: sealed });
      return this.writeEvent({ ...event, requestId: request.id, at: request.createdAt });
    });
    try {
      return write.immediate();
    } catch (error) {
      if (sqliteCode(error) === "SQLITE_CONSTRAINT_UNIQUE") {
        const existing = this.findOpen(request.domain, request.selector);
        if (existing) throw new RequestConflictError(existing);
      }
      throw error;
    }
  }

  get(id: string): DkimRequest | undefined {
    const row = this.statement(`SELECT ${REQUEST_COLUMNS} FROM requests WHERE id = ?`).get(id);
    return row === undefined ? undefined : fromRow(row as RequestRow);
  }

  findOpen(domain: string, selector: string): DkimRequest | undefined {
    const row = this.statement(
      `SELECT ${REQUEST_COLUMNS} FROM requests WHERE domain = ? AND selector = ?
        AND state IN ('pending', 'applying', 'failed')`,
    ).get(domain, selector);
    return row === undefined ? undefined : fromRow(row as RequestRow);
  }

  list(filter: RequestFilter = {}): DkimRequest[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.states !== undefined) {
      if (filter.states.length === 0) return [];
      where.push(`state IN (${filter.states.map(() => "?").join(", ")})`);
      params.push(...filter.states);
    }
    if (filter.domain !== undefined) {
      where.push("domain = ?");
      params.push(filter.domain);
    }
    if (filter.createdBefore !== undefined) {
      where.push("created_at < ?");
      params.push(filter.createdBefore);
    }
    let sql = `SELECT ${REQUEST_COLUMNS} FROM requests`;
    if (where.length > 0) sql += ` WHERE ${where.join(" AND ")}`;
    if (filter.limit !== undefined) {
      sql += " ORDER BY created_at DESC, rowid DESC LIMIT ?";
      params.push(Math.max(0, Math.trunc(filter.limit)));
    } else {
      sql += " ORDER BY created_at, rowid";
    }
    return this.statement(sql)
      .all(...params)
      .map((row) => fromRow(row as RequestRow));
  }

  transition(args: TransitionArgs): StoredChange | undefined {
    assertTransition(args.from, args.to);
    return this.conditionalWrite(
      args.id,
      args.from,
      args.to,
      args.at,
      args.changes ?? {},
      args.event,
    );
  }

  update(args: UpdateArgs): StoredChange | undefined {
    return this.conditionalWrite(
      args.id,
      args.whileState,
      args.whileState,
      args.at,
      args.changes,
      args.event,
      args.whileLastDnsCheck,
    );
  }

  appendEvent(event: NewAuditEvent): AuditEvent {
    return this.db.transaction(() => this.writeEvent(event)).immediate();
  }

  readPrivateKey(id: string): string | undefined {
    const row = this.statement("SELECT sealed_key FROM requests WHERE id = ?").get(id) as
      | { sealed_key: Uint8Array | null }
      | undefined;
    if (row === undefined || row.sealed_key === null) return undefined;
    return unseal(this.key, row.sealed_key, id);
  }

  listEvents(requestId: string): AuditEvent[] {
    return this.statement(
      "SELECT id, request_id, at, actor_id, kind, details FROM events WHERE request_id = ? ORDER BY id",
    )
      .all(requestId)
      .map((row) => eventFromRow(row as EventRow));
  }

  listEventsByDomain(domain: string): AuditEvent[] {
    return this.statement(
      `SELECT e.id, e.request_id, e.at, e.actor_id, e.kind, e.details FROM events e
        JOIN requests r ON r.id = e.request_id WHERE r.domain = ? ORDER BY e.id`,
    )
      .all(domain)
      .map((row) => eventFromRow(row as EventRow));
  }

  listUndeliveredEvents(): AuditEvent[] {
    return this.statement(
      "SELECT id, request_id, at, actor_id, kind, details FROM events WHERE delivered_at IS NULL ORDER BY id",
    )
      .all()
      .map((row) => eventFromRow(row as EventRow));
  }

  markEventDelivered(eventId: number, at: string): void {
    this.statement("UPDATE events SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL").run(
      at,
      eventId,
    );
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /**
   * Read, merge and write under BEGIN IMMEDIATE: the write lock is taken before the read, so
   * no other connection can slip in between, and `WHERE state = ?` decides the race.
   */
  private conditionalWrite(
    id: string,
    from: RequestState,
    to: RequestState,
    at: string,
    changes: RequestChanges,
    event: EventInput | undefined,
    whileLastDnsCheck?: StoredDnsCheck | null,
  ): StoredChange | undefined {
    const write = this.db.transaction((): StoredChange | undefined => {
      const current = this.get(id);
      if (current === undefined || current.state !== from) return undefined;
      if (
        whileLastDnsCheck !== undefined &&
        JSON.stringify(current.lastDnsCheck) !== JSON.stringify(whileLastDnsCheck)
      ) {
        return undefined;
      }
      const next: DkimRequest = { ...current, ...changes, state: to, updatedAt: at };
      const result = this.statement(
        `UPDATE requests SET state = @state, channel_id = @channel_id, message_ts = @message_ts,
          certificate_installed = @certificate_installed, enabled_usernames = @enabled_usernames,
          dns_status = @dns_status, dns_problem_code = @dns_problem_code,
          dns_summary = @dns_summary, dns_checked_at = @dns_checked_at, decided_by = @decided_by,
          decided_at = @decided_at, reject_reason = @reject_reason, last_error = @last_error,
          updated_at = @updated_at,
          sealed_key = CASE WHEN @erase_key = 1 THEN NULL ELSE sealed_key END
          WHERE id = @id AND state = @from`,
      ).run({ ...toRow(next), from, erase_key: keepsPrivateKey(to) ? 0 : 1 });
      if (result.changes !== 1) return undefined;
      const written = event === undefined ? null : this.writeEvent({ ...event, requestId: id, at });
      return { request: next, event: written };
    });
    return write.immediate();
  }

  private writeEvent(event: NewAuditEvent): AuditEvent {
    const details = JSON.stringify(event.details);
    const result = this.statement(
      "INSERT INTO events (request_id, at, actor_id, kind, details) VALUES (?, ?, ?, ?, ?)",
    ).run(event.requestId, event.at, event.actorId, event.kind, details);
    return { ...event, id: Number(result.lastInsertRowid), details: JSON.parse(details) };
  }

  private statement(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** First open seals the canary; every later open must be able to unseal it. */
  private checkEncryptionKey(dataDir: string): void {
    this.db
      .transaction(() => {
        const insert = this.statement("INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)");
        insert.run(KEY_CHECK_NAME, seal(this.key, KEY_CHECK_TEXT, KEY_CHECK_NAME));
        insert.run(KEY_ID_NAME, this.key.id);
      })
      .immediate();
    const canary = this.statement("SELECT value FROM meta WHERE name = ?").get(KEY_CHECK_NAME) as
      | { value: Uint8Array }
      | undefined;
    const storedId = this.statement("SELECT value FROM meta WHERE name = ?").get(KEY_ID_NAME) as
      | { value: string }
      | undefined;
    let opened = false;
    try {
      opened =
        canary !== undefined && unseal(this.key, canary.value, KEY_CHECK_NAME) === KEY_CHECK_TEXT;
    } catch {
      opened = false;
    }
    if (!opened) {
      const keyFile = join(dataDir, ENCRYPTION_KEY_FILE);
      throw new CodedError(
        "SEALING_FAILED",
        `The encryption key from ${this.key.source} (key id ${this.key.id}) is not the key the database ${this.path} was sealed with (key id ${storedId?.value ?? "unknown"}). ` +
          `Start dkim-bot with the original key: set ${ENCRYPTION_KEY_VARIABLE} to it, or restore ${keyFile} from your backup. ` +
          `If that key is lost, move ${this.path} aside to start with an empty database; its open requests must then be created again.`,
      );
    }
  }
}

function toRow(request: DkimRequest): RequestRow {
  return {
    id: request.id,
    domain: request.domain,
    selector: request.selector,
    bits: request.bits,
    usernames: JSON.stringify(request.usernames),
    testing: request.testing ? 1 : 0,
    reason: request.reason,
    ticket: request.ticket,
    requester_id: request.requesterId,
    channel_id: request.channelId,
    message_ts: request.messageTs,
    public_key_base64: request.publicKeyBase64,
    fingerprint: request.fingerprint,
    record_value: request.recordValue,
    state: request.state,
    certificate_installed: request.progress.certificateInstalled ? 1 : 0,
    enabled_usernames: JSON.stringify(request.progress.enabledUsernames),
    dns_status: request.lastDnsCheck?.status ?? null,
    dns_problem_code: request.lastDnsCheck?.problemCode ?? null,
    dns_summary: request.lastDnsCheck?.summary ?? null,
    dns_checked_at: request.lastDnsCheck?.checkedAt ?? null,
    decided_by: request.decidedBy,
    decided_at: request.decidedAt,
    reject_reason: request.rejectReason,
    last_error: request.lastError,
    created_at: request.createdAt,
    updated_at: request.updatedAt,
  };
}

function fromRow(row: RequestRow): DkimRequest {
  if (!isKeyBits(row.bits)) {
    throw new Error(`Request ${row.id} has an unsupported key size in the database: ${row.bits}.`);
  }
  return {
    id: row.id,
    domain: row.domain,
    selector: row.selector,
    bits: row.bits,
    usernames: parseStringArray(row.usernames),
    testing: row.testing === 1,
    reason: row.reason,
    ticket: row.ticket,
    requesterId: row.requester_id,
    channelId: row.channel_id,
    messageTs: row.message_ts,
    publicKeyBase64: row.public_key_base64,
    fingerprint: row.fingerprint,
    recordValue: row.record_value,
    state: row.state,
    progress: {
      certificateInstalled: row.certificate_installed === 1,
      enabledUsernames: parseStringArray(row.enabled_usernames),
    },
    lastDnsCheck:
      row.dns_status === null
        ? null
        : {
            status: row.dns_status,
            problemCode: row.dns_problem_code,
            summary: row.dns_summary ?? "",
            checkedAt: row.dns_checked_at ?? row.updated_at,
          },
    decidedBy: row.decided_by,
    decidedAt: row.decided_at,
    rejectReason: row.reject_reason,
    lastError: row.last_error,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function eventFromRow(row: EventRow): AuditEvent {
  return {
    id: row.id,
    requestId: row.request_id,
    at: row.at,
    actorId: row.actor_id,
    kind: row.kind,
    details: JSON.parse(row.details) as AuditDetails,
  };
}

function parseStringArray(json: string): string[] {
  const value: unknown = JSON.parse(json);
  return Array.isArray(value)
    ? value.filter((item): item is string => typeof item === "string")
    : [];
}

function sqliteCode(error: unknown): string | undefined {
  if (error instanceof Error && "code" in error && typeof error.code === "string")
    return error.code;
  return undefined;
}
