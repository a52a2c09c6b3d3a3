import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parseEncryptionKey } from "../../../src/requests/sealing.js";
import { copyStore } from "../../../src/requests/store/copy-store.js";
import { acquireInstanceLock } from "../../../src/requests/store/instance-lock.js";
import {
  DIALECTS,
  freshDatabase,
  freshPostgresUrl,
  openTestStore,
} from "../../helpers/test-stores.js";
import { APPROVER, CHANNEL, createHarness, REQUESTER } from "../support.js";

const CLI = fileURLToPath(new URL("../../../dist/cli.js", import.meta.url));
const run = promisify(execFile);

/** A SQLite store with requests in several states: pending (sealed key), active, rejected. */
async function filledSqlite() {
  const h = await createHarness({ dialect: "sqlite" });
  const make = (selector: string, domain = "example.com") =>
    h.service.create({
      domain,
      selector,
      bits: 1024,
      requesterId: REQUESTER,
      channelId: CHANNEL,
    });
  const pending = (await make("p1")).request;
  const active = (await make("a1", "active.example")).request;
  await h.service.approve(active.id, { actorId: APPROVER, fingerprintShown: active.fingerprint });
  const rejected = (await make("r1")).request;
  await h.service.reject(rejected.id, { actorId: APPROVER, reason: "not now" });
  return { h, pending, active, rejected };
}

describe.skipIf(!DIALECTS.includes("postgres"))("migrate-store: SQLite to PostgreSQL", () => {
  it("copies requests, sealed keys and events, and later events number after them", async () => {
    const { h, pending } = await filledSqlite();
    const target = await openTestStore(await freshDatabase("postgres"), {
      encryptionKey: h.encryptionKey,
    });
    const batch = await h.service.batches.start({
      domains: ["b1.example", "b2.example"],
      actor: { actorId: REQUESTER },
      channelId: CHANNEL,
    });
    const report = await copyStore(h.store, target);
    expect(report).toEqual({ requests: 3, events: await countEvents(h), sealedKeys: 1 });
    expect(await target.getBatch(batch.id)).toEqual(await h.store.getBatch(batch.id));
    for (const request of await h.store.list()) {
      expect(await target.get(request.id)).toEqual(request);
      expect(await target.listEvents(request.id)).toEqual(await h.store.listEvents(request.id));
    }
    expect(await target.readPrivateKey(pending.id)).toBe(await h.store.readPrivateKey(pending.id));
    const maxId = Math.max(
      ...(await h.store.listEventsByDomain("example.com")).map((e) => e.id),
      ...(await h.store.listEventsByDomain("active.example")).map((e) => e.id),
    );
    const next = await target.appendEvent({
      requestId: pending.id,
      at: new Date().toISOString(),
      actorId: "system",
      kind: "resumed",
      details: {},
    });
    expect(next.id).toBeGreaterThan(maxId);
    await h.close();
  });

  it("refuses a target that is not empty, and changes nothing there", async () => {
    const { h } = await filledSqlite();
    const database = await freshDatabase("postgres");
    const target = await openTestStore(database, { encryptionKey: h.encryptionKey });
    await copyStore(h.store, target);
    await expect(copyStore(h.store, target)).rejects.toThrow("is not empty (3 requests");
    expect(await target.list()).toHaveLength(3);
    await h.close();
  });

  it("runs from the command line, refuses while the bot holds DATA_DIR, and says what next", async () => {
    const { h } = await filledSqlite();
    await h.close();
    const to = await freshPostgresUrl();
    const env = {
      PATH: process.env.PATH ?? "",
      DATA_DIR: h.database.dataDir,
      DKIM_ENCRYPTION_KEY: h.encryptionKey.bytes.toString("base64"),
    };
    const lock = acquireInstanceLock(h.database.dataDir);
    const refused = await run(process.execPath, [CLI, "migrate-store", "--to", to], { env }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    lock.release();
    expect(refused?.code).toBe(1);
    expect(refused?.stderr).toContain("another dkim-bot is already running on DATA_DIR");

    const done = await run(process.execPath, [CLI, "migrate-store", "--to", to], { env });
    expect(done.stdout).toContain("Copied 3 requests (1 with a sealed key");
    expect(done.stdout).toContain("the counts match");
    expect(done.stdout).toContain("keep DKIM_ENCRYPTION_KEY as it is");
    expect(done.stdout).not.toContain(new URL(to).password);
    const store = await openTestStore(
      { dialect: "postgres", dataDir: h.database.dataDir, databaseUrl: to },
      { encryptionKey: parseEncryptionKey(env.DKIM_ENCRYPTION_KEY) },
    );
    expect(await store.list()).toHaveLength(3);
  });
});

async function countEvents(h: Awaited<ReturnType<typeof createHarness>>): Promise<number> {
  let count = 0;
  for (const domain of ["example.com", "active.example"]) {
    count += (await h.store.listEventsByDomain(domain)).length;
  }
  return count;
}
