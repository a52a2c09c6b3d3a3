import { statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { sql } from "kysely";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { generateKeyPair } from "../../../src/dkim/keys.js";
import { CodedError } from "../../../src/errors.js";
import { RequestConflictError } from "../../../src/requests/errors.js";
import type { DkimRequest } from "../../../src/requests/model.js";
import { seal } from "../../../src/requests/sealing.js";
import { MIGRATIONS } from "../../../src/requests/store/migrations.js";
import {
  DATABASE_FILE,
  openStore,
  SQLITE_CACHE_KIB,
} from "../../../src/requests/store/open-store.js";
import { sampleRequest, withKey } from "../../helpers/sample-request.js";
import {
  adminQuery,
  DIALECTS,
  freshDatabase,
  freshPostgresUrl,
  openTestStore,
  type TestDatabase,
} from "../../helpers/test-stores.js";
import { randomEncryptionKey } from "../support.js";
import { writeLegacyDatabase } from "./legacy-sqlite.js";
import { iso, seed, verdict } from "./seed-requests.js";

const keyPair = await generateKeyPair(1024);
const LATEST = MIGRATIONS.at(-1)?.version;

function request(overrides: Partial<DkimRequest> = {}): DkimRequest {
  return sampleRequest({
    id: "req000000001",
    selector: "s1",
    bits: 1024,
    requesterId: "UREQ",
    channelId: "CCHAN",
    messageTs: null,
    ...withKey(keyPair),
    createdAt: "2026-11-26T10:00:00.000Z",
    updatedAt: "2026-11-26T10:00:00.000Z",
    ...overrides,
  });
}

const created = { actorId: "UREQ", kind: "created" as const, details: {} };

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

/** The sealed key column as stored, read by another connection. */
async function sealedKeyColumn(database: TestDatabase, id: string): Promise<Buffer | null> {
  if (database.dialect === "sqlite") {
    const raw = new Database(join(database.dataDir, DATABASE_FILE), { readonly: true });
    const row = raw.prepare("SELECT sealed_key FROM requests WHERE id = ?").get(id) as
      | { sealed_key: Buffer | null }
      | undefined;
    raw.close();
    return row?.sealed_key ?? null;
  }
  const result = await adminQuery(database, `SELECT sealed_key FROM requests WHERE id = '${id}'`);
  return (result.rows[0] as { sealed_key: Buffer | null } | undefined)?.sealed_key ?? null;
}

describe.each(DIALECTS)("the store on %s", (dialect) => {
  async function open(database?: TestDatabase, encryptionKey = randomEncryptionKey()) {
    const db = database ?? (await freshDatabase(dialect));
    return { store: await openTestStore(db, { encryptionKey }), database: db, encryptionKey };
  }

  it("reads back exactly what it wrote, and keeps the key sealed beside the row", async () => {
    const { store, database } = await open();
    const original = request({ usernames: ["a@example.com", "example.com"], testing: true });
    const event = await store.insert(original, keyPair.privateKeyPem, created);
    expect(await store.get(original.id)).toEqual(original);
    expect(event).toMatchObject({ requestId: original.id, kind: "created", actorId: "UREQ" });
    expect(await store.readPrivateKey(original.id)).toBe(keyPair.privateKeyPem);
    const sealed = await sealedKeyColumn(database, original.id);
    expect(sealed?.toString("latin1")).not.toContain("PRIVATE KEY");
    expect(sealed?.[0]).toBe(1);
  });

  it("refuses a second open request for the same domain and selector, naming the first", async () => {
    const { store } = await open();
    await store.insert(request(), keyPair.privateKeyPem, created);
    const conflict = await rejection(
      store.insert(request({ id: "req000000002" }), keyPair.privateKeyPem, created),
    );
    expect(conflict).toBeInstanceOf(RequestConflictError);
    expect((conflict as RequestConflictError).existing.id).toBe("req000000001");
    expect((conflict as RequestConflictError).code).toBe("REQUEST_CONFLICT");
    // Another selector, or the same one once the first is closed, is fine.
    await store.insert(
      request({ id: "req000000003", selector: "s2", createdAt: "2026-11-26T10:01:00.000Z" }),
      keyPair.privateKeyPem,
      created,
    );
    await store.transition({
      id: "req000000001",
      from: "pending",
      to: "cancelled",
      at: "2026-11-26T11:00:00.000Z",
      event: { actorId: "UREQ", kind: "cancelled", details: {} },
    });
    await store.insert(
      request({ id: "req000000004", createdAt: "2026-11-26T10:02:00.000Z" }),
      keyPair.privateKeyPem,
      created,
    );
    expect((await store.list({ states: ["pending"] })).map((each) => each.id)).toEqual([
      "req000000003",
      "req000000004",
    ]);
  });

  it("moves a request only from the state the caller saw, once, and writes the event with it", async () => {
    const { store } = await open();
    await store.insert(request(), keyPair.privateKeyPem, created);
    const move = {
      id: "req000000001",
      from: "pending" as const,
      to: "applying" as const,
      at: "2026-11-26T11:00:00.000Z",
      changes: { decidedBy: "UAPP", decidedAt: "2026-11-26T11:00:00.000Z" },
      event: { actorId: "UAPP", kind: "approved" as const, details: { via: "UAPP" } },
    };
    const first = await store.transition(move);
    expect(first?.request.state).toBe("applying");
    expect(first?.request.decidedBy).toBe("UAPP");
    expect(first?.event).toMatchObject({ kind: "approved", at: move.at, details: { via: "UAPP" } });
    expect(await store.transition(move)).toBeUndefined();
    expect((await store.listEvents("req000000001")).map((event) => event.kind)).toEqual([
      "created",
      "approved",
    ]);
    await expect(store.transition({ ...move, from: "active", to: "pending" })).rejects.toThrow(
      "cannot go from active to pending",
    );
  });

  it("erases the sealed key when a request reaches a state that needs none", async () => {
    const { store, database } = await open();
    await store.insert(request(), keyPair.privateKeyPem, created);
    await store.transition({
      id: "req000000001",
      from: "pending",
      to: "expired",
      at: "2026-12-11T10:00:00.000Z",
      event: { actorId: "system", kind: "expired", details: {} },
    });
    expect(await store.readPrivateKey("req000000001")).toBeUndefined();
    expect(await sealedKeyColumn(database, "req000000001")).toBeNull();
  });

  it("refuses, in the database itself, a key kept on a request that needs none", async () => {
    const { store, database } = await open();
    await store.insert(request(), keyPair.privateKeyPem, created);
    const sql = "UPDATE requests SET state = 'active' WHERE id = 'req000000001'";
    if (dialect === "sqlite") {
      const raw = new Database(join(database.dataDir, DATABASE_FILE));
      expect(() => raw.prepare(sql).run()).toThrow(/CHECK constraint failed/);
      raw.close();
    } else {
      await expect(adminQuery(database, sql)).rejects.toThrow(/check constraint/);
    }
  });

  it("updates only while the request is in the state given", async () => {
    const { store } = await open();
    await store.insert(request(), keyPair.privateKeyPem, created);
    const progress = { certificateInstalled: true, enabledUsernames: [] };
    const at = "2026-11-26T11:00:00.000Z";
    expect(
      await store.update({ id: "req000000001", whileState: "applying", at, changes: { progress } }),
    ).toBeUndefined();
    const done = await store.update({
      id: "req000000001",
      whileState: "pending",
      at,
      changes: { messageTs: "1.2" },
    });
    expect(done?.request.messageTs).toBe("1.2");
    expect(done?.event).toBeNull();
  });

  it("updates a DNS verdict only while the stored verdict is the one the caller saw", async () => {
    const { store } = await open();
    await store.insert(request(), keyPair.privateKeyPem, created);
    const first = {
      status: "missing" as const,
      problemCode: "missing",
      summary: "No record.",
      checkedAt: "2026-11-26T10:05:00.000Z",
    };
    const at = first.checkedAt;
    const base = { id: "req000000001", whileState: "pending" as const, at };
    expect(
      await store.update({ ...base, whileLastDnsCheck: null, changes: { lastDnsCheck: first } }),
    ).toBeDefined();
    // A second check that saw "none yet" lost the race: the first verdict stands.
    expect(
      await store.update({ ...base, whileLastDnsCheck: null, changes: { lastDnsCheck: first } }),
    ).toBeUndefined();
    const live = { ...first, status: "live" as const, problemCode: null, summary: "Live." };
    const change = await store.update({
      ...base,
      whileLastDnsCheck: first,
      changes: { lastDnsCheck: live },
    });
    expect(change?.request.lastDnsCheck).toEqual(live);
  });

  it("shares state between two instances on one database: only one wins a transition", async () => {
    const { store: first, database, encryptionKey } = await open();
    const second = await openTestStore(database, { encryptionKey });
    await first.insert(request(), keyPair.privateKeyPem, created);
    expect((await second.get("req000000001"))?.state).toBe("pending");
    const move = {
      id: "req000000001",
      from: "pending" as const,
      to: "applying" as const,
      at: "2026-11-26T11:00:00.000Z",
      event: { actorId: "UAPP", kind: "approved" as const, details: {} },
    };
    const outcomes = await Promise.all([second.transition(move), first.transition(move)]);
    expect(outcomes.filter((outcome) => outcome !== undefined)).toHaveLength(1);
    expect((await first.get("req000000001"))?.state).toBe("applying");
    expect(await second.readPrivateKey("req000000001")).toBe(keyPair.privateKeyPem);
    expect(await first.listEvents("req000000001")).toHaveLength(2);
  });

  it("does not open a sealed key moved to another request's row", async () => {
    const { store, database } = await open();
    await store.insert(request(), keyPair.privateKeyPem, created);
    await store.insert(
      request({ id: "req000000002", selector: "s2" }),
      keyPair.privateKeyPem,
      created,
    );
    const sql =
      "UPDATE requests SET sealed_key = (SELECT sealed_key FROM requests WHERE id = 'req000000001') WHERE id = 'req000000002'";
    if (dialect === "sqlite") {
      const raw = new Database(join(database.dataDir, DATABASE_FILE));
      raw.prepare(sql).run();
      raw.close();
    } else {
      await adminQuery(database, sql);
    }
    await expect(store.readPrivateKey("req000000002")).rejects.toThrow(CodedError);
  });

  it("refuses to open with another encryption key, saying which key and what to do", async () => {
    const right = randomEncryptionKey();
    const { store, database } = await open(undefined, right);
    await store.insert(request(), keyPair.privateKeyPem, created);
    await store.close();

    const wrong = randomEncryptionKey();
    const failure = await rejection(openTestStore(database, { encryptionKey: wrong }));
    expect(failure).toBeInstanceOf(CodedError);
    const { code, message } = failure as CodedError;
    expect(code).toBe("SEALING_FAILED");
    expect(message).toContain(
      `The encryption key from DKIM_ENCRYPTION_KEY (key id ${wrong.id}) is not the key the ${store.description} was sealed with (key id ${right.id}).`,
    );
    if (dialect === "sqlite") {
      const path = join(database.dataDir, DATABASE_FILE);
      expect(message).toContain("set DKIM_ENCRYPTION_KEY to it, or restore");
      expect(message).toContain(`move ${path} aside`);
    } else {
      expect(message).toContain("set DKIM_ENCRYPTION_KEY to it on every replica");
    }
    // Nothing was damaged: the right key still opens the request's key.
    const again = await openTestStore(database, { encryptionKey: right });
    expect(await again.readPrivateKey("req000000001")).toBe(keyPair.privateKeyPem);
  });

  it("refuses a database written by a newer version", async () => {
    const { store, database } = await open();
    await store.close();
    const sql =
      "INSERT INTO schema_migrations (version, description, applied_at) VALUES (99, 'future', 'now')";
    if (dialect === "sqlite") {
      const raw = new Database(join(database.dataDir, DATABASE_FILE));
      raw.prepare(sql).run();
      raw.close();
    } else {
      await adminQuery(database, sql);
    }
    await expect(openTestStore(database, { encryptionKey: randomEncryptionKey() })).rejects.toThrow(
      `has schema version 99, newer than this dkim-bot knows (${LATEST})`,
    );
  });

  it("migrates once when two replicas open a new database at the same time", async () => {
    const database = await freshDatabase(dialect);
    const encryptionKey = randomEncryptionKey();
    const stores = await Promise.all(
      [1, 2, 3].map(() => openTestStore(database, { encryptionKey })),
    );
    await stores[0]?.insert(request(), keyPair.privateKeyPem, created);
    expect(await stores[2]?.readPrivateKey("req000000001")).toBe(keyPair.privateKeyPem);
  });

  it("offers events until they are marked delivered, oldest first", async () => {
    const { store } = await open();
    await store.insert(request(), keyPair.privateKeyPem, created);
    const rejected = await store.transition({
      id: "req000000001",
      from: "pending",
      to: "rejected",
      at: "2026-11-26T11:00:00.000Z",
      event: { actorId: "UAPP", kind: "rejected", details: { reason: "no" } },
    });
    const kinds = async () => (await store.listUndeliveredEvents()).map((event) => event.kind);
    expect(await kinds()).toEqual(["created", "rejected"]);
    const [first] = await store.listUndeliveredEvents();
    await store.markEventDelivered(first?.id ?? -1, "2026-11-26T11:00:01.000Z");
    expect(await kinds()).toEqual(["rejected"]);
    await store.markEventDelivered(rejected?.event?.id ?? -1, "2026-11-26T11:00:02.000Z");
    expect(await kinds()).toEqual([]);
  });

  it("holds an event for the replica that wrote it, then lets any replica take it, once", async () => {
    let now = Date.parse("2026-11-26T10:00:00.000Z");
    const database = await freshDatabase(dialect);
    const encryptionKey = randomEncryptionKey();
    const clock = () => now;
    const writer = await openTestStore(database, {
      encryptionKey,
      owner: "writer",
      deliveryHoldMs: 60_000,
      clock,
    });
    const other = await openTestStore(database, { encryptionKey, owner: "other", clock });
    const third = await openTestStore(database, { encryptionKey, owner: "third", clock });
    await writer.insert(request(), keyPair.privateKeyPem, created);
    // The writer tells it: nobody else takes it while the hold lasts, not even the writer's sweep.
    expect(await other.claimUndeliveredEvents(30_000, 10)).toEqual([]);
    expect(await writer.claimUndeliveredEvents(30_000, 10)).toEqual([]);
    now += 61_000; // the writer died without telling it
    const [taken, alsoTaken] = await Promise.all([
      other.claimUndeliveredEvents(30_000, 10),
      third.claimUndeliveredEvents(30_000, 10),
    ]);
    expect([...(taken ?? []), ...(alsoTaken ?? [])].map((event) => event.kind)).toEqual([
      "created",
    ]);
  });

  it("gives an apply to one replica at a time, and to another once its lease ran out", async () => {
    const { store: a, database, encryptionKey } = await open();
    const b = await openTestStore(database, { encryptionKey });
    await a.insert(request(), keyPair.privateKeyPem, created);
    const at = "2026-11-26T11:00:00.000Z";
    await a.transition({
      id: "req000000001",
      from: "pending",
      to: "applying",
      at,
      applyLease: { owner: "A", until: "2026-11-26T11:00:30.000Z" },
      event: { actorId: "UAPP", kind: "approved", details: {} },
    });
    const lease = (owner: string, until: string) => ({ owner, until });
    expect(await b.claimApply("req000000001", lease("B", "2026-11-26T11:01:00.000Z"), at)).toBe(
      undefined,
    );
    expect(await b.listUnclaimedApplies(at)).toEqual([]);
    // A renews its lease with a step, and only A may write steps.
    const progress = { certificateInstalled: true, enabledUsernames: [] };
    expect(
      await b.update({
        id: "req000000001",
        whileState: "applying",
        whileApplyLease: lease("B", "2026-11-26T11:01:00.000Z"),
        at,
        changes: { progress },
      }),
    ).toBeUndefined();
    expect(
      await a.update({
        id: "req000000001",
        whileState: "applying",
        whileApplyLease: lease("A", "2026-11-26T11:00:40.000Z"),
        at,
        changes: { progress },
      }),
    ).toBeDefined();
    // A dies; after its lease, B takes over and A can no longer move the request.
    const later = "2026-11-26T11:00:41.000Z";
    expect((await b.listUnclaimedApplies(later)).map((each) => each.id)).toEqual(["req000000001"]);
    const claims = await Promise.all([
      b.claimApply("req000000001", lease("B", "2026-11-26T11:01:10.000Z"), later),
      a.claimApply("req000000001", lease("C", "2026-11-26T11:01:10.000Z"), later),
    ]);
    expect(claims.filter((claim) => claim !== undefined)).toHaveLength(1);
    const winner = claims[0] === undefined ? "C" : "B";
    const loser = winner === "B" ? "A" : "B";
    expect(
      await a.transition({
        id: "req000000001",
        from: "applying",
        to: "active",
        at: later,
        whileApplyLease: lease(loser, later),
        applyLease: null,
        event: { actorId: "system", kind: "active", details: {} },
      }),
    ).toBeUndefined();
    expect(
      await a.transition({
        id: "req000000001",
        from: "applying",
        to: "active",
        at: later,
        whileApplyLease: lease(winner, later),
        applyLease: null,
        event: { actorId: "system", kind: "active", details: {} },
      }),
    ).toBeDefined();
  });

  it("gives a scheduler lease to one replica until it expires or is released", async () => {
    const { store: a, database, encryptionKey } = await open();
    const b = await openTestStore(database, { encryptionKey });
    const t = (seconds: number) => new Date(Date.UTC(2026, 10, 26, 10, 0, seconds)).toISOString();
    const results = await Promise.all([
      a.tryAcquireLease("job:x", { owner: "A", until: t(30) }, t(0)),
      b.tryAcquireLease("job:x", { owner: "B", until: t(30) }, t(0)),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const holder = results[0] ? "A" : "B";
    const other = holder === "A" ? "B" : "A";
    expect(await a.tryAcquireLease("job:x", { owner: other, until: t(40) }, t(10))).toBe(false);
    expect(await a.tryAcquireLease("job:x", { owner: holder, until: t(40) }, t(10))).toBe(true);
    expect(await b.tryAcquireLease("job:x", { owner: other, until: t(60) }, t(41))).toBe(true);
    await b.releaseLease("job:x", other);
    expect(await a.tryAcquireLease("job:x", { owner: holder, until: t(70) }, t(42))).toBe(true);
  });

  it("lists by domain and events by domain, oldest first", async () => {
    const { store } = await open();
    await store.insert(request(), keyPair.privateKeyPem, created);
    await store.insert(
      request({
        id: "req000000002",
        domain: "other.example",
        createdAt: "2026-11-26T10:01:00.000Z",
      }),
      keyPair.privateKeyPem,
      created,
    );
    await store.insert(
      request({ id: "req000000003", selector: "s3", createdAt: "2026-11-26T10:02:00.000Z" }),
      keyPair.privateKeyPem,
      created,
    );
    expect((await store.list({ domain: "example.com" })).map((each) => each.id)).toEqual([
      "req000000001",
      "req000000003",
    ]);
    expect((await store.list({ limit: 1 })).map((each) => each.id)).toEqual(["req000000003"]);
    expect((await store.listEventsByDomain("example.com")).map((event) => event.requestId)).toEqual(
      ["req000000001", "req000000003"],
    );
    expect(
      (await store.list({ createdBefore: "2026-11-26T10:01:00.000Z" })).map((each) => each.id),
    ).toEqual(["req000000001"]);
  });
});

describe.each(DIALECTS)("reading a fleet on %s", (dialect) => {
  it("reads one state a page at a time, in creation order (ties by id), each request once", async () => {
    const store = await openTestStore(await freshDatabase(dialect), {
      encryptionKey: randomEncryptionKey(),
    });
    const pendingAt = (id: string, createdAt: string) =>
      store.insert(
        request({ id, domain: `${id}.example`, createdAt, updatedAt: createdAt }),
        keyPair.privateKeyPem,
        created,
      );
    // Inserted out of order; two share a creation time.
    await pendingAt("req5", "2026-11-26T10:05:00.000Z");
    await pendingAt("req1", "2026-11-26T10:01:00.000Z");
    await pendingAt("req3b", "2026-11-26T10:03:00.000Z");
    await pendingAt("req3a", "2026-11-26T10:03:00.000Z");
    await pendingAt("req2", "2026-11-26T10:02:00.000Z");
    await pendingAt("gone", "2026-11-26T10:04:00.000Z");
    await store.transition({
      id: "gone",
      from: "pending",
      to: "cancelled",
      at: "2026-11-26T11:00:00.000Z",
      event: { actorId: "UREQ", kind: "cancelled", details: {} },
    });
    const pages: string[][] = [];
    let after: { createdAt: string; id: string } | undefined;
    for (;;) {
      const page = await store.listPage("pending", after, 2);
      if (page.length === 0) break;
      pages.push(page.map((each) => each.id));
      const last = page.at(-1) as DkimRequest;
      after = { createdAt: last.createdAt, id: last.id };
    }
    expect(pages).toEqual([["req1", "req2"], ["req3a", "req3b"], ["req5"]]);
    expect((await store.listPage("cancelled", undefined, 10)).map((each) => each.id)).toEqual([
      "gone",
    ]);
    await store.close();
  });
});

describe.each(DIALECTS)("verdicts stored together on %s", (dialect) => {
  it("stores each verdict under its guards in one write, counting the generation once", async () => {
    const store = await openTestStore(await freshDatabase(dialect), {
      encryptionKey: randomEncryptionKey(),
    });
    for (const id of ["k1", "k2", "k3", "k4"]) {
      await seed(store, keyPair, { id, state: "active", day: 1, dns: "live" });
    }
    const before = await store.requestsGeneration();
    const was = verdict("live");
    const now = { ...verdict("live"), checkedAt: iso(9) };
    // k3 moved on meanwhile (another check stored first); k4 is no longer active.
    await store.update({
      id: "k3",
      whileState: "active",
      at: iso(8),
      changes: { lastDnsCheck: { ...was, checkedAt: iso(8) } },
    });
    const stored = await store.recordVerdicts(
      ["k1", "k2", "k3"].map((id) => ({
        id,
        whileState: "active" as const,
        whileLastDnsCheck: was,
        lastDnsCheck: now,
        at: iso(9),
      })),
    );
    expect(stored).toBe(2);
    expect((await store.get("k1"))?.lastDnsCheck).toEqual(now);
    expect((await store.get("k2"))?.updatedAt).toBe(iso(9));
    expect((await store.get("k3"))?.lastDnsCheck?.checkedAt).toBe(iso(8));
    expect((await store.get("k4"))?.lastDnsCheck).toEqual(was);
    expect(BigInt(await store.requestsGeneration())).toBe(BigInt(before) + 2n); // k3's update, then the batch
    // Nothing stored: the generation stays.
    const again = await store.recordVerdicts([
      { id: "k4", whileState: "retiring", whileLastDnsCheck: was, lastDnsCheck: now, at: iso(9) },
    ]);
    expect(again).toBe(0);
    expect(BigInt(await store.requestsGeneration())).toBe(BigInt(before) + 2n);
    expect(await store.recordVerdicts([])).toBe(0);
    await store.close();
  });
});

describe("the SQLite store", () => {
  it("creates its file in DATA_DIR with WAL, the latest schema and mode 0600", async () => {
    const database = await freshDatabase("sqlite");
    await openTestStore(database, { encryptionKey: randomEncryptionKey() });
    const path = join(database.dataDir, DATABASE_FILE);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const raw = new Database(path, { readonly: true });
    expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");
    const versions = raw.prepare("SELECT version FROM schema_migrations ORDER BY version").all();
    expect(versions.map((row) => (row as { version: number }).version)).toEqual(
      MIGRATIONS.map((migration) => migration.version),
    );
    raw.close();
  });

  it("bounds its page cache (SQLITE_CACHE_KIB, not better-sqlite3's 16 MB)", async () => {
    const database = await freshDatabase("sqlite");
    const store = await openTestStore(database, { encryptionKey: randomEncryptionKey() });
    const { rows } = await sql<{ cache_size: number }>`pragma cache_size`.execute(store.kysely);
    expect(rows[0]?.cache_size).toBe(-SQLITE_CACHE_KIB);
    expect(SQLITE_CACHE_KIB).toBeLessThan(16_000);
    await store.close();
  });

  it("adopts a database of dkim-bot 0.1 (schema version in user_version, canary as a blob)", async () => {
    const database = await freshDatabase("sqlite");
    const key = randomEncryptionKey();
    const canary = seal(key, "dkim-bot encryption key check v1", "key-check").toString("hex");
    writeLegacyDatabase(
      join(database.dataDir, DATABASE_FILE),
      2,
      `INSERT INTO meta (name, value) VALUES ('key-check', X'${canary}'), ('key-id', '${key.id}');
       INSERT INTO requests (id, domain, selector, bits, usernames, testing, requester_id, channel_id,
         public_key_base64, fingerprint, record_value, state, created_at, updated_at)
         VALUES ('r1', 'example.com', 's1', 1024, '[]', 0, 'U', 'C', 'k', 'f', 'v', 'rejected',
         '2026-11-01T00:00:00.000Z', '2026-11-01T00:00:00.000Z');
       INSERT INTO events (request_id, at, actor_id, kind, details)
         VALUES ('r1', '2026-11-01T00:00:00.000Z', 'U', 'rejected', '{}');`,
    );
    await expect(openTestStore(database, { encryptionKey: randomEncryptionKey() })).rejects.toThrow(
      "is not the key the SQLite database",
    );
    const store = await openTestStore(database, { encryptionKey: key });
    expect((await store.get("r1"))?.state).toBe("rejected");
    // Events written before delivery was recorded count as delivered (step 2 said so).
    expect(await store.listEvents("r1")).toHaveLength(1);
    expect(await store.listUndeliveredEvents()).toEqual([]);
  });

  it("refuses a database a migration finds with a broken reference, and checks none when nothing migrates", async () => {
    const database = await freshDatabase("sqlite");
    // An event of a request that is not there (0.1 did not turn its foreign keys on).
    writeLegacyDatabase(join(database.dataDir, DATABASE_FILE), 2);
    insertOrphanEvent(join(database.dataDir, DATABASE_FILE));
    await expect(openTestStore(database, { encryptionKey: randomEncryptionKey() })).rejects.toThrow(
      /has 1 broken references after migrating/,
    );

    // Up to date: the start reads no row to check (the keys are on whenever the bot writes).
    const current = await freshDatabase("sqlite");
    const key = randomEncryptionKey();
    await (await openTestStore(current, { encryptionKey: key })).close();
    insertOrphanEvent(join(current.dataDir, DATABASE_FILE));
    const store = await openTestStore(current, { encryptionKey: key });
    expect(await store.listEvents("nobody")).toHaveLength(1);
    await store.close();
  });

  it("takes events of a version-1 database as delivered when it adds delivery", async () => {
    const database = await freshDatabase("sqlite");
    writeLegacyDatabase(
      join(database.dataDir, DATABASE_FILE),
      1,
      `INSERT INTO requests (id, domain, selector, bits, usernames, testing, requester_id, channel_id,
         public_key_base64, fingerprint, record_value, state, created_at, updated_at)
         VALUES ('r1', 'example.com', 's1', 1024, '[]', 0, 'U', 'C', 'k', 'f', 'v', 'rejected', 't', 't');
       INSERT INTO events (request_id, at, actor_id, kind, details) VALUES ('r1', 't', 'U', 'rejected', '{}');`,
    );
    const store = await openTestStore(database, { encryptionKey: randomEncryptionKey() });
    expect(await store.listEvents("r1")).toHaveLength(1);
    expect(await store.listUndeliveredEvents()).toEqual([]);
  });
});

describe.each(DIALECTS)("migration 5 on %s", (dialect) => {
  it("widens the states, and makes an older second active key of a domain retiring", async () => {
    const database = await freshDatabase(dialect);
    const key = randomEncryptionKey();
    const row = (id: string, decidedAt: string, selector: string) =>
      `INSERT INTO requests (id, domain, selector, bits, usernames, testing, requester_id,
        channel_id, public_key_base64, fingerprint, record_value, state, decided_at, created_at,
        updated_at) VALUES ('${id}', 'twice.example', '${selector}', 1024, '[]', 0, 'U', 'C',
        'k', 'f', 'v', 'active', '${decidedAt}', '${decidedAt}', '${decidedAt}')`;
    const seed = [
      row("old1", "2026-10-01T00:00:00.000Z", "s202610"),
      row("new1", "2026-11-01T00:00:00.000Z", "s202610"),
      "INSERT INTO events (request_id, at, actor_id, kind, details) VALUES ('old1', 't', 'U', 'active', '{}')",
    ];
    if (dialect === "sqlite") {
      writeLegacyDatabase(join(database.dataDir, DATABASE_FILE), 2, `${seed.join(";\n")};`);
    } else {
      const { Kysely, PostgresDialect } = await import("kysely");
      const pg = await import("pg");
      const pool = new pg.default.Pool({
        connectionString: database.databaseUrl,
        options: `-c ${database.connectionOptions}`,
      });
      // biome-ignore lint/suspicious/noExplicitAny: a raw database, as the migrations see it.
      const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
      const { migrate } = await import("../../../src/requests/store/migrations.js");
      await migrate(db, "postgres", { migrations: MIGRATIONS.slice(0, 4), describe: "test" });
      for (const statement of seed) await adminQuery(database, statement);
      await db.destroy();
    }
    const store = await openTestStore(database, { encryptionKey: key });
    expect((await store.get("new1"))?.state).toBe("active");
    const old = await store.get("old1");
    expect(old).toMatchObject({
      state: "retiring",
      replacedBy: { id: "new1", selector: "s202610" },
    });
    expect(await store.listEvents("old1")).toHaveLength(1);
    // The widened CHECK takes the new states; the index keeps one active key per domain.
    const moved = await store.transition({
      id: "old1",
      from: "retiring",
      to: "retired",
      at: "2026-12-01T00:00:00.000Z",
      event: { actorId: "system", kind: "retired", details: {} },
    });
    expect(moved?.request.state).toBe("retired");
    const sql = "UPDATE requests SET state = 'active' WHERE id = 'old1'";
    if (dialect === "sqlite") {
      const raw = new Database(join(database.dataDir, DATABASE_FILE));
      expect(() => raw.prepare(sql).run()).toThrow(/UNIQUE constraint failed/);
      raw.close();
    } else {
      await expect(adminQuery(database, sql)).rejects.toThrow(/duplicate key/);
    }
  });
});

describe.each(DIALECTS)("thread reply refs on %s", (dialect) => {
  it("keeps, replaces and forgets a reply's ref per request and slot", async () => {
    const database = await freshDatabase(dialect);
    const encryptionKey = randomEncryptionKey();
    const store = await openTestStore(database, { encryptionKey });
    await store.insert(request(), keyPair.privateKeyPem, created);
    expect(await store.getReplyRef("req000000001", "failure")).toBeUndefined();
    await store.setReplyRef("req000000001", "failure", '{"ts":"1.1"}');
    await store.setReplyRef("req000000001", "failure", '{"ts":"1.2"}');
    await store.setReplyRef("req000000001", "apply", '{"ts":"1.3"}');
    // Another replica (or the restarted bot) reads the same.
    const other = await openTestStore(database, { encryptionKey });
    expect(await other.getReplyRef("req000000001", "failure")).toBe('{"ts":"1.2"}');
    await other.deleteReplyRef("req000000001", "failure");
    expect(await store.getReplyRef("req000000001", "failure")).toBeUndefined();
    expect(await store.getReplyRef("req000000001", "apply")).toBe('{"ts":"1.3"}');
  });
});

describe.skipIf(!DIALECTS.includes("postgres"))("the PostgreSQL pool", () => {
  it("opens every connection of the production pool at start and keeps them idle", async () => {
    const url = await freshPostgresUrl();
    const store = await openStore({
      databaseUrl: url,
      dataDir: "/nonexistent",
      encryptionKey: randomEncryptionKey(),
      owner: "pool-test",
    });
    const database = new URL(url).pathname.slice(1);
    const connections = async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const result = await client.query(
          "select count(*)::int as n from pg_stat_activity where datname = $1 and application_name = 'dkim-bot'",
          [database],
        );
        return Number(result.rows[0]?.n);
      } finally {
        await client.end();
      }
    };
    try {
      expect(await connections()).toBe(10);
      // Past pg's idle timeout (10 s by default), a burst still finds them open: none was closed.
      await new Promise((resolve) => setTimeout(resolve, 10_500));
      expect(await connections()).toBe(10);
    } finally {
      await store.close();
    }
  }, 30_000);
});

/** Writes an event of a request that does not exist, foreign keys off. */
function insertOrphanEvent(path: string): void {
  const raw = new Database(path);
  raw.pragma("foreign_keys = OFF");
  raw
    .prepare(
      "INSERT INTO events (request_id, at, actor_id, kind, details) VALUES ('nobody', 't', 'U', 'created', '{}')",
    )
    .run();
  raw.close();
}
