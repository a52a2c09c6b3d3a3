import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type DkimKeyPair,
  fingerprintOf,
  generateKeyPair,
  isKeyBits,
  KEY_SIZES,
  publicKeyOf,
} from "../../src/dkim/keys.js";
import { CodedError } from "../../src/errors.js";

/** A 2048-bit public key made with `openssl genrsa`, and its fingerprint from sha256sum. */
const KNOWN_KEY =
  "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAlaG06n13/gFXuslVlrpfDUSzAgbZxxGSWLQLUlKxC52MtXMD65kgA4eumK4snptLu1M5OpRkT+8wbLuYbLPP6gI4Ab1uLVZzsFIwuCu0mW9VH1gDlpiZ+h21GbrUru5Hfpv2htgBP3pDwfSu1NxCE7UESPX7n/W8vGsDRYCbWnclWYjx5IV0RSnD3DFVA6jodF/IivIM3831DSoUs8XUsjYwXv7Q3j0FQcOfvHwmuqOh3mw2ORDGxH98FWgmt5jVSmoXYkk8/QZC47SBFPdf2Sjob+jxcjCZ5E9wA5eJ1MXltPhseADsbnYfX/CNvd3YYsTOwFMSvHsUeZ8x7LjJpQIDAQAB";
const KNOWN_FINGERPRINT = "SHA256:eMNKDm/20N2Z5D07L3Ss6WF+kcYFWAUglIAq0ysIyv8";

const FINGERPRINT_FORMAT = /^SHA256:[A-Za-z0-9+/]{43}$/;

const keys = new Map<number, DkimKeyPair>();

beforeAll(async () => {
  for (const pair of await Promise.all(KEY_SIZES.map((bits) => generateKeyPair(bits)))) {
    keys.set(pair.bits, pair);
  }
});

function keyOf(bits: number): DkimKeyPair {
  const pair = keys.get(bits);
  if (pair === undefined) throw new Error(`no ${bits}-bit key was generated`);
  return pair;
}

describe("generateKeyPair", () => {
  it.each(KEY_SIZES)("makes a %i-bit RSA key with e=65537", (bits) => {
    const pair = keyOf(bits);
    const details = createPrivateKey(pair.privateKeyPem).asymmetricKeyDetails;
    expect(pair.bits).toBe(bits);
    expect(details?.modulusLength).toBe(bits);
    expect(details?.publicExponent).toBe(65537n);
    expect(publicKeyOf(pair.privateKeyPem).bits).toBe(bits);
  });

  it.each(KEY_SIZES)("gives the %i-bit private key as PKCS#1 PEM with \\n line ends", (bits) => {
    const pem = keyOf(bits).privateKeyPem;
    expect(pem.startsWith("-----BEGIN RSA PRIVATE KEY-----\n")).toBe(true);
    expect(pem.endsWith("-----END RSA PRIVATE KEY-----\n")).toBe(true);
    expect(pem).not.toContain("\r");
    expect(pem).not.toMatch(/Proc-Type|ENCRYPTED/);
  });

  it.each(KEY_SIZES)(
    "gives the %i-bit public key as base64 DER SPKI with its fingerprint",
    (bits) => {
      const pair = keyOf(bits);
      const spki = createPublicKey({
        key: Buffer.from(pair.publicKeyBase64, "base64"),
        format: "der",
        type: "spki",
      });
      expect(spki.equals(createPublicKey(pair.privateKeyPem))).toBe(true);
      expect(pair.publicKeyBase64).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
      expect(pair.fingerprint).toMatch(FINGERPRINT_FORMAT);
      const digest = createHash("sha256").update(Buffer.from(pair.publicKeyBase64, "base64"));
      expect(pair.fingerprint).toBe(`SHA256:${digest.digest("base64").replace(/=+$/, "")}`);
    },
  );

  it("gives a different key every time", async () => {
    const again = await generateKeyPair(1024);
    expect(again.publicKeyBase64).not.toBe(keyOf(1024).publicKeyBase64);
  });

  it("keeps the event loop turning while two 4096-bit keys are generated", async () => {
    const ticks: number[] = [];
    const started = performance.now();
    const timer = setInterval(() => ticks.push(performance.now()), 10);
    try {
      const pairs = await Promise.all([generateKeyPair(4096), generateKeyPair(4096)]);
      expect(pairs.map((pair) => pair.bits)).toEqual([4096, 4096]);
    } finally {
      clearInterval(timer);
    }
    const moments = [started, ...ticks, performance.now()];
    const largestGap = Math.max(...moments.slice(1).map((at, i) => at - (moments[i] ?? at)));
    // A functional check, not a benchmark: synchronous generation would block for seconds.
    expect(largestGap).toBeLessThan(1000);
    expect(ticks.length).toBeGreaterThan(0);
  });
});

