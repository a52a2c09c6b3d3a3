/**
 * The batches table and the batch id on requests (migration 9), on SQLite and PostgreSQL:
 * what is written reads back, a write based on an old version loses, unfinished batches are
 * found by whoever holds none, and a card posted late reaches every request of the batch.
 */
import { describe, expect, it } from "vitest";
import { generateKeyPair } from "../../../src/dkim/keys.js";
import type { Batch, BatchRun } from "../../../src/requests/batch.js";
import { sampleRequest, withKey } from "../../helpers/sample-request.js";
import { DIALECTS, freshDatabase, openTestStore } from "../../helpers/test-stores.js";
import { randomEncryptionKey } from "../support.js";

const keyPair = await generateKeyPair(1024);
const AT = "2026-11-26T10:00:00.000Z";
const LATER = "2026-11-26T10:05:00.000Z";
const HOLD = { owner: "replica-a", until: "2026-11-26T10:10:00.000Z" };

function batch(overrides: Partial<Batch> = {}): Batch {
  return {
    id: "b1",
    requesterId: "UREQ",
    channelId: "CCHAN",
    teamId: "T1",
    enterpriseId: null,
    input: { domains: ["a.example", "b.example"], bits: 1024, testing: false },
    responseUrl: "https://hooks.slack.test/r/1",
    state: "queued",
    invalid: [],
    skipped: [],
    planned: [],
    messageTs: null,
    runs: [],
    told: {},
    version: 1,
    createdAt: AT,
    updatedAt: AT,
    ...overrides,
  };
}

function run(overrides: Partial<BatchRun> = {}): BatchRun {
  return {
    id: "r1",
    kind: "approve",
    actorId: "UAPP",
    via: "UAPP",
    reason: null,
    at: AT,
    items: [{ requestId: "req1", domain: "a.example", fingerprint: keyPair.fingerprint }],
    leftOut: [{ domain: "b.example", reason: "not live yet" }],
    refused: [],
    finishedAt: null,
    toldTs: null,
    ...overrides,
  };
}

