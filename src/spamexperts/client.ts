/**
 * The SpamExperts Software API client for the two DKIM calls (facts.md, "SpamExperts Software
 * API"): HTTP GET, Basic auth in a header, plain-text answers that are errors when they start
 * with ERROR whatever the status. Transient faults are retried with backoff. The query string
 * carries the private key, so nothing about the request (URL, query, credentials) ever leaves
 * this module inside an error.
 */
import { setTimeout as delay } from "node:timers/promises";
import { Agent, type Dispatcher } from "undici";
import { readCapped } from "../net/read-capped.js";
import { assertSafeBaseUrlFor } from "../net/safe-base-url.js";
import {
  NetworkFailure,
  SpamExpertsApiError,
  SpamExpertsAuthError,
  type SpamExpertsError,
  type SpamExpertsErrorDetails,
  SpamExpertsTransientError,
  SpamExpertsUnknownDomainError,
} from "./errors.js";
import { looksLikeHtml, presentableApiText } from "./redact.js";
import type { DkimApi, DkimApiCall, DkimApiResult } from "./types.js";

export interface SpamExpertsClientOptions {
  /** The cluster's primary server, e.g. https://spamexperts.example.com (a path prefix is kept). */
  baseUrl: string;
  username: string;
  password: string;
  /** Per attempt, from sending the request to the end of the answer. */
  timeoutMs?: number;
  /** Attempts per call, the first included; only transient faults are retried. */
  maxAttempts?: number;
  /** First backoff ceiling; it doubles with each retry (full jitter picks a delay below it). */
  retryBaseMs?: number;
  /** Longest wait a Retry-After header may impose. */
  retryAfterCapMs?: number;
  /** A dispatcher to send through instead of the client's own pool; the caller closes it. */
  dispatcher?: Dispatcher;
  sleep?: (ms: number) => Promise<void>;
  /** A number in [0, 1), as Math.random gives. */
  random?: () => number;
}

const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_MAX_ATTEMPTS = 3;
const DEFAULT_RETRY_BASE_MS = 500;
const DEFAULT_RETRY_AFTER_CAP_MS = 30_000;
/** No backoff grows beyond this, however many attempts are configured. */
const MAX_BACKOFF_MS = 30_000;
/** The API answers a line or two; a bigger body is cut (and it is never shown whole anyway). */
const MAX_BODY_BYTES = 64 * 1024;
const API_PATH = "cgi-bin/api";

/** Answers that mean the credentials or the API user's rights are the problem (facts.md). */
const AUTH_TEXTS = [
  /supplied credential is invalid/i,
  /no permissions/i,
  /don'?t have permissions? to access the api/i,
  /no access to this api/i,
];
const UNKNOWN_DOMAIN_TEXT = /no such domain/i;

type Params = Record<string, string>;

