/**
 * A stand-in for a SpamExperts cluster's Software API on 127.0.0.1, behaving as facts.md
 * describes the real one: GET only, HTTP Basic auth, plain-text answers, `ERROR: …` with
 * status 200 for most errors, an empty 200 on success. It records every request and can be
 * scripted to fail the next calls of a given API call in the ways a real cluster (or the
 * network in front of it) does.
 *
 *   const api = await startFakeSpamExperts({ username: "api", password: "secret" });
 *   api.failNext("api_set_dkim_certificate", faults.unavailable(), 2);
 *   ... createSpamExpertsClient({ baseUrl: api.url, username: "api", password: "secret" }) ...
 *   expect(api.requests.map((r) => r.params.call)).toEqual([...]);
 *   await api.close();
 *
 * For the fleet: `setDomains([...])` gives the cluster its domains (served by
 * `api_list_domains` in one of the output forms of facts.md, see `setListFormat`), and
 * `setLatency(200)` makes every answer leave 200 ms after its request arrived, as a loaded
 * cluster does; `peakInFlight` then shows from the outside how many calls the bot had open.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  /** The path without the query, e.g. "/cgi-bin/api". */
  path: string;
  /** The query string exactly as it arrived (without "?"). */
  rawQuery: string;
  /** Decoded query parameters (the last value wins when one is repeated). */
  params: Record<string, string>;
  /** Every decoded (name, value) pair in order, to prove no parameter was added. */
  paramList: Array<[string, string]>;
  /** The Authorization header as sent, if any. */
  authorization: string | undefined;
  /** The client's port: equal ports on two requests mean a reused keep-alive connection. */
  remotePort: number | undefined;
}

/** How the fake answers one request instead of behaving normally. */
export type Fault =
  /** Answer with this status, body and headers. */
  | { type: "reply"; status: number; body: string; headers?: Record<string, string> }
  /** Answer with this status and body, written in several chunks without a Content-Length. */
  | { type: "chunked"; status: number; body: string; chunkBytes: number }
  /** Behave normally, but only after this many milliseconds. */
  | { type: "slow"; delayMs: number }
  /** Destroy the connection without answering. */
  | { type: "reset" }
  /** Answer `ERROR: <text>` followed by the request's query string, as an API echoing its input might. */
  | { type: "echo-query"; text: string };

export const faults = {
  /** `ERROR: …` with HTTP 200, as the real API reports most errors. */
  apiError: (text: string): Fault => ({ type: "reply", status: 200, body: `ERROR: ${text}\n` }),
  status: (status: number, body = ""): Fault => ({ type: "reply", status, body }),
  unauthorized: (): Fault => ({ type: "reply", status: 401, body: "Unauthorized\n" }),
  unavailable: (): Fault => ({ type: "reply", status: 503, body: "Service Unavailable\n" }),
  tooManyRequests: (retryAfter: string): Fault => ({
    type: "reply",
    status: 429,
    body: "Too Many Requests\n",
    headers: { "retry-after": retryAfter },
  }),
  /** A body streamed in pieces (Transfer-Encoding: chunked), so its size is known only at the end. */
  chunked: (body: string, chunkBytes = 64 * 1024, status = 200): Fault => ({
    type: "chunked",
    status,
    body,
    chunkBytes,
  }),
  slow: (delayMs: number): Fault => ({ type: "slow", delayMs }),
  reset: (): Fault => ({ type: "reset" }),
  echoQuery: (text: string): Fault => ({ type: "echo-query", text }),
} as const;

export interface FakeSpamExpertsOptions {
  username: string;
  password: string;
  /** How wrong credentials are answered: `ERROR: Supplied credential is invalid.` with 200 (default), or 401. */
  authFailure?: "error-text" | "401";
  /**
   * Domains the cluster knows, as `setDomains` sets them; others get `ERROR: No such domain`.
   * Default: every domain is known and `api_list_domains` lists none.
   */
  domains?: readonly string[];
  /** Milliseconds every answer waits before it leaves, as `setLatency` sets it. Default 0. */
  latencyMs?: number;
  /** How `api_list_domains` writes its list, as `setListFormat` sets it. Default "lines". */
  listFormat?: ListFormat;
}

