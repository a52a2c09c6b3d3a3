/**
 * Run by transition-race.test.ts in a separate Node process: opens the store on the shared
 * database, says "ready", waits for the go file, then tries to approve every pending request.
 * Prints the ids it won as JSON. (Not a test file itself: vitest only collects *.test.ts.)
 */
import { existsSync } from "node:fs";
import { parseEncryptionKey } from "../../src/requests/sealing.js";
import { openStore } from "../../src/requests/store/open-store.js";

const [goFile, actorId] = process.argv.slice(2);
const keyText = process.env.TEST_ENCRYPTION_KEY;
const dataDir = process.env.TEST_DATA_DIR;
if (goFile === undefined || actorId === undefined || !keyText || !dataDir) {
  throw new Error("usage: transition-race-child <goFile> <actorId> (key and database in env)");
}
const databaseUrl = process.env.TEST_DATABASE_URL || undefined;
const connectionOptions = process.env.TEST_CONNECTION_OPTIONS || undefined;
const store = await openStore({
  dataDir,
  databaseUrl,
  encryptionKey: parseEncryptionKey(keyText),
  owner: actorId,
  ...(connectionOptions === undefined ? {} : { connectionOptions }),
});
const ids = (await store.list({ states: ["pending"] })).map((request) => request.id);
process.stdout.write("ready\n");

while (!existsSync(goFile)) await new Promise((resolve) => setTimeout(resolve, 2));

const won: string[] = [];
for (const id of ids) {
  const change = await store.transition({
    id,
    from: "pending",
    to: "applying",
    at: new Date().toISOString(),
    changes: { decidedBy: actorId },
    event: { actorId, kind: "approved", details: {} },
  });
  if (change !== undefined) won.push(id);
}
await store.close();
process.stdout.write(`${JSON.stringify(won)}\n`);
