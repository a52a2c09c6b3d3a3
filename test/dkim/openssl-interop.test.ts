/**
 * Our keys and records against the openssl command line tool, which DNS admins trust and which
 * opendkim-genkey itself calls.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DkimKeyPair, generateKeyPair, publicKeyOf } from "../../src/dkim/keys.js";
import {
  buildRecordValue,
  diagnoseRecords,
  parseRecord,
  splitIntoStrings,
  zoneFileLine,
} from "../../src/dkim/record.js";
import { runOpenssl } from "../helpers/openssl.js";

let dir: string;
const ours = new Map<number, { pair: DkimKeyPair; file: string }>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dkim-bot-openssl-"));
  for (const pair of await Promise.all([generateKeyPair(1024), generateKeyPair(2048)])) {
    const file = join(dir, `ours-${pair.bits}.private`);
    await writeFile(file, pair.privateKeyPem, { mode: 0o600 });
    ours.set(pair.bits, { pair, file });
  }
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function ourKey(bits: number): { pair: DkimKeyPair; file: string } {
  const key = ours.get(bits);
  if (key === undefined) throw new Error(`no ${bits}-bit key was generated`);
  return key;
}

/** `openssl rsa -pubout -outform DER | openssl base64 -A`: the p= opendkim-genkey would write. */
async function opensslPublicKey(privateKeyFile: string): Promise<string> {
  const der = `${privateKeyFile}.pub.der`;
  await runOpenssl(["rsa", "-in", privateKeyFile, "-pubout", "-outform", "DER", "-out", der]);
  return (await runOpenssl(["base64", "-A", "-in", der])).toString().trim();
}

describe.each([1024, 2048])("our %i-bit key and openssl", (bits) => {
  it("passes openssl rsa -check", async () => {
    const output = await runOpenssl(["rsa", "-in", ourKey(bits).file, "-check", "-noout"]);
    expect(output.toString()).toMatch(/RSA key ok/);
  });

  it("is PKCS#1 as openssl reads it", async () => {
    const text = await runOpenssl(["rsa", "-in", ourKey(bits).file, "-noout", "-text"]);
    expect(text.toString()).toMatch(new RegExp(`Private-Key: \\(${bits} bit, 2 primes\\)`));
    expect(text.toString()).toMatch(/publicExponent: 65537 \(0x10001\)/);
  });

  it("gives exactly our p= through openssl rsa -pubout -outform DER | base64", async () => {
    const { pair, file } = ourKey(bits);
    expect(await opensslPublicKey(file)).toBe(pair.publicKeyBase64);
  });

  it("has the fingerprint openssl dgst -sha256 gives for the DER public key", async () => {
    const { pair, file } = ourKey(bits);
    await opensslPublicKey(file);
    const digest = await runOpenssl(["dgst", "-sha256", "-binary", `${file}.pub.der`]);
    expect(pair.fingerprint).toBe(`SHA256:${digest.toString("base64").replace(/=+$/, "")}`);
  });
});

describe("a key from openssl genrsa", () => {
  const file = () => join(dir, "openssl.private");

  beforeAll(async () => {
    await runOpenssl(["genrsa", "-out", file(), "2048"]);
  });

  it("is PKCS#8 in OpenSSL 3, and gives a record our parser and diagnosis accept", async () => {
    const pem = await readFile(file(), "utf8");
    expect(pem.startsWith("-----BEGIN PRIVATE KEY-----")).toBe(true);

    const opensslKey = await opensslPublicKey(file());
    const info = publicKeyOf(pem);
    expect(info.bits).toBe(2048);
    expect(info.publicKeyBase64).toBe(opensslKey);

    const value = buildRecordValue(info.publicKeyBase64);
    expect(parseRecord(zoneFileLine("sel", "example.com", value)).publicKey).toBe(opensslKey);
    const diagnosis = diagnoseRecords([splitIntoStrings(value)], { publicKeyBase64: opensslKey });
    expect(diagnosis).toMatchObject({ status: "live", matches: true, problems: [] });
  });

  it("in its traditional PKCS#1 form reads the same", async () => {
    const traditional = join(dir, "openssl-traditional.private");
    await runOpenssl(["rsa", "-in", file(), "-traditional", "-out", traditional]);
    const pem = await readFile(traditional, "utf8");
    expect(pem.startsWith("-----BEGIN RSA PRIVATE KEY-----")).toBe(true);
    expect(publicKeyOf(pem).publicKeyBase64).toBe(await opensslPublicKey(file()));
  });
});
