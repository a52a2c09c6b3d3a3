/**
 * The SpamExperts Software API client for the two DKIM calls and the read-only domain list
 * (facts.md, "SpamExperts Software API"): HTTP GET, Basic auth in a header, plain-text answers
 * that are errors when they start with ERROR whatever the status. Transient faults are retried
 * with backoff. The query string carries the private key, so nothing about the request (URL,
 * query, credentials) ever leaves this module inside an error.
 *
 * Calls wait their turn in the client's own queue (call-slots.ts), never inside the HTTP pool,
 * so a call's timeout measures the call and not the calls queued before it.
 */
import { setTimeout as delay } from "node:timers/promises";
import { Agent, type Dispatcher } from "undici";
import { readCapped } from "../net/read-capped.js";
import { assertSafeBaseUrlFor } from "../net/safe-base-url.js";
import { type CallSlots, createCallSlots, type SlotPriority } from "./call-slots.js";
import { parseDomainList } from "./domain-list.js";
import {
  NetworkFailure,
  SpamExpertsApiError,
  SpamExpertsAuthError,
  type SpamExpertsError,
  type SpamExpertsErrorDetails,
  SpamExpertsTransientError,
  SpamExpertsUnknownDomainError,
} from "./errors.js";
import { readWhole } from "./read-whole.js";
import { looksLikeHtml, presentableApiText } from "./redact.js";
import type {
  DkimApiCall,
  DkimApiResult,
  DomainList,
  SpamExpertsCall,
  SpamExpertsClient,
} from "./types.js";

