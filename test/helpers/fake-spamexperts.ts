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
  slow: (delayMs: number): Fault => ({ type: "slow", delayMs }),
  reset: (): Fault => ({ type: "reset" }),
  echoQuery: (text: string): Fault => ({ type: "echo-query", text }),
} as const;

export interface FakeSpamExpertsOptions {
  username: string;
  password: string;
  /** How wrong credentials are answered: `ERROR: Supplied credential is invalid.` with 200 (default), or 401. */
  authFailure?: "error-text" | "401";
  /** Domains the cluster knows; others get `ERROR: No such domain`. Default: every domain. */
  domains?: readonly string[];
}

export interface FakeSpamExperts {
  /** Base URL to give the client, e.g. http://127.0.0.1:40123 */
  url: string;
  /** Every request received, in order, faulted ones included. */
  readonly requests: ReadonlyArray<RecordedRequest>;
  /** The next `times` requests for `call` ("*" for any call) get `fault` instead of the normal answer. */
  failNext(call: string, fault: Fault, times?: number): void;
  /** Forgets recorded requests and pending faults. */
  reset(): void;
  close(): Promise<void>;
}

/** Parameters each call requires, as the real API would complain about missing ones. */
const REQUIRED_PARAMS: Record<string, readonly string[]> = {
  api_set_dkim_certificate: ["domain", "certificate", "selector"],
  api_set_dkim_selector: ["domain", "selector", "username"],
};

export async function startFakeSpamExperts(
  options: FakeSpamExpertsOptions,
): Promise<FakeSpamExperts> {
  const requests: RecordedRequest[] = [];
  const pending = new Map<string, Fault[]>();
  const timers = new Set<NodeJS.Timeout>();
  const expectedAuth = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString("base64")}`;
  const knownDomains =
    options.domains === undefined ? undefined : new Set(options.domains.map(lower));

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
    if (knownDomains !== undefined && !knownDomains.has(lower(request.params.domain ?? ""))) {
      send(response, 200, "ERROR: No such domain\n");
      return;
    }
    send(response, 200, "");
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
    // Drain any request body so the connection stays usable.
    incoming.resume();
    const fault = takeFault(request.params.call ?? "");
    if (fault === undefined) {
      answerNormally(request, response);
      return;
    }
    switch (fault.type) {
      case "reply":
        send(response, fault.status, fault.body, fault.headers);
        return;
      case "slow": {
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (!response.destroyed) answerNormally(request, response);
        }, fault.delayMs);
        timers.add(timer);
        return;
      }
      case "reset":
        incoming.socket.destroy();
        return;
      case "echo-query":
        send(response, 200, `ERROR: ${fault.text} ${incoming.url ?? ""}\n`);
        return;
    }
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
    reset() {
      requests.length = 0;
      pending.clear();
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

function lower(value: string): string {
  return value.toLowerCase();
}
