import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { generateKeyPair } from "../../src/dkim/keys.js";
import { sampleRequest, withKey } from "../helpers/sample-request.js";
import {
  DIALECTS,
  freshDatabase,
  openTestStore,
  type TestDatabase,
} from "../helpers/test-stores.js";
import { randomEncryptionKey } from "./support.js";

const CHILD = fileURLToPath(new URL("./transition-race-child.ts", import.meta.url));
const REQUESTS = 60;

interface Child {
  ready: Promise<void>;
  result: Promise<string[]>;
}

function startChild(database: TestDatabase, goFile: string, actorId: string, key: string): Child {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, goFile, actorId], {
    env: {
      ...process.env,
      TEST_ENCRYPTION_KEY: key,
      TEST_DATA_DIR: database.dataDir,
      TEST_DATABASE_URL: database.databaseUrl ?? "",
      TEST_CONNECTION_OPTIONS: database.connectionOptions ?? "",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
    if (stdout.startsWith("ready\n")) markReady();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const result = new Promise<string[]>((resolve, reject) => {
    child.on("close", (code) => {
      if (code !== 0) {
        markReady();
        reject(new Error(`child ${actorId} exited with ${code}: ${stderr}`));
        return;
      }
      resolve(JSON.parse(stdout.split("\n")[1] ?? "[]") as string[]);
    });
  });
  return { ready, result };
}

describe.each(DIALECTS)("transitions across processes on %s", (dialect) => {
  it("two processes approving the same requests on one database: each request is won exactly once", async () => {
    const database = await freshDatabase(dialect);
    const key = randomEncryptionKey();
    const keyPair = await generateKeyPair(1024);
    const store = await openTestStore(database, { encryptionKey: key });
    const at = "2026-11-26T10:00:00.000Z";
    for (let index = 0; index < REQUESTS; index++) {
      const request = sampleRequest({
        id: `race${String(index).padStart(8, "0")}`,
        selector: `s${index}`,
        bits: 1024,
        requesterId: "UREQ",
        channelId: "CCHAN",
        messageTs: null,
        ...withKey(keyPair),
        createdAt: at,
        updatedAt: at,
      });
      await store.insert(request, keyPair.privateKeyPem, {
        actorId: "UREQ",
        kind: "created",
        details: {},
      });
    }

    const goFile = join(database.dataDir, "go");
    const keyText = key.bytes.toString("base64");
    const first = startChild(database, goFile, "UFIRST", keyText);
    const second = startChild(database, goFile, "USECOND", keyText);
    await Promise.all([first.ready, second.ready]);
    writeFileSync(goFile, "go");
    const [wonByFirst, wonBySecond] = await Promise.all([first.result, second.result]);

    const all = [...wonByFirst, ...wonBySecond].sort();
    expect(all).toHaveLength(REQUESTS);
    expect(new Set(all).size).toBe(REQUESTS);
    for (const request of await store.list()) {
      expect(request.state).toBe("applying");
      const approvals = (await store.listEvents(request.id)).filter(
        (event) => event.kind === "approved",
      );
      expect(approvals).toHaveLength(1);
      expect(approvals[0]?.actorId).toBe(request.decidedBy);
      expect(request.decidedBy === "UFIRST" ? wonByFirst : wonBySecond).toContain(request.id);
    }
  });
});