describe.each(DIALECTS)("batches in the store on %s", (dialect) => {
  async function open() {
    const database = await freshDatabase(dialect);
    const encryptionKey = randomEncryptionKey();
    return {
      store: await openTestStore(database, { encryptionKey, owner: "replica-a" }),
      other: await openTestStore(database, { encryptionKey, owner: "replica-b" }),
    };
  }

  it("reads back what it wrote", async () => {
    const { store } = await open();
    const original = batch({
      invalid: [{ domain: "bad!", reason: 'domain "bad!": not allowed' }],
      runs: [run()],
      told: { records: "1.2" },
    });
    await store.insertBatch(original, HOLD);
    expect(await store.getBatch("b1")).toEqual(original);
    expect(await store.getBatch("nope")).toBeUndefined();
  });

  it("applies a write only to the version it read: the second of two writers loses", async () => {
    const { store, other } = await open();
    await store.insertBatch(batch(), HOLD);
    const first = await store.updateBatch("b1", 1, LATER, {
      state: "making",
      planned: [{ domain: "a.example", selector: "s202611" }],
    });
    expect(first).toMatchObject({ state: "making", version: 2, updatedAt: LATER });
    expect(await other.updateBatch("b1", 1, LATER, { state: "refused" })).toBeUndefined();
    expect(await other.getBatch("b1")).toEqual(first);
  });

  it("finds batches with work that nobody holds, once, and gives them back after the hold", async () => {
    const { store, other } = await open();
    await store.insertBatch(batch({ id: "held" }), HOLD);
    await store.insertBatch(
      batch({ id: "done", state: "ready", messageTs: "1.1", told: { records: "1.2" } }),
      HOLD,
    );
    await store.insertBatch(batch({ id: "refused", state: "refused" }), HOLD);
    // Held by replica-a until 10:10: nothing for replica-b before then.
    expect(await other.claimBatchesWithWork({ owner: "replica-b", until: LATER }, AT, 10)).toEqual(
      [],
    );
    const claimed = await other.claimBatchesWithWork(
      { owner: "replica-b", until: "2026-11-26T10:20:00.000Z" },
      "2026-11-26T10:11:00.000Z",
      10,
    );
    expect(claimed.map((each) => each.id)).toEqual(["held"]);
    // Now replica-b's: replica-a may not take it back, replica-b may extend it.
    expect(await store.holdBatch("held", HOLD, "2026-11-26T10:12:00.000Z")).toBe(false);
    expect(
      await other.holdBatch(
        "held",
        { owner: "replica-b", until: "2026-11-26T10:30:00.000Z" },
        "2026-11-26T10:12:00.000Z",
      ),
    ).toBe(true);
    await other.releaseBatch("held", "replica-b");
    expect(await store.holdBatch("held", HOLD, "2026-11-26T10:12:00.000Z")).toBe(true);
  });

  it("keeps a finished batch with a run still to tell among those with work", async () => {
    const { store } = await open();
    const ready = batch({ state: "ready", messageTs: "1.1", told: { records: "1.2" } });
    await store.insertBatch(ready, HOLD);
    await store.releaseBatch("b1", "replica-a");
    const withRun = await store.updateBatch("b1", 1, LATER, {
      runs: [run({ finishedAt: LATER })],
    });
    expect(withRun?.runs).toHaveLength(1);
    const claim = () => store.claimBatchesWithWork(HOLD, LATER, 10);
    expect((await claim()).map((each) => each.id)).toEqual(["b1"]);
    await store.releaseBatch("b1", "replica-a");
    await store.updateBatch("b1", 2, LATER, { runs: [run({ finishedAt: LATER, toldTs: "1.3" })] });
    expect(await claim()).toEqual([]);
  });

  it("ties requests to their batch and points those without a card at the card once posted", async () => {
    const { store } = await open();
    await store.insertBatch(batch(), HOLD);
    const member = (id: string, domain: string, messageTs: string | null) =>
      sampleRequest({
        id,
        domain,
        selector: "s1",
        bits: 1024,
        channelId: "CCHAN",
        messageTs,
        batchId: "b1",
        ...withKey(keyPair),
      });
    const created = { actorId: "UREQ", kind: "created" as const, details: {} };
    await store.insert(member("m1", "a.example", null), keyPair.privateKeyPem, created);
    await store.insert(member("m2", "b.example", null), keyPair.privateKeyPem, created);
    await store.insert(
      sampleRequest({ id: "single", domain: "c.example", messageTs: null, ...withKey(keyPair) }),
      keyPair.privateKeyPem,
      created,
    );
    expect((await store.list({ batchId: "b1" })).map((each) => each.id)).toEqual(["m1", "m2"]);

    const attached = await store.attachBatchCard("b1", "CCHAN", "1700000000.000100", LATER);
    expect(attached?.messageTs).toBe("1700000000.000100");
    for (const id of ["m1", "m2"]) {
      expect(await store.get(id)).toMatchObject({
        batchId: "b1",
        messageTs: "1700000000.000100",
      });
    }
    expect((await store.get("single"))?.messageTs).toBeNull();
    // A second post (a lost answer, a restart) does not move the card.
    const again = await store.attachBatchCard("b1", "CCHAN", "1700000099.000100", LATER);
    expect(again?.messageTs).toBe("1700000000.000100");
    expect((await store.get("m1"))?.messageTs).toBe("1700000000.000100");
  });

  it("forgets batch holds with the others (SQLite at start: the holder is dead)", async () => {
    const { store } = await open();
    await store.insertBatch(batch(), HOLD);
    await store.forgetHolds();
    expect((await store.claimBatchesWithWork({ owner: "x", until: LATER }, AT, 5)).length).toBe(1);
  });
});