/**
 * The output forms of `api_list_domains` (facts.md): one domain per line, `domain:extra` per
 * line (the extra part is what a cluster may append, e.g. a destination route), or JSON.
 */
export type ListFormat = "lines" | "colon" | "json";

export interface FakeSpamExperts {
  /** Base URL to give the client, e.g. http://127.0.0.1:40123 */
  url: string;
  /** Every request received, in order, faulted ones included. */
  readonly requests: ReadonlyArray<RecordedRequest>;
  /** The next `times` requests for `call` ("*" for any call) get `fault` instead of the normal answer. */
  failNext(call: string, fault: Fault, times?: number): void;
  /**
   * The cluster's domains (listed by `api_list_domains`, in this order and as written) and the
   * only ones the DKIM calls accept; `undefined` goes back to accepting every domain and
   * listing none.
   */
  setDomains(domains: readonly string[] | undefined): void;
  setListFormat(format: ListFormat): void;
  /** Every answer, faulted ones included, leaves this many milliseconds after its request came. */
  setLatency(ms: number): void;
  /** Requests received and not yet answered (or dropped). */
  readonly inFlight: number;
  /** The most requests that were in flight at once since start or the last `reset`. */
  readonly peakInFlight: number;
  /** Called as each answer has been handed to the connection (not for dropped requests). */
  onAnswer(listener: (request: RecordedRequest) => void): void;
  /** Forgets recorded requests, pending faults and the peak; keeps domains, format and latency. */
  reset(): void;
  close(): Promise<void>;
}

/** Parameters each call requires, as the real API would complain about missing ones. */
const REQUIRED_PARAMS: Record<string, readonly string[]> = {
  api_set_dkim_certificate: ["domain", "certificate", "selector"],
  api_set_dkim_selector: ["domain", "selector", "username"],
  api_list_domains: [],
};

