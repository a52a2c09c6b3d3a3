/**
 * Last line of defence for text that goes into the store, the audit trail or logs: API
 * responses and error messages. The SpamExperts client already redacts its errors; this
 * makes sure no PEM block, and no long run of base64 or URL-encoded base64 (what a key looks
 * like inside a query string), gets through even if some other layer slips.
 *
 * Two kinds of long base64 are not secret and stay readable, because people compare them: a
 * key fingerprint (`SHA256:` and 43 characters) and an RSA public key (DER SubjectPublicKeyInfo,
 * the `p=` of a DKIM record). A public key is recognised by its DER header, which a private key
 * never has (PKCS#1 and PKCS#8 private keys start with a version INTEGER), so a private key body
 * is redacted whatever it is labelled as.
 */
/** `[^-]` rather than spaces: the markers may be URL-encoded (`BEGIN%20RSA%20PRIVATE%20KEY`). */
const PEM_BLOCK = /-----BEGIN[^-]{0,60}-----[\s\S]*?(?:-----END[^-]{0,60}-----|$)/g;
const PEM_MARKER = /-----(?:BEGIN|END)[^-]{0,60}PRIVATE[^-]{0,10}KEY-----/g;
/** 40 characters is far longer than any word of an API message, far shorter than any key. */
const LONG_ENCODED_RUN = /[A-Za-z0-9+/=%]{40,}/g;
const MAX_LENGTH = 1000;

const FINGERPRINT_PREFIX = "SHA256:";
/** The base64 of a SHA-256 digest, as keys.ts prints it (unpadded; a padded copy is accepted). */
const FINGERPRINT_DIGEST = /^[A-Za-z0-9+/]{43}=?$/;
/** A tag name and `=` before the data, as in `p=MIIB…` or a query's `certificate=MIIE…`. */
const TAG_PREFIX = /^[A-Za-z][A-Za-z0-9_]*=/;
/** DER: SEQUENCE { SEQUENCE { OID 1.2.840.113549.1.1.1 (rsaEncryption) … } … }, after the outer length. */
const RSA_ALGORITHM = Buffer.from("300d06092a864886f70d010101", "hex");

/** PEM blocks and stray PEM markers, plain or URL-encoded; the logger uses it too. */
export function redactKeyMaterial(text: string): string {
  return text
    .replace(PEM_BLOCK, "[key material redacted]")
    .replace(PEM_MARKER, "[key material redacted]");
}

export function redactSecrets(text: string): string {
  const redacted = redactLongRuns(redactKeyMaterial(text), LONG_ENCODED_RUN, "[redacted]");
  return redacted.length > MAX_LENGTH ? `${redacted.slice(0, MAX_LENGTH - 1)}…` : redacted;
}

/**
 * Replaces every match of `pattern` (a global regex for runs of base64) with `replacement`,
 * except fingerprints and public keys. The logger passes its own pattern.
 */
export function redactLongRuns(text: string, pattern: RegExp, replacement: string): string {
  return text.replace(pattern, (run: string, offset: number) =>
    isFingerprintDigest(run, text.slice(Math.max(0, offset - FINGERPRINT_PREFIX.length), offset))
      ? run
      : isPublicKeyText(run)
        ? run
        : replacement,
  );
}

function isFingerprintDigest(run: string, before: string): boolean {
  return before === FINGERPRINT_PREFIX && FINGERPRINT_DIGEST.test(run);
}

/** Base64 (plain or URL-encoded, maybe after a `tag=`) of an RSA public key, whole or cut short. */
export function isPublicKeyText(run: string): boolean {
  let data = run.replace(TAG_PREFIX, "");
  if (data.includes("%")) {
    try {
      data = decodeURIComponent(data);
    } catch {
      return false;
    }
  }
  if (!/^[A-Za-z0-9+/]+=*$/.test(data)) return false;
  // Enough of the header to tell: outer SEQUENCE, its length (1 to 3 octets), the algorithm.
  const header = Buffer.from(data.slice(0, 32), "base64");
  if (header[0] !== 0x30) return false;
  const lengthOctets = header[1] === undefined ? 0 : header[1] < 0x80 ? 0 : header[1] - 0x80;
  if (lengthOctets > 2) return false;
  const start = 2 + lengthOctets;
  return header.subarray(start, start + RSA_ALGORITHM.length).equals(RSA_ALGORITHM);
}

/** A failure as one safe sentence: coded errors carry their own; others keep only their text. */
export function describeFailure(error: unknown): string {
  if (error instanceof Error) {
    const text = error.message.trim() === "" ? error.name : error.message;
    return redactSecrets(text);
  }
  return redactSecrets(String(error));
}