export function createSpamExpertsClient(options: SpamExpertsClientOptions): DkimApi {
  const endpoint = apiEndpoint(assertSafeBaseUrl(options.baseUrl));
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxAttempts = Math.max(1, options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
  const retryBaseMs = options.retryBaseMs ?? DEFAULT_RETRY_BASE_MS;
  const retryAfterCapMs = options.retryAfterCapMs ?? DEFAULT_RETRY_AFTER_CAP_MS;
  const sleep = options.sleep ?? ((ms: number) => delay(ms));
  const random = options.random ?? Math.random;
  const ownsDispatcher = options.dispatcher === undefined;
  const dispatcher: Dispatcher =
    options.dispatcher ??
    new Agent({
      keepAliveTimeout: 30_000,
      connections: 4,
      connect: { timeout: timeoutMs },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  const authorization = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString("base64")}`;

  async function attempt(call: DkimApiCall, params: Params, secrets: string[]): Promise<Outcome> {
    try {
      const response = await dispatcher.request({
        origin: endpoint.origin,
        path: `${endpoint.path}?${encodeQuery(call, params)}`,
        method: "GET",
        headers: { authorization, accept: "text/plain, */*" },
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        // Covers connecting as well, which headersTimeout does not.
        signal: AbortSignal.timeout(timeoutMs),
      });
      const body = await readCapped(response.body, MAX_BODY_BYTES);
      return classify(response.statusCode, body, response.headers["retry-after"], secrets);
    } catch (error) {
      // The caught error is dropped here: only its code goes on (see NetworkFailure).
      return { kind: "transient", cause: NetworkFailure.from(error) };
    }
  }

  async function perform(
    call: DkimApiCall,
    params: Params,
    secrets: string[],
  ): Promise<DkimApiResult> {
    for (let attempts = 1; ; attempts += 1) {
      const outcome = await attempt(call, params, secrets);
      if (outcome.kind === "success") {
        return { call, text: outcome.text, attempts, dryRun: false };
      }
      if (outcome.kind !== "transient" || attempts >= maxAttempts) {
        throw toError(outcome, { call, params, attempts, timeoutMs });
      }
      await sleep(
        retryDelay(attempts, outcome.retryAfterMs, { retryBaseMs, retryAfterCapMs, random }),
      );
    }
  }

  const secretsOfClient = [options.password, authorization, authorization.slice("Basic ".length)];

  return {
    dryRun: false,
    setDkimCertificate(domain, selector, privateKeyPem) {
      return perform("api_set_dkim_certificate", { domain, certificate: privateKeyPem, selector }, [
        privateKeyPem,
        ...secretsOfClient,
      ]);
    },
    setDkimSelector(domain, selector, username) {
      return perform("api_set_dkim_selector", { domain, selector, username }, secretsOfClient);
    },
    async close() {
      if (ownsDispatcher) await dispatcher.close();
    },
  };
}

/**
 * Checks SPAMEXPERTS_URL: an absolute http(s) URL without credentials, query or fragment, and
 * https unless it points at loopback (the query string carries a private key). Returns the
 * parsed URL. The messages never repeat the value: it may hold a password.
 */
export function assertSafeBaseUrl(url: string): URL {
  return assertSafeBaseUrlFor(url, {
    variable: "SPAMEXPERTS_URL",
    expected: "the cluster's primary server, e.g. https://spamexperts.example.com",
    credentialsIn: "SPAMEXPERTS_USERNAME and SPAMEXPERTS_PASSWORD",
    whyHttps: "the API call carries the DKIM private key and the API password",
  });
}

/** Where the API lives under the base URL, keeping any path prefix (and not doubling /cgi-bin/api). */
function apiEndpoint(base: URL): { origin: string; path: string } {
  const prefix = base.pathname.replace(/\/+$/, "");
  const path = prefix.endsWith(`/${API_PATH}`) ? prefix : `${prefix}/${API_PATH}`;
  return { origin: base.origin, path };
}

/**
 * Every parameter is encoded by URLSearchParams, so no input can add or change a parameter.
 * Spaces then come out as "+"; they are turned into %20 (a literal "+" is already %2B), which
 * is what the SpamExperts guide's urllib.quote sends and what every server decodes alike.
 */
export function encodeQuery(call: DkimApiCall, params: Params): string {
  return new URLSearchParams({ call, ...params }).toString().replace(/\+/g, "%20");
}

type Outcome =
  | { kind: "success"; text: string }
  | { kind: "auth"; status: number; apiText: string }
  | { kind: "unknown-domain"; status: number; apiText: string }
  /** notTheApi: the answer came from something else (a 404, a web page): the URL is wrong. */
  | { kind: "api-error"; status: number; apiText: string; notTheApi: boolean }
  | {
      kind: "transient";
      status?: number;
      apiText?: string;
      retryAfterMs?: number;
      cause?: NetworkFailure;
    };

function classify(
  status: number,
  body: string,
  retryAfter: string | string[] | undefined,
  secrets: string[],
): Outcome {
  const text = presentableApiText(body, secrets);
  const isErrorText = /^ERROR/i.test(body.trim());
  const isSuccessStatus = status >= 200 && status < 300;
  // The API answers plain text; a 200 HTML page is a web UI or proxy at the wrong URL, and
  // taking it for success would report a certificate as installed when it is not.
  if (isSuccessStatus && looksLikeHtml(body)) {
    return { kind: "api-error", status, apiText: "", notTheApi: true };
  }
  if (isSuccessStatus && !isErrorText) return { kind: "success", text };
  if (status === 401 || status === 403 || AUTH_TEXTS.some((pattern) => pattern.test(text))) {
    return { kind: "auth", status, apiText: text };
  }
  if (status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(retryAfter);
    return {
      kind: "transient",
      status,
      apiText: text,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  }
  if (UNKNOWN_DOMAIN_TEXT.test(text)) return { kind: "unknown-domain", status, apiText: text };
  return { kind: "api-error", status, apiText: text, notTheApi: status === 404 };
}

/** Retry-After in seconds or as an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(
  value: string | string[] | undefined,
  now: number = Date.now(),
): number | undefined {
  const raw = (Array.isArray(value) ? value[0] : value)?.trim();
  if (raw === undefined || raw === "") return undefined;
  if (/^\d+$/.test(raw)) return Number(raw) * 1000;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * Exponential backoff with full jitter (a random delay below base * 2^(n-1)), unless the
 * server said how long to wait: then that, up to the cap.
 */
export function retryDelay(
  failedAttempts: number,
  retryAfterMs: number | undefined,
  settings: { retryBaseMs: number; retryAfterCapMs: number; random: () => number },
): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, settings.retryAfterCapMs);
  const ceiling = Math.min(MAX_BACKOFF_MS, settings.retryBaseMs * 2 ** (failedAttempts - 1));
  return Math.floor(settings.random() * ceiling);
}

interface Failure {
  call: DkimApiCall;
  params: Params;
  attempts: number;
  timeoutMs: number;
}

/** One plain sentence per failure: what happened and what to do. */
function toError(
  outcome: Exclude<Outcome, { kind: "success" }>,
  failure: Failure,
): SpamExpertsError {
  const { call, params, attempts } = failure;
  const details: SpamExpertsErrorDetails = { call, attempts };
  if (outcome.status !== undefined) details.status = outcome.status;
  if (outcome.apiText !== undefined && outcome.apiText !== "") details.apiText = outcome.apiText;
  const said = details.apiText === undefined ? "" : `: "${details.apiText}"`;
  const domain = params.domain ?? "";
  switch (outcome.kind) {
    case "auth": {
      const what =
        outcome.status === 401 || outcome.status === 403
          ? `(HTTP ${outcome.status})`
          : `("${details.apiText ?? ""}")`;
      return new SpamExpertsAuthError(
        `SpamExperts refused the credentials ${what}: check SPAMEXPERTS_USERNAME and SPAMEXPERTS_PASSWORD, that the Software API user may call ${call}, and that this server's IP address is allowed to use the API.`,
        details,
      );
    }
    case "unknown-domain":
      return new SpamExpertsUnknownDomainError(
        `SpamExperts does not know the domain ${domain}${said}; add the domain to the cluster (or check its spelling) and try again.`,
        details,
      );
    case "api-error": {
      if (outcome.notTheApi) {
        return new SpamExpertsApiError(
          `SpamExperts answered ${call} with HTTP ${outcome.status} and no API text, so SPAMEXPERTS_URL may not point at the Software API: check that it is the cluster's primary server, where the API lives at /cgi-bin/api.`,
          details,
        );
      }
      const hint =
        outcome.status >= 300 && outcome.status < 400
          ? "check SPAMEXPERTS_URL: the server redirected the call (https instead of http, or another host?)"
          : "fix what it says and try again";
      return new SpamExpertsApiError(
        `SpamExperts rejected ${call} for ${domain} (HTTP ${outcome.status})${said}; ${hint}.`,
        details,
      );
    }
    case "transient": {
      if (outcome.cause !== undefined) details.cause = outcome.cause;
      const reason =
        outcome.status !== undefined
          ? `HTTP ${outcome.status}`
          : describeNetworkCode(outcome.cause?.code ?? "UNKNOWN", failure.timeoutMs);
      return new SpamExpertsTransientError(
        `SpamExperts could not complete ${call} for ${domain} after ${attempts} ${attempts === 1 ? "attempt" : "attempts"} (${reason}); check that the cluster is up and reachable from the bot, then retry.`,
        details,
      );
    }
  }
}

function describeNetworkCode(code: string, timeoutMs: number): string {
  switch (code) {
    case "TIMEOUT":
    case "UND_ERR_HEADERS_TIMEOUT":
    case "UND_ERR_BODY_TIMEOUT":
      return `no answer within ${timeoutMs} ms, ${code}`;
    case "UND_ERR_CONNECT_TIMEOUT":
      return `connecting timed out, ${code}`;
    case "ECONNREFUSED":
      return `connection refused, ${code}`;
    case "ECONNRESET":
    case "UND_ERR_SOCKET":
      return `connection reset, ${code}`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `host name not found, ${code}`;
    default:
      return `network error, ${code}`;
  }
}