describe("publicKeyOf", () => {
  it("reads PKCS#1 and PKCS#8 PEM to the same public key", () => {
    const pair = keyOf(2048);
    const pkcs8 = String(
      createPrivateKey(pair.privateKeyPem).export({ type: "pkcs8", format: "pem" }),
    );
    expect(pkcs8.startsWith("-----BEGIN PRIVATE KEY-----")).toBe(true);
    const expected = {
      bits: 2048,
      publicKeyBase64: pair.publicKeyBase64,
      fingerprint: pair.fingerprint,
    };
    expect(publicKeyOf(pair.privateKeyPem)).toEqual(expected);
    expect(publicKeyOf(pkcs8)).toEqual(expected);
  });

  it("reads a PEM with CRLF line ends and blank lines around it", () => {
    const pair = keyOf(1024);
    const pasted = `\n\n${pair.privateKeyPem.replace(/\n/g, "\r\n")}\n`;
    expect(publicKeyOf(pasted).publicKeyBase64).toBe(pair.publicKeyBase64);
  });

  const pem = () => keyOf(2048).privateKeyPem;
  const body = () => pem().split("\n").slice(1, -2);
  const pkcs8 = (key: KeyObject) => String(key.export({ type: "pkcs8", format: "pem" }));
  const unreadable: [string, () => string][] = [
    ["plain text", () => "not a key at all"],
    ["an empty string", () => ""],
    ["a PEM cut in half", () => pem().slice(0, pem().length / 2)],
    ["the base64 body without its BEGIN/END lines", () => body().join("\n")],
    ["a public key", () => String(createPublicKey(pem()).export({ type: "spki", format: "pem" }))],
    [
      "an EC private key",
      () => pkcs8(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey),
    ],
    ["an ed25519 private key", () => pkcs8(generateKeyPairSync("ed25519").privateKey)],
  ];

  function expectUnreadable(text: string): void {
    let thrown: unknown;
    try {
      publicKeyOf(text);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(CodedError);
    const error = thrown as CodedError;
    expect(error.code).toBe("KEY_UNREADABLE");
    expect(error.message).toBe(
      "The private key could not be read: give an RSA private key in PEM form (BEGIN RSA PRIVATE KEY or BEGIN PRIVATE KEY).",
    );
    expect(error.cause).toBeUndefined();
    for (const line of text.split("\n").filter((l) => /^[A-Za-z0-9+/=]{16,}$/.test(l))) {
      expect(error.message).not.toContain(line.slice(0, 16));
    }
  }

  it.each(unreadable)("rejects %s with KEY_UNREADABLE and no key text", (_, input) => {
    expectUnreadable(input());
  });

  it("rejects a PEM damaged in any one line of its body, though most such damage still parses", () => {
    const lines = pem().split("\n");
    let parsedAnyway = 0;
    for (let at = 1; at < lines.length - 2; at += 1) {
      const damaged = lines.with(at, (lines[at] ?? "").replace(/[A-Z]/g, "a")).join("\n");
      if (tryParse(damaged)) parsedAnyway += 1;
      expectUnreadable(damaged);
    }
    // Node reads such keys without complaint: the check in publicKeyOf is what catches them.
    expect(parsedAnyway).toBeGreaterThan(0);
  });
});

function tryParse(pem: string): boolean {
  try {
    createPrivateKey(pem);
    return true;
  } catch {
    return false;
  }
}

describe("fingerprintOf", () => {
  it("is SHA256: and the unpadded base64 of the DER key's SHA-256 (as sha256sum gives)", () => {
    expect(fingerprintOf(KNOWN_KEY)).toBe(KNOWN_FINGERPRINT);
    expect(KNOWN_FINGERPRINT).toMatch(FINGERPRINT_FORMAT);
  });
});

describe("isKeyBits", () => {
  it("accepts 1024, 2048 and 4096 only", () => {
    expect([1024, 2048, 4096].every(isKeyBits)).toBe(true);
    expect([0, 512, 1023, 3072, 8192, 2048.5, Number.NaN].some(isKeyBits)).toBe(false);
  });
});
