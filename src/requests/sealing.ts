import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CodedError } from "../errors.js";
import type { RequestsLogger } from "./logger.js";

/**
 * Sealing of private keys at rest: AES-256-GCM with a random 12-byte IV, and the owner's id
 * (the request id) as additional authenticated data, so a sealed key copied onto another row
 * does not open. One blob per key, versioned so the format can change later:
 *
 *   [version 0x01][IV, 12 bytes][GCM tag, 16 bytes][ciphertext]
 */
const BLOB_VERSION = 0x01;
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + IV_BYTES + TAG_BYTES;

export const ENCRYPTION_KEY_FILE = "encryption.key";
export const ENCRYPTION_KEY_VARIABLE = "DKIM_ENCRYPTION_KEY";

export interface EncryptionKey {
  readonly bytes: Buffer;
  /** Where it came from, for messages: "DKIM_ENCRYPTION_KEY" or the key file's path. */
  readonly source: string;
  /** A short, non-secret identifier (HMAC of the key) so people can tell keys apart. */
  readonly id: string;
}

export function encryptionKeyFromBytes(bytes: Buffer, source: string): EncryptionKey {
  if (bytes.length !== KEY_BYTES) {
    throw new CodedError(
      "CONFIG_INVALID",
      `The encryption key from ${source} must be ${KEY_BYTES} bytes; it has ${bytes.length}.`,
    );
  }
  return { bytes: Buffer.from(bytes), source, id: keyIdOf(bytes) };
}

/**
 * Reads a base64 key (standard or URL-safe alphabet). The value itself never appears in
 * the error: a half-right secret in a log is still a leaked secret.
 */
export function parseEncryptionKey(
  text: string,
  source: string = ENCRYPTION_KEY_VARIABLE,
): EncryptionKey {
  const trimmed = text.trim();
  const hint = `Give ${KEY_BYTES} random bytes in base64, e.g. the output of \`openssl rand -base64 ${KEY_BYTES}\`.`;
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) {
    throw new CodedError(
      "CONFIG_INVALID",
      `The encryption key from ${source} is not base64. ${hint}`,
    );
  }
  const bytes = Buffer.from(trimmed, "base64");
  if (bytes.length !== KEY_BYTES) {
    throw new CodedError(
      "CONFIG_INVALID",
      `The encryption key from ${source} decodes to ${bytes.length} bytes, not ${KEY_BYTES}. ${hint}`,
    );
  }
  return encryptionKeyFromBytes(bytes, source);
}

/**
 * The key in DATA_DIR/encryption.key, created (mode 0600) on first use. Creation is logged
 * as a warning because losing the file makes every sealed key of an open request unreadable.
 */
export function loadOrCreateEncryptionKey(dataDir: string, logger: RequestsLogger): EncryptionKey {
  const path = join(dataDir, ENCRYPTION_KEY_FILE);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  try {
    writeFileSync(path, `${randomBytes(KEY_BYTES).toString("base64")}\n`, {
      mode: 0o600,
      flag: "wx",
    });
    logger.warn(
      `Created a new encryption key in ${path} (mode 0600). Back it up with the database: without it the private keys of open requests cannot be read. Or set ${ENCRYPTION_KEY_VARIABLE} instead.`,
      { path },
    );
  } catch (error) {
    // EEXIST is the normal case (the key was made on an earlier start, or by another replica).
    if (!isErrno(error, "EEXIST")) {
      throw new CodedError(
        "CONFIG_INVALID",
        `Could not create the encryption key file ${path}: ${describeFsError(error)}. Make DATA_DIR writable or set ${ENCRYPTION_KEY_VARIABLE}.`,
      );
    }
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new CodedError(
      "CONFIG_INVALID",
      `Could not read the encryption key file ${path}: ${describeFsError(error)}.`,
    );
  }
  if ((statSync(path).mode & 0o077) !== 0) {
    logger.warn(`The encryption key file ${path} is readable by other users: chmod 600 it.`, {
      path,
    });
  }
  return parseEncryptionKey(text, path);
}

/** DKIM_ENCRYPTION_KEY when configured, else the key file in DATA_DIR. */
export function resolveEncryptionKey(options: {
  /** DKIM_ENCRYPTION_KEY, already read by `parseEncryptionKey` (config.ts). */
  configured?: EncryptionKey | undefined;
  dataDir: string;
  logger: RequestsLogger;
}): EncryptionKey {
  return options.configured ?? loadOrCreateEncryptionKey(options.dataDir, options.logger);
}

export function keyIdOf(bytes: Buffer): string {
  return createHmac("sha256", bytes).update("dkim-bot key id").digest("hex").slice(0, 12);
}

export function seal(key: EncryptionKey, plaintext: string, associatedData: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key.bytes, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(associatedData, "utf8"));
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return Buffer.concat([Buffer.of(BLOB_VERSION), iv, cipher.getAuthTag(), ciphertext]);
}

/** Throws SEALING_FAILED (wrong key, wrong owner, damaged blob); never says more than that. */
export function unseal(key: EncryptionKey, blob: Uint8Array, associatedData: string): string {
  const data = Buffer.from(blob);
  if (data.length < HEADER_BYTES || data[0] !== BLOB_VERSION) {
    throw new CodedError(
      "SEALING_FAILED",
      "A sealed private key is in an unknown format: the database may be damaged.",
    );
  }
  const iv = data.subarray(1, 1 + IV_BYTES);
  const tag = data.subarray(1 + IV_BYTES, HEADER_BYTES);
  const decipher = createDecipheriv("aes-256-gcm", key.bytes, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(associatedData, "utf8"));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(data.subarray(HEADER_BYTES)), decipher.final()]).toString(
      "utf8",
    );
  } catch {
    throw new CodedError(
      "SEALING_FAILED",
      `A sealed private key could not be opened with the encryption key from ${key.source} (key id ${key.id}).`,
    );
  }
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

function describeFsError(error: unknown): string {
  const code = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
  return code ?? "unknown error";
}
