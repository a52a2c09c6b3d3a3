import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CodedError } from "../../src/errors.js";
import {
  ENCRYPTION_KEY_FILE,
  loadOrCreateEncryptionKey,
  parseEncryptionKey,
  resolveEncryptionKey,
  seal,
  unseal,
} from "../../src/requests/sealing.js";
import { RecordingLogger } from "./support.js";

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "dkim-sealing-"));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function codedError(run: () => unknown): CodedError {
  try {
    run();
  } catch (error) {
    if (error instanceof CodedError) return error;
    throw error;
  }
  throw new Error("expected a CodedError");
}

describe("parseEncryptionKey", () => {
  it("accepts 32 bytes of base64, standard or URL-safe, with surrounding whitespace", () => {
    const bytes = randomBytes(32);
    const key = parseEncryptionKey(` ${bytes.toString("base64")}\n`);
    expect(key.bytes.equals(bytes)).toBe(true);
    expect(key.source).toBe("DKIM_ENCRYPTION_KEY");
    expect(key.id).toMatch(/^[0-9a-f]{12}$/);
    expect(parseEncryptionKey(bytes.toString("base64url")).id).toBe(key.id);
  });

  it("refuses text that is not base64, without repeating it", () => {
    const value = "this is not base64 at all, 32 bytes!";
    const error = codedError(() => parseEncryptionKey(value));
    expect(error.code).toBe("CONFIG_INVALID");
    expect(error.message).toBe(
      "The encryption key from DKIM_ENCRYPTION_KEY is not base64. Give 32 random bytes in base64, e.g. the output of `openssl rand -base64 32`.",
    );
    expect(error.message).not.toContain(value);
  });

  it("refuses base64 of the wrong length and says how long it was", () => {
    const value = randomBytes(16).toString("base64");
    const error = codedError(() => parseEncryptionKey(value));
    expect(error.code).toBe("CONFIG_INVALID");
    expect(error.message).toContain("decodes to 16 bytes, not 32");
    expect(error.message).not.toContain(value);
    expect(() => parseEncryptionKey("")).toThrow("is not base64");
  });
});

describe("loadOrCreateEncryptionKey", () => {
  it("creates the key file once, mode 0600, and warns that it must be backed up", () => {
    const dataDir = join(tempDir(), "data");
    const logger = new RecordingLogger();
    const created = loadOrCreateEncryptionKey(dataDir, logger);
    const path = join(dataDir, ENCRYPTION_KEY_FILE);

    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(path, "utf8").trim(), "base64").length).toBe(32);
    expect(created.source).toBe(path);
    expect(logger.lines("warn")).toHaveLength(1);
    expect(logger.lines("warn")[0]).toContain(`Created a new encryption key in ${path}`);
    expect(logger.lines("warn")[0]).toContain("Back it up");

    const again = loadOrCreateEncryptionKey(dataDir, logger);
    expect(again.id).toBe(created.id);
    expect(again.bytes.equals(created.bytes)).toBe(true);
    expect(logger.lines("warn")).toHaveLength(1);
  });

  it("warns when the key file is readable by others", () => {
    const dataDir = tempDir();
    loadOrCreateEncryptionKey(dataDir, new RecordingLogger());
    chmodSync(join(dataDir, ENCRYPTION_KEY_FILE), 0o644);
    const logger = new RecordingLogger();
    loadOrCreateEncryptionKey(dataDir, logger);
    expect(logger.lines("warn")).toEqual([
      `The encryption key file ${join(dataDir, ENCRYPTION_KEY_FILE)} is readable by other users: chmod 600 it.`,
    ]);
  });

  it("names the file when its content is not a key", () => {
    const dataDir = tempDir();
    const path = join(dataDir, ENCRYPTION_KEY_FILE);
    writeFileSync(path, "short\n", { mode: 0o600 });
    expect(() => loadOrCreateEncryptionKey(dataDir, new RecordingLogger())).toThrow(
      `The encryption key from ${path} decodes to`,
    );
  });

  it("prefers DKIM_ENCRYPTION_KEY and then creates no file", () => {
    const dataDir = tempDir();
    const configured = parseEncryptionKey(randomBytes(32).toString("base64"));
    const key = resolveEncryptionKey({ configured, dataDir, logger: new RecordingLogger() });
    expect(key.source).toBe("DKIM_ENCRYPTION_KEY");
    expect(() => statSync(join(dataDir, ENCRYPTION_KEY_FILE))).toThrow();
    const fromFile = resolveEncryptionKey({
      configured: undefined,
      dataDir,
      logger: new RecordingLogger(),
    });
    expect(fromFile.source).toBe(join(dataDir, ENCRYPTION_KEY_FILE));
  });
});

describe("seal and unseal", () => {
  const key = parseEncryptionKey(randomBytes(32).toString("base64"));
  const other = parseEncryptionKey(randomBytes(32).toString("base64"), "the other key");
  const secret = "-----BEGIN RSA PRIVATE KEY-----\nMIIB...\n-----END RSA PRIVATE KEY-----\n";

  it("round-trips, with a version byte and a fresh IV each time", () => {
    const first = seal(key, secret, "req1");
    const second = seal(key, secret, "req1");
    expect(first[0]).toBe(1);
    expect(first.equals(second)).toBe(false);
    expect(first.toString("latin1")).not.toContain("PRIVATE KEY");
    expect(unseal(key, first, "req1")).toBe(secret);
  });

  it("does not open for another request id, another key, or a changed byte", () => {
    const blob = seal(key, secret, "req1");
    expect(() => unseal(key, blob, "req2")).toThrow(CodedError);
    const wrongKey = codedError(() => unseal(other, blob, "req1"));
    expect(wrongKey.code).toBe("SEALING_FAILED");
    expect(wrongKey.message).toContain("the other key");
    const tampered = Buffer.from(blob);
    tampered[tampered.length - 1] = (tampered.at(-1) ?? 0) ^ 1;
    expect(() => unseal(key, tampered, "req1")).toThrow("could not be opened");
    expect(() => unseal(key, Buffer.of(2, 0, 0), "req1")).toThrow("unknown format");
  });
});
