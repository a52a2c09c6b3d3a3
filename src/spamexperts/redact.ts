/**
 * Redaction of text that came back from (or around) a SpamExperts call before it reaches an
 * error, a log line or Slack. The documented API carries the private key in the query string,
 * so anything that echoes the request (a proxy's error page, an API message quoting its input)
 * could leak it; this scrubs whatever looks like key material, a URL or a credential.
 */

/** Longest API text kept for people: enough for any real message, not for a dumped page. */
const MAX_TEXT_LENGTH = 500;
/** Secrets shorter than this are not searched for: replacing "ab" everywhere would garble text. */
const MIN_SECRET_LENGTH = 4;

const PEM_BLOCK = /-----BEGIN [A-Z0-9 ]*-----[\s\S]*?(?:-----END [A-Z0-9 ]*-----|$)/g;
const URL_LIKE = /\b[a-z][a-z0-9+.-]*:\/\/\S*/gi;
const QUERY_LIKE = /\S*\?\S*=\S*/g;
const CERTIFICATE_PARAM = /certificate=\S*/gi;
/**
 * Base64 or percent-encoded base64, 20 characters or more. A run of letters alone is left
 * (a long domain label or word is not key material; a key's base64 always mixes in digits).
 */
const ENCODED_RUN = /(?:[A-Za-z0-9+/=]|%[0-9A-Fa-f]{2}){20,}/g;
const NOT_ONLY_LETTERS = /[^A-Za-z]/;

export const REDACTED = "[redacted]";

/**
 * The fragments of a secret worth searching for: the whole value and, for a PEM, each line of
 * its body, so a message that quotes one line of the key is caught too.
 */
export function secretFragments(secret: string): string[] {
  const fragments = [secret, ...secret.split(/\r?\n/).map((line) => line.trim())];
  return [...new Set(fragments.filter((fragment) => fragment.length >= MIN_SECRET_LENGTH))];
}

/** Replaces every known secret and everything that looks like key material, a URL or a query. */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let result = text;
  // Longest first, so a whole PEM is replaced before its lines are looked for.
  const fragments = secrets
    .flatMap(secretFragments)
    .sort((left, right) => right.length - left.length);
  for (const fragment of fragments) {
    result = result.split(fragment).join(REDACTED);
  }
  return (
    result
      .replace(PEM_BLOCK, REDACTED)
      .replace(URL_LIKE, REDACTED)
      // Whole queries before single parameters, so no "/path?" is left in front of a redaction.
      .replace(QUERY_LIKE, REDACTED)
      .replace(CERTIFICATE_PARAM, REDACTED)
      .replace(ENCODED_RUN, (run) => (NOT_ONLY_LETTERS.test(run) ? REDACTED : run))
  );
}

/**
 * API text as people are shown it: trimmed, redacted, cut to a sane length, and nothing at all
 * for an HTML page (a proxy's or web server's error page says nothing a person can act on).
 */
export function presentableApiText(text: string, secrets: readonly string[] = []): string {
  const trimmed = text.trim();
  if (looksLikeHtml(trimmed)) return "";
  const redacted = redactText(trimmed, secrets);
  return redacted.length > MAX_TEXT_LENGTH ? `${redacted.slice(0, MAX_TEXT_LENGTH)}…` : redacted;
}

/** A web page rather than the API's plain text. */
export function looksLikeHtml(text: string): boolean {
  return /^<(?:!doctype|html|\?xml|head|body)/i.test(text.trim());
}
