/**
 * The one check every base URL of a service holding credentials goes through (SPAMEXPERTS_URL,
 * DKIM_DNS_PUBLISH_URL): an absolute http(s) URL without credentials, query or fragment, and
 * https unless it points at loopback, since what is sent carries a password, an API key or a
 * private key. The messages name the variable and never repeat the value: it may hold a password.
 */
import { CodedError } from "../errors.js";

export interface BaseUrlRules {
  /** The variable the URL comes from, e.g. SPAMEXPERTS_URL. */
  variable: string;
  /** What to give, as "the cluster's primary server, e.g. https://spamexperts.example.com". */
  expected: string;
  /** Where the credentials go instead of user:password@, e.g. "SPAMEXPERTS_USERNAME and SPAMEXPERTS_PASSWORD". */
  credentialsIn: string;
  /** Why plain http is refused, e.g. "the API call carries the DKIM private key and the API password". */
  whyHttps: string;
}

export function assertSafeBaseUrlFor(url: string, rules: BaseUrlRules): URL {
  const { variable, expected } = rules;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidUrl(`${variable} is not an absolute URL: give ${expected}.`);
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    throw invalidUrl(
      `${variable} must start with https:// (not ${parsed.protocol}//): give ${expected}.`,
    );
  }
  if (parsed.username !== "" || parsed.password !== "") {
    throw invalidUrl(
      `${variable} must not contain credentials: remove user:password@ from it and set ${rules.credentialsIn} instead.`,
    );
  }
  if (parsed.search !== "" || parsed.hash !== "" || /[?#]/.test(url)) {
    throw invalidUrl(
      `${variable} must not contain a query (?...) or fragment (#...): give only ${expected}.`,
    );
  }
  if (parsed.protocol === "http:" && !isLoopbackHost(parsed.hostname)) {
    throw invalidUrl(
      `${variable} must use https: ${rules.whyHttps}, so plain http is allowed only for loopback (localhost, 127.0.0.0/8, ::1).`,
    );
  }
  return parsed;
}

function invalidUrl(message: string): CodedError {
  return new CodedError("CONFIG_INVALID", message);
}

/** `hostname` as WHATWG URL normalises it: IPv4 in dotted decimal, IPv6 in brackets. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return (
    host === "localhost" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) ||
    host === "[::1]" ||
    // IPv4-mapped 127.0.0.0/8, which URL normalises to hex groups.
    /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(host)
  );
}
