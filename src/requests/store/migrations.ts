/**
 * The schema, as one ordered list of steps for SQLite and PostgreSQL alike. Never edit a step
 * that has shipped: add the next one. Where the dialects differ (auto-increment ids, byte
 * strings), a step asks `types` for the right words instead of carrying two scripts.
 *
 * The CHECK on `sealed_key` makes the database itself refuse to keep a private key on a
 * request that no longer needs one.
 */
import { type Kysely, sql } from "kysely";
import { CodedError } from "../../errors.js";
import type { StoreDialect } from "./schema.js";

export interface Migration {
  /** 1, 2, 3, ... in order; recorded in schema_migrations once applied. */
  version: number;
  description: string;
  // biome-ignore lint/suspicious/noExplicitAny: a migration sees the schema as it was then, not today's types.
  up(db: Kysely<any>, dialect: StoreDialect): Promise<void>;
}

const OPEN_STATES_SQL = sql.raw("('pending', 'applying', 'failed')");
/**
 * A domain's current keys (migration 10's index): open requests and the active key. The
 * inventory's query writes this very condition, which is what lets the planners use the index.
 * It is a test of a whole expression (`… is true`), not of the column, so that SQLite, which
 * has no statistics unless ANALYZE was run, cannot take another index with `state` in front
 * for it and sort every current key for each page: only this index answers it.
 */
export const IS_CURRENT_KEY_SQL = sql.raw(
  "(state in ('pending', 'applying', 'failed', 'active')) is true",
);

/**
 * An open request (migration 11's partial indexes), written the way IS_CURRENT_KEY_SQL is and
 * for the same reasons: the queries that want those indexes write this very condition.
 */