export async function startFakeSpamExperts(
  options: FakeSpamExpertsOptions,
): Promise<FakeSpamExperts> {
  const requests: RecordedRequest[] = [];
  const pending = new Map<string, Fault[]>();
  const timers = new Set<NodeJS.Timeout>();
  const expectedAuth = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString("base64")}`;
  let domains: readonly string[] | undefined;
  let knownDomains: Set<string> | undefined;
  let listFormat: ListFormat = options.listFormat ?? "lines";
  let latencyMs = options.latencyMs ?? 0;
  let inFlight = 0;
  let peakInFlight = 0;
  const answerListeners: Array<(request: RecordedRequest) => void> = [];

  function setDomains(list: readonly string[] | undefined): void {
    domains = list === undefined ? undefined : [...list];
    knownDomains = list === undefined ? undefined : new Set(list.map(lower));
  }
  setDomains(options.domains);

  function takeFault(call: string): Fault | undefined {
    for (const key of [call, "*"]) {
      const queue = pending.get(key);
      const fault = queue?.shift();
      if (fault !== undefined) return fault;
    }
    return undefined;
  }

  function answerNormally(request: RecordedRequest, response: ServerResponse): void {
    // The API lives at /cgi-bin/api, under whatever prefix a reverse proxy adds.
    if (!request.path.endsWith("/cgi-bin/api")) {
      send(response, 404, "Not Found\n");
      return;
    }
    if (request.method !== "GET") {
      send(response, 200, "ERROR: The API must be called with HTTP GET.\n");
      return;
    }
    if (request.authorization !== expectedAuth) {
      if (options.authFailure === "401") {
        send(response, 401, "Unauthorized\n", { "www-authenticate": 'Basic realm="API"' });
      } else {
        send(response, 200, "ERROR: Supplied credential is invalid.\n");
      }
      return;
    }
    const required = REQUIRED_PARAMS[request.params.call ?? ""];
    if (required === undefined || required.some((name) => !request.params[name])) {
      send(response, 200, "ERROR: Incorrect usage of API\n");
      return;
    }
    if (request.params.call === "api_list_domains") {
      send(response, 200, listBody(domains ?? [], listFormat));
      return;
    }
    if (knownDomains !== undefined && !knownDomains.has(lower(request.params.domain ?? ""))) {
      send(response, 200, "ERROR: No such domain\n");
      return;
    }
    send(response, 200, "");
  }

  function answer(
    request: RecordedRequest,
    fault: Fault | undefined,
    incoming: IncomingMessage,
    response: ServerResponse,
  ): void {
    if (fault === undefined) {
      answerNormally(request, response);
      return;
    }
    switch (fault.type) {
      case "reply":
        send(response, fault.status, fault.body, fault.headers);
        return;
      case "chunked":
        sendChunked(response, fault.status, fault.body, fault.chunkBytes);
        return;
      case "slow":
        later(fault.delayMs, () => {
          if (!response.destroyed) answerNormally(request, response);
        });
        return;
      case "reset":
        incoming.socket.destroy();
        return;
      case "echo-query":
        send(response, 200, `ERROR: ${fault.text} ${incoming.url ?? ""}\n`);
        return;
    }
  }

  function later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, ms);
    timers.add(timer);
  }

  function handle(incoming: IncomingMessage, response: ServerResponse): void {
    const target = new URL(incoming.url ?? "/", "http://fake.invalid");
    const paramList = [...target.searchParams.entries()];
    const request: RecordedRequest = {
      method: incoming.method ?? "",
      path: target.pathname,
      rawQuery: target.search.replace(/^\?/, ""),
      params: Object.fromEntries(paramList),
      paramList,
      authorization: incoming.headers.authorization,
      remotePort: incoming.socket.remotePort,
    };
    requests.push(request);
    inFlight += 1;
    peakInFlight = Math.max(peakInFlight, inFlight);
    response.once("finish", () => {
      for (const listener of answerListeners) listener(request);
    });
    // "close" comes for answered and for dropped requests alike, once.
    response.once("close", () => {
      inFlight -= 1;
    });
    // Drain any request body so the connection stays usable.
    incoming.resume();
    // The fault is taken on arrival, so faults go to requests in the order they came.
    const fault = takeFault(request.params.call ?? "");
    if (latencyMs <= 0) {
      answer(request, fault, incoming, response);
      return;
    }
    later(latencyMs, () => {
      if (!response.destroyed) answer(request, fault, incoming, response);
    });
  }

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failNext(call, fault, times = 1) {
      const queue = pending.get(call) ?? [];
      for (let index = 0; index < times; index += 1) queue.push(fault);
      pending.set(call, queue);
    },
    setDomains,
    setListFormat(format) {
      listFormat = format;
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    get inFlight() {
      return inFlight;
    },
    get peakInFlight() {
      return peakInFlight;
    },
    onAnswer(listener) {
      answerListeners.push(listener);
    },
    reset() {
      requests.length = 0;
      pending.clear();
      peakInFlight = inFlight;
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function send(
  response: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { "content-type": "text/plain; charset=utf-8", ...headers });
  response.end(body);
}

/** Streams `body` in pieces; with write() before end() Node sends it chunked, without a length. */
function sendChunked(
  response: ServerResponse,
  status: number,
  body: string,
  chunkBytes: number,
): void {
  response.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
  const bytes = Buffer.from(body, "utf8");
  for (let start = 0; start < bytes.length; start += chunkBytes) {
    response.write(bytes.subarray(start, start + chunkBytes));
  }
  response.end();
}

export function listBody(domains: readonly string[], format: ListFormat): string {
  switch (format) {
    case "json":
      return JSON.stringify(domains);
    case "colon":
      return domains.map((domain) => `${domain}:mx.${domain}:25\n`).join("");
    case "lines":
      return domains.map((domain) => `${domain}\n`).join("");
  }
}

function lower(value: string): string {
  return value.toLowerCase();
}
