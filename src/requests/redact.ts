/**
 * Last line of defence for text that goes into the store, the audit trail or logs: API
 * responses and error messages. The SpamExperts client already redacts its errors; this
 * makes sure no PEM block, and no long run of base64 or URL-encoded base64 (what a key looks
 * like inside a query string), gets through even if some other layer slips.
 */
/** `[^-]` rather than spaces: the markers may be URL-encoded (`BEGIN%20RSA%20PRIVATE%20KEY`). */
const PEM_BLOCK = /-----BEGIN[^-]{0,60}-----[\s\S]*?(?:-----END[^-]{0,60}-----|$)/g;
const PEM_MARKER = /-----(?:BEGIN|END)[^-]{0,60}PRIVATE[^-]{0,10}KEY-----/g;
/** 40 characters is far longer than any word of an API message, far shorter than any key. */
const LONG_ENCODED_RUN = /[A-Za-z0-9+/=%]{40,}/g;
const MAX_LENGTH = 1000;

/** PEM blocks and stray PEM markers, plain or URL-encoded; the logger uses it too. */
export function redactKeyMaterial(text: string): string {
  return text
    .replace(PEM_BLOCK, "[key material redacted]")
    .replace(PEM_MARKER, "[key material redacted]");
}

export function redactSecrets(text: string): string {
  const redacted = redactKeyMaterial(text).replace(LONG_ENCODED_RUN, "[redacted]");
  return redacted.length > MAX_LENGTH ? `${redacted.slice(0, MAX_LENGTH - 1)}…` : redacted;
}

/** A failure as one safe sentence: coded errors carry their own; others keep only their text. */
export function describeFailure(error: unknown): string {
  if (error instanceof Error) {
    const text = error.message.trim() === "" ? error.name : error.message;
    return redactSecrets(text);
  }
  return redactSecrets(String(error));
}
