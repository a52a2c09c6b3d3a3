import { spawn } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { generateKeyPair } from "../../src/dkim/keys.js";
import { SqliteRequestStore } from "../../src/requests/sqlite-store.js";
import { sampleRequest, withKey } from "../helpers/sample-request.js";
import { randomEncryptionKey, tempDataDir } from "./support.js";

const CHILD = fileURLToPath(new URL("./transition-race-child.ts", import.meta.url));
const REQUESTS = 60;

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

interface Child {
  ready: Promise<void>;
  result: Promise<string[]>;
}

function startChild(dataDir: string, goFile: string, actorId: string, key: string): Child {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, dataDir, goFile, actorId], {
    env: { ...process.env, TEST_ENCRYPTION_KEY: key },
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

describe("transitions across processes", () => {
  it("two processes approving the same requests on one file: each request is won exactly once", async () => {
    const dataDir = tempDataDir();
    dirs.push(dataDir);
    const key = randomEncryptionKey();
    const keyPair = await generateKeyPair(1024);
    const store = new SqliteRequestStore({ dataDir, encryptionKey: key });
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
      store.insert(request, keyPair.privateKeyPem, {
        actorId: "UREQ",
        kind: "created",
        details: {},
      });
    }

    const goFile = join(dataDir, "go");
    const keyText = key.bytes.toString("base64");
    const first = startChild(dataDir, goFile, "UFIRST", keyText);
    const second = startChild(dataDir, goFile, "USECOND", keyText);
    await Promise.all([first.ready, second.ready]);
    writeFileSync(goFile, "go");
    const [wonByFirst, wonBySecond] = await Promise.all([first.result, second.result]);

    const all = [...wonByFirst, ...wonBySecond].sort();
    expect(all).toHaveLength(REQUESTS);
    expect(new Set(all).size).toBe(REQUESTS);
    for (const request of store.list()) {
      expect(request.state).toBe("applying");
      const approvals = store.listEvents(request.id).filter((event) => event.kind === "approved");
      expect(approvals).toHaveLength(1);
      expect(approvals[0]?.actorId).toBe(request.decidedBy);
      expect(request.decidedBy === "UFIRST" ? wonByFirst : wonBySecond).toContain(request.id);
    }
    store.close();
  });
});