export const IS_OPEN_REQUEST_SQL = sql.raw("(state in ('pending', 'applying', 'failed')) is true");

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "requests, audit events, metadata",
    async up(db, dialect) {
      await db.schema
        .createTable("requests")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("domain", "text", (c) => c.notNull())
        .addColumn("selector", "text", (c) => c.notNull())
        .addColumn("bits", "integer", (c) => c.notNull())
        .addColumn("usernames", "text", (c) => c.notNull())
        .addColumn("testing", "integer", (c) => c.notNull())
        .addColumn("reason", "text")
        .addColumn("ticket", "text")
        .addColumn("requester_id", "text", (c) => c.notNull())
        .addColumn("channel_id", "text", (c) => c.notNull())
        .addColumn("message_ts", "text")
        .addColumn("public_key_base64", "text", (c) => c.notNull())
        .addColumn("fingerprint", "text", (c) => c.notNull())
        .addColumn("record_value", "text", (c) => c.notNull())
        .addColumn("state", "text", (c) =>
          c
            .notNull()
            .check(
              sql`state in ('pending', 'applying', 'active', 'failed', 'rejected', 'cancelled', 'expired')`,
            ),
        )
        .addColumn("certificate_installed", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("enabled_usernames", "text", (c) => c.notNull().defaultTo("[]"))
        .addColumn("dns_status", "text")
        .addColumn("dns_problem_code", "text")
        .addColumn("dns_summary", "text")
        .addColumn("dns_checked_at", "text")
        .addColumn("decided_by", "text")
        .addColumn("decided_at", "text")
        .addColumn("reject_reason", "text")
        .addColumn("last_error", "text")
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("updated_at", "text", (c) => c.notNull())
        .addColumn("sealed_key", binaryType(dialect))
        .addCheckConstraint(
          "requests_key_only_while_open",
          sql`state in ${OPEN_STATES_SQL} or sealed_key is null`,
        )
        .execute();
      await db.schema
        .createIndex("requests_one_open_per_selector")
        .on("requests")
        .columns(["domain", "selector"])
        .unique()
        .where(sql.ref("state"), "in", sql`${OPEN_STATES_SQL}`)
        .execute();
      await db.schema
        .createIndex("requests_by_state")
        .on("requests")
        .columns(["state", "created_at"])
        .execute();
      await db.schema
        .createIndex("requests_by_domain")
        .on("requests")
        .columns(["domain", "created_at"])
        .execute();
      await db.schema
        .createTable("events")
        .addColumn("id", "integer", (c) =>
          dialect === "sqlite"
            ? c.primaryKey().autoIncrement()
            : c.primaryKey().generatedByDefaultAsIdentity(),
        )
        .addColumn("request_id", "text", (c) => c.notNull().references("requests.id"))
        .addColumn("at", "text", (c) => c.notNull())
        .addColumn("actor_id", "text", (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("details", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("events_by_request")
        .on("events")
        .columns(["request_id", "id"])
        .execute();
      await db.schema
        .createTable("meta")
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("value", "text", (c) => c.notNull())
        .execute();
    },
  },
  {
    version: 2,
    description: "remember which audit events were told in Slack",
    async up(db) {
      await db.schema.alterTable("events").addColumn("delivered_at", "text").execute();
      // Events written before this step were told by the version that wrote them.
      await db
        .updateTable("events")
        .set({ delivered_at: sql.ref("at") })
        .execute();
      await db.schema
        .createIndex("events_undelivered")
        .on("events")
        .column("id")
        .where(sql.ref("delivered_at"), "is", null)
        .execute();
    },
  },
  {
    version: 3,
    description: "several replicas: apply leases, delivery claims, scheduler leases",
    async up(db, dialect) {
      await db.schema.alterTable("requests").addColumn("apply_owner", "text").execute();
      await db.schema.alterTable("requests").addColumn("apply_lease_until", "text").execute();
      await db.schema.alterTable("events").addColumn("delivery_owner", "text").execute();
      await db.schema.alterTable("events").addColumn("delivery_until", "text").execute();
      await db.schema
        .createTable("leases")
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("owner", "text", (c) => c.notNull())
        .addColumn("expires_at", "text", (c) => c.notNull())
        .execute();
      // Insertion order, for requests made within the same millisecond (created_at ties).
      await db.schema.alterTable("requests").addColumn("created_seq", "integer").execute();
      if (dialect === "sqlite") {
        await db
          .updateTable("requests")
          .set({ created_seq: sql.ref("rowid") })
          .execute();
      } else {
        await sql`update requests set created_seq = s.n from (select id, row_number() over (order by created_at, id) as n from requests) s where s.id = requests.id`.execute(
          db,
        );
      }
      await db.schema
        .createIndex("requests_by_created")
        .on("requests")
        .columns(["created_at", "created_seq"])
        .execute();
      await db.schema.createIndex("requests_by_seq").on("requests").column("created_seq").execute();
    },
  },
  {
    version: 4,
    description: "workspace of each request; setups recorded at the ack until their card is posted",
    async up(db) {
      // NULL for requests made before: they belong to the bot's own workspace.
      await db.schema.alterTable("requests").addColumn("team_id", "text").execute();
      await db.schema.alterTable("requests").addColumn("enterprise_id", "text").execute();
      await db.schema
        .createTable("setup_intake")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("received_at", "text", (c) => c.notNull())
        .addColumn("requester_id", "text", (c) => c.notNull())
        .addColumn("channel_id", "text", (c) => c.notNull())
        .addColumn("team_id", "text")
        .addColumn("enterprise_id", "text")
        /** JSON: what the person typed (domain, selector, bits, users, testing, reason). */
        .addColumn("input", "text", (c) => c.notNull())
        .addColumn("response_url", "text")
        .addColumn("state", "text", (c) =>
          c.notNull().check(sql`state in ('queued', 'created', 'refused')`),
        )
        .addColumn("request_id", "text")
        .addColumn("outcome", "text")
        .addColumn("owner", "text")
        .addColumn("lease_until", "text")
        .execute();
      await db.schema
        .createIndex("setup_intake_by_lease")
        .on("setup_intake")
        .columns(["lease_until"])
        .execute();
    },
  },
  {
    version: 5,
    description: "a key's whole life: retiring and retired, rotation, monitoring, reminders",
    async up(db, dialect) {
      await allowStates(db, dialect, [...STATES_BEFORE_5, "retiring", "retired"]);
      for (const column of [
        // The active request a rotation replaces; the request that replaced a retiring one
        // (and their selectors, which the cards name).
        "rotation_of",
        "rotation_of_selector",
        "replaced_by",
        "replaced_by_selector",
        // When SpamExperts started signing with the key (the "active" event), for its age.
        "activated_at",
        // After this the old key's record may go (DKIM_ROTATION_OVERLAP_DAYS after the switch).
        "retire_after",
        "retired_at",
        "retired_by",
      ]) {
        await db.schema.alterTable("requests").addColumn(column, "text").execute();
      }
      await sql`update requests set activated_at = decided_at where state = 'active'`.execute(db);
      // dkim-bot 0.1 let a second setup of a domain become active beside the first (even on the
      // same selector). SpamExperts signs with the key installed last, so the older ones were
      // replaced: they go retiring, due now, and are retired once their record is gone.
      await sql`
        update requests set state = 'retiring',
          replaced_by = (select n.id from requests n where n.domain = requests.domain
            and n.state = 'active' order by n.decided_at desc, n.created_at desc limit 1),
          replaced_by_selector = (select n.selector from requests n where n.domain = requests.domain
            and n.state = 'active' order by n.decided_at desc, n.created_at desc limit 1),
          retire_after = updated_at
        where state = 'active' and id <> (select n.id from requests n
          where n.domain = requests.domain and n.state = 'active'
          order by n.decided_at desc, n.created_at desc limit 1)`.execute(db);
      await db.schema
        .createIndex("requests_one_active_per_domain")
        .on("requests")
        .column("domain")
        .unique()
        .where(sql.ref("state"), "=", "active")
        .execute();
    },
  },
  {
    version: 6,
    description: "records the bot publishes itself: where, and how it stands",
    async up(db) {
      // The managed zone the bot writes the record into (NULL: published by hand), and the
      // last outcome of making DNS say what the request's state asks: published, removed,
      // revoked, or failed:<reason> (told once, tried again).
      await db.schema.alterTable("requests").addColumn("publish_zone", "text").execute();
      await db.schema.alterTable("requests").addColumn("publish_state", "text").execute();
      await db.schema
        .createIndex("requests_by_publication")
        .on("requests")
        .columns(["publish_zone", "state"])
        .execute();
    },
  },
  {
    version: 7,
    description:
      "thread replies the bot edits later (the apply's reply, a Retry, a notice's button)",
    async up(db) {
      await db.schema
        .createTable("thread_replies")
        .addColumn("request_id", "text", (c) => c.notNull().references("requests.id"))
        .addColumn("slot", "text", (c) => c.notNull())
        /** JSON: the reply's ts, the event it was posted for, notes (slack/thread-replies.ts). */
        .addColumn("ref", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("thread_replies_pk", ["request_id", "slot"])
        .execute();
    },
  },
  {
    version: 8,
    description: "indexes for App Home: a person's requests, DNS verdicts, key age, rotations",
    async up(db) {
      await db.schema
        .createIndex("requests_by_requester")
        .on("requests")
        .columns(["requester_id", "state", "created_at"])
        .execute();
      // Live requests waiting for approval; keys whose monitoring verdict is a problem.
      await db.schema
        .createIndex("requests_by_dns_status")
        .on("requests")
        .columns(["state", "dns_status", "created_at"])
        .execute();
      // Active keys by age: due for rotation.
      await db.schema
        .createIndex("requests_by_activation")
        .on("requests")
        .columns(["state", "activated_at"])
        .execute();
      // The rotation under way of a key, if any.
      await db.schema
        .createIndex("requests_by_rotation_of")
        .on("requests")
        .column("rotation_of")
        .where(sql.ref("rotation_of"), "is not", null)
        .execute();
    },
  },
  {
    version: 9,
    description:
      "batches: several domains set up by one command, one card; a batch id on its requests",
    async up(db) {
      await db.schema
        .createTable("batches")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("requester_id", "text", (c) => c.notNull())
        .addColumn("channel_id", "text", (c) => c.notNull())
        .addColumn("team_id", "text")
        .addColumn("enterprise_id", "text")
        /** JSON: the domains and options as typed (requests/batch.ts BatchInput). */
        .addColumn("input", "text", (c) => c.notNull())
        .addColumn("response_url", "text")
        .addColumn("state", "text", (c) =>
          c.notNull().check(sql`state in ('queued', 'making', 'ready', 'refused')`),
        )
        /** JSON arrays: domains not valid, domains left alone, domains that go on. */
        .addColumn("invalid", "text", (c) => c.notNull())
        .addColumn("skipped", "text", (c) => c.notNull())
        .addColumn("planned", "text", (c) => c.notNull())
        .addColumn("message_ts", "text")
        /** JSON: the runs people started (approve all, retry failed, reject all, cancel). */
        .addColumn("runs", "text", (c) => c.notNull())
        /** JSON: the once-only thread replies told, by name. */
        .addColumn("told", "text", (c) => c.notNull())
        .addColumn("version", "integer", (c) => c.notNull())
        /** 1 while a replica has something to make, post, run or tell (requests/batch.ts hasWork). */
        .addColumn("has_work", "integer", (c) => c.notNull())
        /** The replica doing that work, and until when (taken over after it). */
        .addColumn("owner", "text")
        .addColumn("lease_until", "text")
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("updated_at", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("batches_with_work")
        .on("batches")
        .columns(["lease_until"])
        .where(sql.ref("has_work"), "=", 1)
        .execute();
      await db.schema.alterTable("requests").addColumn("batch_id", "text").execute();
      await db.schema
        .createIndex("requests_by_batch")
        .on("requests")
        .columns(["batch_id", "created_at"])
        .where(sql.ref("batch_id"), "is not", null)
        .execute();
    },
  },
  {
    version: 10,
    description: "an index for /dkim domains: each domain's current keys, in name order",
    async up(db) {
      // Only the keys that decide a domain's state today (a handful per domain), never its
      // history: the inventory reads them page by page in (domain, id) order, whatever the
      // size of the store. Its condition is written out (not bound), so that both planners
      // can match the query's identical condition to it.
      await db.schema
        .createIndex("requests_current_by_domain")
        .on("requests")
        .columns(["domain", "id"])
        .where(sql<boolean>`${IS_CURRENT_KEY_SQL}`)
        .execute();
    },
  },
  {
    version: 11,
    description:
      "the generation each request was last written in (to read only what changed); open requests by age",
    async up(db, dialect) {
      // The value of the meta row requests_generation that the writing transaction made (NULL:
      // written before this step). A replica that read the fleet at generation G reads again
      // only the domains of requests written after G, through this index, not the fleet.
      await db.schema
        .alterTable("requests")
        .addColumn("written_in", dialect === "postgres" ? "bigint" : "integer")
        .execute();
      await db.schema
        .createIndex("requests_by_written_in")
        .on("requests")
        .column("written_in")
        .execute();
      // The open requests alone (a few, whatever the history), newest first: `/dkim status`
      // lists them on top, and App Home lists a person's. Without these, PostgreSQL walked the
      // whole history backwards through requests_by_created to find a person's few open ones,
      // and SQLite sorted every open request for each answer.
      await db.schema
        .createIndex("requests_open_by_created")
        .on("requests")
        .columns(["created_at", "created_seq"])
        .where(sql<boolean>`${IS_OPEN_REQUEST_SQL}`)
        .execute();
      await db.schema
        .createIndex("requests_open_by_requester")
        .on("requests")
        .columns(["requester_id", "created_at", "created_seq"])
        .where(sql<boolean>`${IS_OPEN_REQUEST_SQL}`)
        .execute();
    },
  },
];

const STATES_BEFORE_5 = [
  "pending",
  "applying",
  "active",
  "failed",
  "rejected",
  "cancelled",
  "expired",
] as const;

/**
 * Widens the CHECK on `requests.state`. PostgreSQL alters the constraint; SQLite cannot, so
 * the table is rebuilt from its own definition with the new list (SQLite's documented way:
 * create, copy, drop, rename, then the indexes again; foreign keys are off during
 * migrations, see open-store.ts).
 */
async function allowStates(
  // biome-ignore lint/suspicious/noExplicitAny: see Migration.up.
  db: Kysely<any>,
  dialect: StoreDialect,
  states: readonly string[],
): Promise<void> {
  const list = states.map((state) => `'${state}'`).join(", ");
  if (dialect === "postgres") {
    await sql.raw(`alter table requests drop constraint requests_state_check`).execute(db);
    await sql
      .raw(`alter table requests add constraint requests_state_check check (state in (${list}))`)
      .execute(db);
    return;
  }
  const objects = await sql<{ type: string; sql: string | null }>`
    select type, sql from sqlite_master where tbl_name = 'requests'`.execute(db);
  const table = objects.rows.find((row) => row.type === "table")?.sql ?? "";
  const widened = table.replace(/\(\s*'pending'[^)]*'expired'\s*\)/i, `(${list})`);
  if (widened === table) {
    throw new Error("migration 5: the requests table does not have the state list it expects");
  }
  const indexes = objects.rows
    .filter((row) => row.type === "index" && row.sql !== null)
    .map((row) => row.sql ?? "");
  await sql
    .raw(widened.replace(/^CREATE TABLE\s+"?requests"?/i, "CREATE TABLE requests_new"))
    .execute(db);
  await sql.raw("insert into requests_new select * from requests").execute(db);
  await sql.raw("drop table requests").execute(db);
  await sql.raw("alter table requests_new rename to requests").execute(db);
  for (const index of indexes) await sql.raw(index).execute(db);
}

function binaryType(dialect: StoreDialect): "blob" | "bytea" {
  return dialect === "postgres" ? "bytea" : "blob";
}

/** Any constant: every replica migrating the same PostgreSQL database waits on this lock. */
const MIGRATION_LOCK_KEY = 7_304_911_001;

/**
 * Brings the schema up to date, all steps in one transaction: on SQLite under BEGIN
 * IMMEDIATE, on PostgreSQL under an advisory lock, so two replicas starting at once cannot
 * both apply a step; the second sees the new version and skips. A database newer than this
 * code is refused: its meaning of the columns may have changed. Returns how many steps it applied.
 */
export async function migrate(
  // biome-ignore lint/suspicious/noExplicitAny: the migrations table is created here, before the typed schema exists.
  db: Kysely<any>,
  dialect: StoreDialect,
  options: { migrations?: readonly Migration[]; describe: string },
): Promise<number> {
  const migrations = options.migrations ?? MIGRATIONS;
  const latest = migrations.at(-1)?.version ?? 0;
  return db.transaction().execute(async (trx) => {
    if (dialect === "postgres") {
      await sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`.execute(trx);
    }
    await trx.schema
      .createTable("schema_migrations")
      .ifNotExists()
      .addColumn("version", "integer", (c) => c.primaryKey())
      .addColumn("description", "text", (c) => c.notNull())
      .addColumn("applied_at", "text", (c) => c.notNull())
      .execute();
    let current = await currentVersion(trx);
    if (current === 0 && dialect === "sqlite") {
      current = await adoptLegacySqliteVersion(trx, migrations);
    }
    if (current > latest) {
      throw new CodedError(
        "CONFIG_INVALID",
        `The database ${options.describe} has schema version ${current}, newer than this dkim-bot knows (${latest}). Run the newer dkim-bot, or restore a backup made by this version.`,
      );
    }
    let applied = 0;
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      applied++;
      await migration.up(trx, dialect);
      await trx
        .insertInto("schema_migrations")
        .values({
          version: migration.version,
          description: migration.description,
          applied_at: new Date().toISOString(),
        })
        .execute();
    }
    return applied;
  });
}

// biome-ignore lint/suspicious/noExplicitAny: see migrate.
async function currentVersion(db: Kysely<any>): Promise<number> {
  const row = await db
    .selectFrom("schema_migrations")
    .select((eb) => eb.fn.max("version").as("version"))
    .executeTakeFirst();
  return Number(row?.version ?? 0);
}

/**
 * dkim-bot 0.1 kept the schema version in SQLite's user_version (steps 1 and 2 were the same
 * as here). Such a database is adopted: its steps are recorded as applied.
 */
// biome-ignore lint/suspicious/noExplicitAny: see migrate.
async function adoptLegacySqliteVersion(db: Kysely<any>, migrations: readonly Migration[]) {
  const result = await sql<{ user_version: number }>`pragma user_version`.execute(db);
  const legacy = Number(result.rows[0]?.user_version ?? 0);
  for (const migration of migrations.filter((each) => each.version <= legacy)) {
    await db
      .insertInto("schema_migrations")
      .values({
        version: migration.version,
        description: migration.description,
        applied_at: new Date().toISOString(),
      })
      .execute();
  }
  return legacy;
}
