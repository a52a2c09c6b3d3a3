import { rmSync, statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { generateKeyPair } from "../../src/dkim/keys.js";
import { CodedError } from "../../src/errors.js";
import { RequestConflictError } from "../../src/requests/errors.js";
import { MIGRATIONS, migrate } from "../../src/requests/migrations.js";
import type { DkimRequest } from "../../src/requests/model.js";
import { DATABASE_FILE, SqliteRequestStore } from "../../src/requests/sqlite-store.js";
import { sampleRequest, withKey } from "../helpers/sample-request.js";
import { randomEncryptionKey, tempDataDir } from "./support.js";

const dirs: string[] = [];
const stores: SqliteRequestStore[] = [];
afterEach(() => {
  for (const store of stores.splice(0)) store.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function open(dataDir: string, encryptionKey = randomEncryptionKey()): SqliteRequestStore {
  const store = new SqliteRequestStore({ dataDir, encryptionKey });
  stores.push(store);
  return store;
}

function newDir(): string {
  const dir = tempDataDir();
  dirs.push(dir);
  return dir;
}

const keyPair = await generateKeyPair(1024);

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

describe("SqliteRequestStore", () => {
  it("creates its file in DATA_DIR with WAL, the latest schema version and mode 0600", () => {
    const dataDir = newDir();
    open(dataDir);
    const path = join(dataDir, DATABASE_FILE);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const raw = new Database(path, { readonly: true });
    expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(raw.pragma("user_version", { simple: true })).toBe(MIGRATIONS.at(-1)?.version);
    raw.close();
  });

  it("reads back exactly what it wrote, and keeps the key sealed beside the row", () => {
    const store = open(newDir());
    const original = request({ usernames: ["a@example.com", "example.com"], testing: true });
    const event = store.insert(original, keyPair.privateKeyPem, created);
    expect(store.get(original.id)).toEqual(original);
    expect(event).toMatchObject({ requestId: original.id, kind: "created", actorId: "UREQ" });
    expect(store.readPrivateKey(original.id)).toBe(keyPair.privateKeyPem);

    const raw = new Database(store.path, { readonly: true });
    const row = raw.prepare("SELECT sealed_key FROM requests WHERE id = ?").get(original.id) as {
      sealed_key: Buffer;
    };
    raw.close();
    expect(row.sealed_key.toString("latin1")).not.toContain("PRIVATE KEY");
    expect(row.sealed_key[0]).toBe(1);
  });

  it("refuses a second open request for the same domain and selector, naming the first", () => {
    const store = open(newDir());
    store.insert(request(), keyPair.privateKeyPem, created);
    let conflict: unknown;
    try {
      store.insert(request({ id: "req000000002" }), keyPair.privateKeyPem, created);
    } catch (error) {
      conflict = error;
    }
    expect(conflict).toBeInstanceOf(RequestConflictError);
    expect((conflict as RequestConflictError).existing.id).toBe("req000000001");
    expect((conflict as RequestConflictError).code).toBe("REQUEST_CONFLICT");
    // Another selector, or the same one once the first is closed, is fine.
    store.insert(request({ id: "req000000003", selector: "s2" }), keyPair.privateKeyPem, created);
    store.transition({
      id: "req000000001",
      from: "pending",
      to: "cancelled",
      at: "2026-11-26T11:00:00.000Z",
      event: { actorId: "UREQ", kind: "cancelled", details: {} },
    });
    store.insert(request({ id: "req000000004" }), keyPair.privateKeyPem, created);
    expect(store.list({ states: ["pending"] }).map((each) => each.id)).toEqual([
      "req000000003",
      "req000000004",
    ]);
  });

  it("moves a request only from the state the caller saw, once, and writes the event with it", () => {
    const store = open(newDir());
    store.insert(request(), keyPair.privateKeyPem, created);
    const move = {
      id: "req000000001",
      from: "pending" as const,
      to: "applying" as const,
      at: "2026-11-26T11:00:00.000Z",
      changes: { decidedBy: "UAPP", decidedAt: "2026-11-26T11:00:00.000Z" },
      event: { actorId: "UAPP", kind: "approved" as const, details: { via: "UAPP" } },
    };
    const first = store.transition(move);
    expect(first?.request.state).toBe("applying");
    expect(first?.request.decidedBy).toBe("UAPP");
    expect(first?.event).toMatchObject({ kind: "approved", at: move.at, details: { via: "UAPP" } });
    expect(store.transition(move)).toBeUndefined();
    expect(store.listEvents("req000000001").map((event) => event.kind)).toEqual([
      "created",
      "approved",
    ]);
    expect(() => store.transition({ ...move, from: "active", to: "pending" })).toThrow(
      "cannot go from active to pending",
    );
  });

  it("erases the sealed key when a request reaches a state that needs none", () => {
    const store = open(newDir());
    store.insert(request(), keyPair.privateKeyPem, created);
    store.transition({
      id: "req000000001",
      from: "pending",
      to: "expired",
      at: "2026-12-11T10:00:00.000Z",
      event: { actorId: "system", kind: "expired", details: {} },
    });
    expect(store.readPrivateKey("req000000001")).toBeUndefined();
    const raw = new Database(store.path, { readonly: true });
    expect(raw.prepare("SELECT sealed_key FROM requests").get()).toEqual({ sealed_key: null });
    raw.close();
  });

  it("updates only while the request is in the state given", () => {
    const store = open(newDir());
    store.insert(request(), keyPair.privateKeyPem, created);
    const progress = { certificateInstalled: true, enabledUsernames: [] };
    const at = "2026-11-26T11:00:00.000Z";
    expect(
      store.update({ id: "req000000001", whileState: "applying", at, changes: { progress } }),
    ).toBeUndefined();
    const done = store.update({
      id: "req000000001",
      whileState: "pending",
      at,
      changes: { messageTs: "1.2" },
    });
    expect(done?.request.messageTs).toBe("1.2");
    expect(done?.event).toBeNull();
  });

  it("shares state between two instances on the same file: only one wins a transition", () => {
    const dataDir = newDir();
    const key = randomEncryptionKey();
    const first = open(dataDir, key);
    const second = open(dataDir, key);
    first.insert(request(), keyPair.privateKeyPem, created);
    expect(second.get("req000000001")?.state).toBe("pending");
    const move = {
      id: "req000000001",
      from: "pending" as const,
      to: "applying" as const,
      at: "2026-11-26T11:00:00.000Z",
      event: { actorId: "UAPP", kind: "approved" as const, details: {} },
    };
    expect(second.transition(move)).toBeDefined();
    expect(first.transition(move)).toBeUndefined();
    expect(first.get("req000000001")?.state).toBe("applying");
    expect(second.readPrivateKey("req000000001")).toBe(keyPair.privateKeyPem);
  });

  it("does not open a sealed key moved to another request's row", () => {
    const store = open(newDir());
    store.insert(request(), keyPair.privateKeyPem, created);
    store.insert(request({ id: "req000000002", selector: "s2" }), keyPair.privateKeyPem, created);
    const raw = new Database(store.path);
    raw
      .prepare(
        "UPDATE requests SET sealed_key = (SELECT sealed_key FROM requests WHERE id = 'req000000001') WHERE id = 'req000000002'",
      )
      .run();
    raw.close();
    expect(() => store.readPrivateKey("req000000002")).toThrow(CodedError);
  });

  it("refuses to open with another encryption key, saying which key and what to do", () => {
    const dataDir = newDir();
    const right = randomEncryptionKey();
    open(dataDir, right).insert(request(), keyPair.privateKeyPem, created);
    for (const store of stores.splice(0)) store.close();

    const wrong = randomEncryptionKey();
    let failure: unknown;
    try {
      open(dataDir, wrong);
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(CodedError);
    const { code, message } = failure as CodedError;
    expect(code).toBe("SEALING_FAILED");
    const path = join(dataDir, DATABASE_FILE);
    expect(message).toContain(
      `The encryption key from DKIM_ENCRYPTION_KEY (key id ${wrong.id}) is not the key the database ${path} was sealed with (key id ${right.id}).`,
    );
    expect(message).toContain("set DKIM_ENCRYPTION_KEY to it, or restore");
    expect(message).toContain(`move ${path} aside`);
    // Nothing was damaged: the right key still opens the request's key.
    expect(open(dataDir, right).readPrivateKey("req000000001")).toBe(keyPair.privateKeyPem);
  });

  it("refuses a database written by a newer version", () => {
    const dataDir = newDir();
    open(dataDir);
    for (const store of stores.splice(0)) store.close();
    const raw = new Database(join(dataDir, DATABASE_FILE));
    raw.pragma("user_version = 99");
    raw.close();
    expect(() => open(dataDir)).toThrow(
      `has schema version 99, newer than this dkim-bot knows (${MIGRATIONS.at(-1)?.version})`,
    );
  });

  it("offers events until they are marked delivered, oldest first", () => {
    const store = open(newDir());
    store.insert(request(), keyPair.privateKeyPem, created);
    const approved = store.transition({
      id: "req000000001",
      from: "pending",
      to: "rejected",
      at: "2026-11-26T11:00:00.000Z",
      event: { actorId: "UAPP", kind: "rejected", details: { reason: "no" } },
    });
    const kinds = () => store.listUndeliveredEvents().map((event) => event.kind);
    expect(kinds()).toEqual(["created", "rejected"]);
    const [first] = store.listUndeliveredEvents();
    store.markEventDelivered(first?.id ?? -1, "2026-11-26T11:00:01.000Z");
    expect(kinds()).toEqual(["rejected"]);
    store.markEventDelivered(approved?.event?.id ?? -1, "2026-11-26T11:00:02.000Z");
    expect(kinds()).toEqual([]);
  });

  it("takes events written before delivery was recorded as delivered", () => {
    const dataDir = newDir();
    const path = join(dataDir, DATABASE_FILE);
    const raw = new Database(path);
    migrate(raw, MIGRATIONS.slice(0, 1));
    raw
      .prepare(
        "INSERT INTO requests (id, domain, selector, bits, usernames, testing, requester_id, channel_id, public_key_base64, fingerprint, record_value, state, created_at, updated_at) VALUES ('r1', 'example.com', 's1', 1024, '[]', 0, 'U', 'C', 'k', 'f', 'v', 'rejected', 't', 't')",
      )
      .run();
    raw
      .prepare(
        "INSERT INTO events (request_id, at, actor_id, kind, details) VALUES ('r1', 't', 'U', 'rejected', '{}')",
      )
      .run();
    raw.close();
    const store = open(dataDir);
    expect(store.listEvents("r1")).toHaveLength(1);
    expect(store.listUndeliveredEvents()).toEqual([]);
  });

  it("lists by domain and events by domain, oldest first", () => {
    const store = open(newDir());
    store.insert(request(), keyPair.privateKeyPem, created);
    store.insert(
      request({
        id: "req000000002",
        domain: "other.example",
        createdAt: "2026-11-26T10:01:00.000Z",
      }),
      keyPair.privateKeyPem,
      created,
    );
    store.insert(
      request({ id: "req000000003", selector: "s3", createdAt: "2026-11-26T10:02:00.000Z" }),
      keyPair.privateKeyPem,
      created,
    );
    expect(store.list({ domain: "example.com" }).map((each) => each.id)).toEqual([
      "req000000001",
      "req000000003",
    ]);
    expect(store.list({ limit: 1 }).map((each) => each.id)).toEqual(["req000000003"]);
    expect(store.listEventsByDomain("example.com").map((event) => event.requestId)).toEqual([
      "req000000001",
      "req000000003",
    ]);
    expect(
      store.list({ createdBefore: "2026-11-26T10:01:00.000Z" }).map((each) => each.id),
    ).toEqual(["req000000001"]);
  });
});