export interface SpamExpertsClientOptions {
  /** The cluster's primary server, e.g. https://spamexperts.example.com (a path prefix is kept). */
  baseUrl: string;
  username: string;
  password: string;
  /**
   * Per attempt of a DKIM call, from the moment it has a connection to the end of the answer;
   * the time spent waiting for a connection is not counted.
   */
  timeoutMs?: number;
  /**
   * DKIM calls in flight at once; more wait, untimed, in the client's queue. Give it
   * DKIM_APPLY_CONCURRENCY, so every apply in flight has its connection. The domain list has
   * one connection of its own besides, so a listing never holds up an apply.
   */
  connections?: number;
  /** Per attempt of `api_list_domains`, which may take a large cluster longer to answer. */
  listTimeoutMs?: number;
  /**
   * Largest `api_list_domains` body read; a bigger one fails the listing as a whole (no part
   * of a list is ever taken for the list).
   */
  maxListBytes?: number;
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
/** As DKIM_APPLY_CONCURRENCY's default: one connection per apply in flight. */
export const DEFAULT_CONNECTIONS = 4;
/** The list is one call every DKIM_INVENTORY_MINUTES; a large cluster may take its time. */
const MIN_LIST_TIMEOUT_MS = 60_000;
/** About 500,000 domains of 30 characters: far past any cluster, still a bounded read. */
export const DEFAULT_MAX_LIST_BYTES = 16 * 1024 * 1024;
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

/** One call as `perform` sends it: what to send, how long to wait, how much to read. */
interface CallPlan {
  call: SpamExpertsCall;
  params: Params;
  secrets: string[];
  timeoutMs: number;
  /** The body is read whole up to this many bytes, or the call fails (`too-large`). */
  maxBytes: number;
  /** Past maxBytes: cut the body (DKIM calls: it is only ever shown in part) or fail. */
  overflow: "cut" | "fail";
  slots: CallSlots;
}

export function createSpamExpertsClient(options: SpamExpertsClientOptions): SpamExpertsClient {
  const endpoint = apiEndpoint(assertSafeBaseUrl(options.baseUrl));
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const connections = options.connections ?? DEFAULT_CONNECTIONS;
  const listTimeoutMs = options.listTimeoutMs ?? Math.max(timeoutMs, MIN_LIST_TIMEOUT_MS);
  const maxListBytes = options.maxListBytes ?? DEFAULT_MAX_LIST_BYTES;
  const dkimSlots = createCallSlots(connections);
  const listSlots = createCallSlots(1);
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
      // One more than the slots allow DKIM calls: the domain list's own connection.
      connections: connections + 1,
      connect: { timeout: timeoutMs },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  const authorization = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString("base64")}`;

  async function attempt(plan: CallPlan): Promise<Outcome> {
    try {
      const response = await dispatcher.request({
        origin: endpoint.origin,
        path: `${endpoint.path}?${encodeQuery(plan.call, plan.params)}`,
        method: "GET",
        headers: { authorization, accept: "text/plain, */*" },
        headersTimeout: plan.timeoutMs,
        bodyTimeout: plan.timeoutMs,
        // Covers connecting as well, which headersTimeout does not. It starts here, once the
        // call has its slot, so waiting for a connection is never counted.
        signal: AbortSignal.timeout(plan.timeoutMs),
      });
      const body =
        plan.overflow === "cut"
          ? await readCapped(response.body, plan.maxBytes)
          : await readWhole(response, plan.maxBytes);
      const retryAfter = response.headers["retry-after"];
      if (body !== undefined) return classify(response.statusCode, body, retryAfter, plan);
      // Too big to read whole: an error page is judged by its status alone; a 2xx list is
      // refused, since a list cut short would make domains vanish from the inventory.
      const outcome = classify(response.statusCode, "", retryAfter, plan);
      return outcome.kind === "success"
        ? { kind: "too-large", status: response.statusCode, maxBytes: plan.maxBytes }
        : outcome;
    } catch (error) {
      // The caught error is dropped here: only its code goes on (see NetworkFailure).
      return { kind: "transient", cause: NetworkFailure.from(error) };
    }
  }

  /** The call with its retries; returns the successful answer's raw body and the attempts. */
  async function perform(plan: CallPlan): Promise<{ body: string; attempts: number }> {
    for (let attempts = 1; ; attempts += 1) {
      // A retry goes ahead of calls not yet tried: it has already waited its turn once.
      const priority: SlotPriority = attempts === 1 ? "new" : "retry";
      const outcome = await plan.slots.run(priority, () => attempt(plan));
      if (outcome.kind === "success") return { body: outcome.body, attempts };
      if (outcome.kind !== "transient" || attempts >= maxAttempts) {
        throw toError(outcome, { ...plan, attempts });
      }
      // The slot is given back while waiting, so the wait holds up no other call.
      await sleep(
        retryDelay(attempts, outcome.retryAfterMs, { retryBaseMs, retryAfterCapMs, random }),
      );
    }
  }

  async function performDkim(
    call: DkimApiCall,
    params: Params,
    secrets: string[],
  ): Promise<DkimApiResult> {
    const plan: CallPlan = {
      call,
      params,
      secrets,
      timeoutMs,
      maxBytes: MAX_BODY_BYTES,
      overflow: "cut",
      slots: dkimSlots,
    };
    const { body, attempts } = await perform(plan);
    return { call, text: presentableApiText(body, secrets), attempts, dryRun: false };
  }

  const secretsOfClient = [options.password, authorization, authorization.slice("Basic ".length)];

  async function listDomains(): Promise<DomainList> {
    const plan: CallPlan = {
      call: "api_list_domains",
      // No paging or filter parameters: their names are not confirmed (facts.md).
      params: {},
      secrets: secretsOfClient,
      timeoutMs: listTimeoutMs,
      maxBytes: maxListBytes,
      overflow: "fail",
      slots: listSlots,
    };
    const { body, attempts } = await perform(plan);
    const parsed = await parseDomainList(body, secretsOfClient);
    if (parsed.entries > 0 && parsed.domains.length === 0) {
      // Text that is neither ERROR nor a single domain is something other than a list (a
      // message, another page): an inventory of "no domains" would mislead.
      throw new SpamExpertsApiError(
        `SpamExperts answered api_list_domains with ${parsed.entries} ${parsed.entries === 1 ? "line" : "lines"}, none of them a domain name (the first: "${parsed.ignoredExamples[0] ?? ""}"); check that SPAMEXPERTS_URL points at the cluster's Software API and that its user may call api_list_domains.`,
        { call: plan.call, attempts },
      );
    }
    return {
      domains: parsed.domains,
      ignored: parsed.ignored,
      ignoredExamples: parsed.ignoredExamples,
      duplicates: parsed.duplicates,
      attempts,
    };
  }

  return {
    dryRun: false,
    setDkimCertificate(domain, selector, privateKeyPem) {
      return performDkim(
        "api_set_dkim_certificate",
        { domain, certificate: privateKeyPem, selector },
        [privateKeyPem, ...secretsOfClient],
      );
    },
    setDkimSelector(domain, selector, username) {
      return performDkim("api_set_dkim_selector", { domain, selector, username }, secretsOfClient);
    },
    listDomains,
    async close() {
      // Calls already queued are served first, as undici's own close would serve them.
      await Promise.all([dkimSlots.idle(), listSlots.idle()]);
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
export function encodeQuery(call: SpamExpertsCall, params: Params): string {
  return new URLSearchParams({ call, ...params }).toString().replace(/\+/g, "%20");
}

type Outcome =
  /** The raw body: the caller decides what of it may be shown (presentableApiText). */
  | { kind: "success"; body: string }
  /** A 2xx body larger than the call may read: never taken in part. */
  | { kind: "too-large"; status: number; maxBytes: number; apiText?: undefined }
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
  plan: Pick<CallPlan, "params" | "secrets">,
): Outcome {
  const isErrorText = /^\s*ERROR/i.test(body);
  const isSuccessStatus = status >= 200 && status < 300;
  // The API answers plain text; a 200 HTML page is a web UI or proxy at the wrong URL, and
  // taking it for success would report a certificate as installed when it is not (or list
  // the page's lines as domains).
  if (isSuccessStatus && looksLikeHtml(body)) {
    return { kind: "api-error", status, apiText: "", notTheApi: true };
  }
  if (isSuccessStatus && !isErrorText) return { kind: "success", body };
  // Only failures are redacted here: a success's body may be a list of many megabytes.
  const text = presentableApiText(body, plan.secrets);
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
  if (plan.params.domain !== undefined && UNKNOWN_DOMAIN_TEXT.test(text)) {
    return { kind: "unknown-domain", status, apiText: text };
  }
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
  call: SpamExpertsCall;
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
  const forDomain = params.domain === undefined ? "" : ` for ${params.domain}`;
  switch (outcome.kind) {
    case "too-large":
      return new SpamExpertsApiError(
        `SpamExperts answered ${call} with more than ${formatBytes(outcome.maxBytes)}, more than the bot reads, so it took none of it: check that SPAMEXPERTS_URL points at the cluster's Software API; a cluster this large needs a larger limit in the bot.`,
        details,
      );
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
        `SpamExperts rejected ${call}${forDomain} (HTTP ${outcome.status})${said}; ${hint}.`,
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
        `SpamExperts could not complete ${call}${forDomain} after ${attempts} ${attempts === 1 ? "attempt" : "attempts"} (${reason}); check that the cluster is up and reachable from the bot, then retry.`,
        details,
      );
    }
  }
}

function formatBytes(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  return mib >= 1 ? `${Number.isInteger(mib) ? mib : mib.toFixed(1)} MiB` : `${bytes} bytes`;
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
