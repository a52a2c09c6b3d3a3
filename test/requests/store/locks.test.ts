import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { generateKeyPair } from "../../../src/dkim/keys.js";
import { CodedError } from "../../../src/errors.js";
import { StoreBusyError } from "../../../src/requests/store/busy.js";
import { acquireInstanceLock } from "../../../src/requests/store/instance-lock.js";
import { DATABASE_FILE, openStore } from "../../../src/requests/store/open-store.js";
import { sampleRequest, withKey } from "../../helpers/sample-request.js";
import {
  DIALECTS,
  freshDatabase,
  openTestStore,
  POSTGRES_URL,
  type TestDatabase,
} from "../../helpers/test-stores.js";
import { randomEncryptionKey } from "../support.js";

const keyPair = await generateKeyPair(1024);
const created = { actorId: "UREQ", kind: "created" as const, details: {} };
const request = (id: string, selector: string) =>
  sampleRequest({ id, selector, bits: 1024, messageTs: null, ...withKey(keyPair) });

/** Holds the write lock of the database from another connection until `release()`. */
async function holdWriteLock(database: TestDatabase): Promise<{ release(): Promise<void> }> {
  if (database.dialect === "sqlite") {
    const other = new Database(join(database.dataDir, DATABASE_FILE));
    other.exec("BEGIN IMMEDIATE");
    return {
      async release() {
        other.exec("ROLLBACK");
        other.close();
      },
    };
  }
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  await client.query(`SET ${database.connectionOptions?.replace("=", " TO ")}`);
  await client.query("BEGIN");
  await client.query("LOCK TABLE requests, events IN ACCESS EXCLUSIVE MODE");
  return {
    async release() {
      await client.query("ROLLBACK");
      await client.end();
    },
  };
}

describe.each(DIALECTS)("locks held by others, on %s", (dialect) => {
  it("waits for a lock without blocking the event loop, then gives up with a sentence", async () => {
    const database = await freshDatabase(dialect);
    const store = await openTestStore(database, {
      encryptionKey: randomEncryptionKey(),
      busyDeadlineMs: 700,
    });
    const lock = await holdWriteLock(database);
    let ticked = false;
    const tick = setTimeout(() => {
      ticked = true;
    }, 20);
    const failure = await store
      .insert(request("req000000001", "s1"), keyPair.privateKeyPem, created)
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    clearTimeout(tick);
    // The 20 ms timer ran while the write waited: the loop was free between attempts.
    expect(ticked).toBe(true);
    expect(failure).toBeInstanceOf(StoreBusyError);
    expect((failure as StoreBusyError).code).toBe("STORE_BUSY");
    expect((failure as StoreBusyError).message).toMatch(
      /stayed locked by another connection .* nothing was changed\. Try again in a minute/,
    );
    await lock.release();
    // Nothing half-written; the same write goes through once the lock is gone.
    expect(await store.get("req000000001")).toBeUndefined();
    await store.insert(request("req000000001", "s1"), keyPair.privateKeyPem, created);
    expect((await store.get("req000000001"))?.state).toBe("pending");
  });

  it("goes through once a short lock is released before the deadline", async () => {
    const database = await freshDatabase(dialect);
    const store = await openTestStore(database, {
      encryptionKey: randomEncryptionKey(),
      busyDeadlineMs: 5000,
    });
    const lock = await holdWriteLock(database);
    const write = store.insert(request("req000000002", "s2"), keyPair.privateKeyPem, created);
    setTimeout(() => void lock.release(), 200);
    await write;
    expect((await store.get("req000000002"))?.selector).toBe("s2");
  });
});

describe("one bot per SQLite DATA_DIR", () => {
  it("refuses a second holder of the instance lock with a sentence, and frees it on release", async () => {
    const database = await freshDatabase("sqlite");
    const first = acquireInstanceLock(database.dataDir);
    let refusal: unknown;
    try {
      acquireInstanceLock(database.dataDir);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(CodedError);
    expect((refusal as CodedError).message).toContain(
      `another dkim-bot is already running on DATA_DIR ${database.dataDir}`,
    );
    expect((refusal as CodedError).message).toContain("DATABASE_URL");
    first.release();
    acquireInstanceLock(database.dataDir).release();
  });
});

describe.skipIf(POSTGRES_URL === undefined && process.env.CI !== "true")(
  "PostgreSQL connection problems at start",
  () => {
    const base = () => new URL(POSTGRES_URL ?? "postgres://x@127.0.0.1/x");
    const open = (url: string) =>
      openStore({
        databaseUrl: url,
        dataDir: "/nonexistent",
        encryptionKey: randomEncryptionKey(),
        owner: "t",
      }).then(
        () => {
          throw new Error("expected the store not to open");
        },
        (error: unknown) => error as CodedError,
      );

    it("a wrong password", async () => {
      const url = base();
      url.password = "wrong-password";
      const error = await open(url.toString());
      expect(error.code).toBe("STORE_UNAVAILABLE");
      expect(error.message).toContain("refused the password of DATABASE_URL's user");
      expect(error.message).not.toContain("wrong-password");
    });

    it("a database that does not exist", async () => {
      const url = base();
      url.pathname = "/no_such_database";
      const error = await open(url.toString());
      expect(error.message).toContain("no_such_database on 127.0.0.1");
      expect(error.message).toContain("does not exist: create it");
    });

    it("nothing listening", async () => {
      const url = base();
      url.port = "1";
      const error = await open(url.toString());
      expect(error.message).toContain("nothing answers at");
      expect(error.message).toContain("127.0.0.1:1");
    });
  },
);
