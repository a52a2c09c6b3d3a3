/**
 * Run by transition-race.test.ts in a separate Node process: opens the store on the shared
 * file, says "ready", waits for the go file, then tries to approve every pending request.
 * Prints the ids it won as JSON. (Not a test file itself: vitest only collects *.test.ts.)
 */
import { existsSync } from "node:fs";
import { parseEncryptionKey } from "../../src/requests/sealing.js";
import { SqliteRequestStore } from "../../src/requests/sqlite-store.js";

const [dataDir, goFile, actorId] = process.argv.slice(2);
const keyText = process.env.TEST_ENCRYPTION_KEY;
if (dataDir === undefined || goFile === undefined || actorId === undefined || !keyText) {
  throw new Error("usage: transition-race-child <dataDir> <goFile> <actorId> (key in env)");
}
const store = new SqliteRequestStore({ dataDir, encryptionKey: parseEncryptionKey(keyText) });
const ids = store.list({ states: ["pending"] }).map((request) => request.id);
process.stdout.write("ready\n");

const pause = new Int32Array(new SharedArrayBuffer(4));
while (!existsSync(goFile)) Atomics.wait(pause, 0, 0, 2);

const won: string[] = [];
for (const id of ids) {
  const change = store.transition({
    id,
    from: "pending",
    to: "applying",
    at: new Date().toISOString(),
    changes: { decidedBy: actorId },
    event: { actorId, kind: "approved", details: {} },
  });
  if (change !== undefined) won.push(id);
}
store.close();
process.stdout.write(`${JSON.stringify(won)}\n`);
