/**
 * TSIG (RFC 8945) on node:crypto: signs a DNS message with an HMAC key and verifies the
 * server's signed answer, so an update is accepted only from the bot and an answer only from
 * the server.
 *
 * Why our own code rather than running `nsupdate`: no maintained npm package signs TSIG
 * (facts.md), and nsupdate would put the secret in a key file or on a command line, add a
 * process per update, and leave us to scrape its text output for NOTAUTH, REFUSED or a
 * prerequisite failure. Signing is one HMAC over the message bytes and a few fields; it is
 * proven against a real BIND (which refuses a wrong secret) and against dnspython's vectors.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { TsigAlgorithm, TsigKey } from "./settings.js";
import { CLASS, canonical, type DecodedMessage, encodeName, encodeRecord, TYPE } from "./wire.js";

/** RFC 8945 §10 recommends 300 s. */
export const DEFAULT_FUDGE_SECONDS = 300;

export const TSIG_ERRORS: Readonly<Record<number, string>> = {
  16: "BADSIG",
  17: "BADKEY",
  18: "BADTIME",
  22: "BADTRUNC",
};

const HASH: Readonly<Record<TsigAlgorithm, { hash: string; size: number }>> = {
  "hmac-sha256": { hash: "sha256", size: 32 },
  "hmac-sha512": { hash: "sha512", size: 64 },
};

export interface SignOptions {
  /** Seconds since the epoch. */
  timeSigned: number;
  fudge?: number;
  /** Set when signing a response: the MAC of the request it answers. */
  requestMac?: Buffer;
  /** TSIG error (a response to a bad request); 0 otherwise. */
  error?: number;
  otherData?: Buffer;
}

export interface Signed {
  /** The message with its TSIG record appended (ARCOUNT raised by one). */
  wire: Buffer;
  mac: Buffer;
}

function uint(value: number, bytes: 2 | 4 | 6): Buffer {
  const buf = Buffer.alloc(bytes);
  buf.writeUIntBE(value, 0, bytes);
  return buf;
}

function lengthPrefixed(data: Buffer): Buffer {
  return Buffer.concat([uint(data.length, 2), data]);
}

function computeMac(
  key: TsigKey,
  message: Buffer,
  fields: Required<Omit<SignOptions, "requestMac">> & { requestMac?: Buffer },
): Buffer {
  const hmac = createHmac(HASH[key.algorithm].hash, key.secret);
  if (fields.requestMac !== undefined) hmac.update(lengthPrefixed(fields.requestMac));
  hmac.update(message);
  // The TSIG variables (RFC 8945 §4.3.3), names in canonical form.
  hmac.update(encodeName(canonical(key.name)));
  hmac.update(uint(CLASS.ANY, 2));
  hmac.update(uint(0, 4));
  hmac.update(encodeName(canonical(key.algorithm)));
  hmac.update(uint(fields.timeSigned, 6));
  hmac.update(uint(fields.fudge, 2));
  hmac.update(uint(fields.error, 2));
  hmac.update(lengthPrefixed(fields.otherData));
  return hmac.digest();
}

/** Signs `message` (no TSIG yet; its ID is the original ID) and appends the TSIG record. */
export function signMessage(message: Buffer, key: TsigKey, options: SignOptions): Signed {
  const fields = {
    timeSigned: options.timeSigned,
    fudge: options.fudge ?? DEFAULT_FUDGE_SECONDS,
    error: options.error ?? 0,
    otherData: options.otherData ?? Buffer.alloc(0),
    ...(options.requestMac === undefined ? {} : { requestMac: options.requestMac }),
  };
  const mac = computeMac(key, message, fields);
  const rdata = Buffer.concat([
    encodeName(canonical(key.algorithm)),
    uint(fields.timeSigned, 6),
    uint(fields.fudge, 2),
    lengthPrefixed(mac),
    message.subarray(0, 2), // original ID
    uint(fields.error, 2),
    lengthPrefixed(fields.otherData),
  ]);
  const record = encodeRecord({
    name: canonical(key.name),
    type: TYPE.TSIG,
    class: CLASS.ANY,
    ttl: 0,
    rdata,
  });
  const wire = Buffer.concat([message, record]);
  wire.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { wire, mac };
}

export type TsigVerdict =
  | { ok: true }
  /** The server refused our signature: its answer carries a TSIG error and (for BADSIG/BADKEY) no MAC. */
  | { ok: false; problem: "refused-by-server"; tsigError: string; fudge: number }
  | { ok: false; problem: "unsigned" | "other-key" | "bad-mac" | "bad-time"; detail: string };

/**
 * Checks the TSIG of a response to a request whose MAC was `requestMac`: present, made with
 * our key and algorithm, a correct full-length MAC, and signed within the fudge of `now`.
 */
export function verifyResponse(
  wire: Buffer,
  decoded: DecodedMessage,
  key: TsigKey,
  requestMac: Buffer,
  nowSeconds: number,
): TsigVerdict {
  const tsig = decoded.tsig;
  if (tsig === undefined) {
    return { ok: false, problem: "unsigned", detail: "the answer has no TSIG record" };
  }
  const record = tsig.record;
  if (record.error !== 0 && record.mac.length === 0) {
    return {
      ok: false,
      problem: "refused-by-server",
      tsigError: TSIG_ERRORS[record.error] ?? `TSIG error ${record.error}`,
      fudge: record.fudge,
    };
  }
  if (record.keyName !== canonical(key.name) || record.algorithm !== canonical(key.algorithm)) {
    return {
      ok: false,
      problem: "other-key",
      detail: `the answer is signed with key ${record.keyName} (${record.algorithm})`,
    };
  }
  const unsigned = Buffer.from(wire.subarray(0, tsig.offset));
  unsigned.writeUInt16BE(record.originalId, 0);
  unsigned.writeUInt16BE(unsigned.readUInt16BE(10) - 1, 10);
  const expected = computeMac(key, unsigned, {
    timeSigned: record.timeSigned,
    fudge: record.fudge,
    error: record.error,
    otherData: record.otherData,
    requestMac,
  });
  if (record.mac.length !== HASH[key.algorithm].size || !timingSafeEqual(record.mac, expected)) {
    return { ok: false, problem: "bad-mac", detail: "the answer's TSIG MAC is wrong" };
  }
  const fudge = Math.min(record.fudge, DEFAULT_FUDGE_SECONDS);
  if (Math.abs(nowSeconds - record.timeSigned) > fudge) {
    return {
      ok: false,
      problem: "bad-time",
      detail: `the answer was signed ${Math.round(nowSeconds - record.timeSigned)} s from now`,
    };
  }
  if (record.error !== 0) {
    return {
      ok: false,
      problem: "refused-by-server",
      tsigError: TSIG_ERRORS[record.error] ?? `TSIG error ${record.error}`,
      fudge: record.fudge,
    };
  }
  return { ok: true };
}
