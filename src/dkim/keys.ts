import { createHash, createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { availableParallelism } from "node:os";
import forge from "node-forge";
import { CodedError } from "../errors.js";
import { createLimiter } from "./concurrency-limit.js";

export type KeyBits = 1024 | 2048 | 4096;
export const KEY_SIZES: readonly KeyBits[] = [1024, 2048, 4096];
const PUBLIC_EXPONENT = 0x10001;

export interface DkimKeyPair {
  bits: KeyBits;
  /** PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`): the only form SpamExperts is documented to take. */
  privateKeyPem: string;
  /** Base64 of the DER SubjectPublicKeyInfo: the `p=` of the DNS record. */
  publicKeyBase64: string;
  /** `SHA256:<base64>` of the DER public key, as ssh shows keys, for people to compare. */
  fingerprint: string;
}

export interface PublicKeyInfo {
  bits: number;
  publicKeyBase64: string;
  fingerprint: string;
}

export function isKeyBits(value: number): value is KeyBits {
  return (KEY_SIZES as readonly number[]).includes(value);
}

/**
 * Generates an RSA key pair. With a callback, node-forge hands the work to Node's native
 * `crypto.generateKeyPair`, which runs on libuv's thread pool: the event loop stays free.
 */
export function generateKeyPair(bits: KeyBits): Promise<DkimKeyPair> {
  return generationSlots.run(() => generateNow(bits));
}

/**
 * At most one generation per core but one runs at a time: RSA prime search keeps a thread
 * pool thread fully busy, and with as many busy threads as cores the event loop waits for a
 * core (measured: ack p99 over 100 ms with 50 setups at once on 2 cores). Keeping one core for
 * the event loop keeps acks and clicks fast under a burst; a burst's keys arrive later instead.
 */
const generationSlots = createLimiter(Math.max(1, availableParallelism() - 1));

function generateNow(bits: KeyBits): Promise<DkimKeyPair> {
  return new Promise((resolve, reject) => {
    forge.pki.rsa.generateKeyPair({ bits, e: PUBLIC_EXPONENT }, (error, keyPair) => {
      if (error) {
        reject(generationFailed(bits, error));
        return;
      }
      // A throw in this callback would escape the promise as an uncaught exception.
      try {
        const privateKeyPem = forge.pki.privateKeyToPem(keyPair.privateKey).replace(/\r\n/g, "\n");
        const { publicKeyBase64, fingerprint } = publicKeyOf(privateKeyPem);
        resolve({ bits, privateKeyPem, publicKeyBase64, fingerprint });
      } catch (cause) {
        reject(generationFailed(bits, cause));
      }
    });
  });
}

function generationFailed(bits: KeyBits, cause: unknown): CodedError {
  return new CodedError("KEY_GENERATION_FAILED", `Could not generate a ${bits}-bit RSA key.`, {
    cause,
  });
}

/** The public half of a PEM private key (PKCS#1 or PKCS#8), as the DNS record carries it. */
export function publicKeyOf(privateKeyPem: string): PublicKeyInfo {
  let der: Buffer;
  let bits: number;
  try {
    const privateKey = createPrivateKey(privateKeyPem);
    if (privateKey.asymmetricKeyType !== "rsa") {
      throw new Error(`not an RSA key: ${privateKey.asymmetricKeyType}`);
    }
    // Most damage to a PEM body still parses, into a key whose parts do not belong together.
    if (!isConsistentRsaKey(privateKey)) throw new Error("the parts of the key do not match");
    const publicKey = createPublicKey(privateKey);
    der = publicKey.export({ type: "spki", format: "der" });
    bits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
  } catch {
    // The cause is deliberately dropped: it could quote parts of the key.
    throw new CodedError(
      "KEY_UNREADABLE",
      "The private key could not be read: give an RSA private key in PEM form (BEGIN RSA PRIVATE KEY or BEGIN PRIVATE KEY).",
    );
  }
  const publicKeyBase64 = der.toString("base64");
  return { bits, publicKeyBase64, fingerprint: fingerprintOf(publicKeyBase64) };
}

/**
 * What `openssl rsa -check` checks, short of primality: n = pq, e and d are inverses, and the
 * CRT parts agree. (A signature test would not do: OpenSSL quietly falls back to d when the
 * CRT result is wrong, but other signers do not.)
 */
function isConsistentRsaKey(privateKey: KeyObject): boolean {
  const jwk = privateKey.export({ format: "jwk" });
  const [n, e, d, p, q, dp, dq, qi] = (["n", "e", "d", "p", "q", "dp", "dq", "qi"] as const).map(
    (name) => BigInt(`0x0${Buffer.from(jwk[name] ?? "", "base64url").toString("hex")}`),
  );
  if (!n || !e || !d || !p || !q || !dp || !dq || !qi) return false;
  return (
    p * q === n &&
    (d * e) % (p - 1n) === 1n &&
    (d * e) % (q - 1n) === 1n &&
    d % (p - 1n) === dp &&
    d % (q - 1n) === dq &&
    (qi * q) % p === 1n
  );
}

/** `SHA256:<unpadded base64>` of the DER public key. */
export function fingerprintOf(publicKeyBase64: string): string {
  const digest = createHash("sha256").update(Buffer.from(publicKeyBase64, "base64")).digest();
  return `SHA256:${digest.toString("base64").replace(/=+$/, "")}`;
}
