import { createHash, createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { availableParallelism } from "node:os";
import { CodedError } from "../errors.js";
import { createKeyWorkerPool, type KeyWorkerPool } from "./key-workers.js";

export type KeyBits = 1024 | 2048 | 4096;
export const KEY_SIZES: readonly KeyBits[] = [1024, 2048, 4096];

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
 * Generates an RSA key pair with node-forge (Node's native generator underneath) on a worker
 * thread: one per core, each at the lowest scheduling priority, so a batch of keys uses every
 * core while the event loop still gets a core the moment it has a request to answer
 * (key-workers.ts). The PEM conversion and the consistency check run on the worker too.
 */
export async function generateKeyPair(bits: KeyBits): Promise<DkimKeyPair> {
  try {
    const key = await keyWorkers().generate(bits);
    return { bits, ...key };
  } catch (cause) {
    throw generationFailed(bits, cause);
  }
}

let pool: KeyWorkerPool | undefined;

/** The process's key-generation workers, started with the first key asked for. */
export function keyWorkers(): KeyWorkerPool {
  pool ??= createKeyWorkerPool({ size: availableParallelism(), idleMs: WORKER_IDLE_MS });
  return pool;
}

/** An idle worker is stopped after this long (its memory back); the next key starts one. */
const WORKER_IDLE_MS = 60_000;

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
