/**
 * Publishing through the PowerDNS Authoritative HTTP API (facts.md): the zone's rrsets are
 * read with GET /api/v1/servers/<id>/zones/<zone>.?rrset_name=<name>. and changed with PATCH
 * (changetype REPLACE or DELETE). The API key goes in X-API-Key, never in a URL, a log or an
 * error; the base URL must be https unless it is loopback.
 *
 * The API has no prerequisites, so the rule "never touch a record the bot did not write" is a
 * read then a write here: a record someone adds in the few milliseconds between the two would
 * be replaced. RFC 2136 against the same server (dnsupdate=yes) closes that gap if it matters.
 */
import { Agent, type Dispatcher } from "undici";
import { z } from "zod";
import { quoteStrings, recordValueFromText } from "../dkim/record.js";
import { networkCodeOf } from "../net/network-code.js";
import { readCapped } from "../net/read-capped.js";
import { assertSafeBaseUrlFor } from "../net/safe-base-url.js";
import { DnsPublishError, type DnsPublishReason } from "./errors.js";
import {
  createPublisher,
  DEFAULT_RECORD_TTL,
  DEFAULT_TIMEOUT_MS,
  type DnsPublisher,
  type NameContents,
  type ZoneWriter,
} from "./publisher.js";
import { DEFAULT_RETRY, type RetryPolicy, withRetries } from "./retry.js";
import type { PowerDnsSettings } from "./settings.js";

const MAX_BODY_BYTES = 4 * 1024 * 1024;
const MAX_SHOWN_ERROR = 200;

export interface PowerDnsOptions {
  /** Per HTTP call, from connecting to the end of the answer. */
  timeoutMs?: number;
  retry?: RetryPolicy;
  ttl?: number;
  /** A dispatcher to send through instead of the adapter's own pool; the caller closes it. */
  dispatcher?: Dispatcher;
}

/** The base URL check for DKIM_DNS_PUBLISH_URL (config.ts uses it too). */
export function assertPowerDnsUrl(url: string): URL {
  return assertSafeBaseUrlFor(url, {
    variable: "DKIM_DNS_PUBLISH_URL",
    expected: "the PowerDNS server's webserver, e.g. https://pdns.example.net:8081",
    credentialsIn: "DKIM_DNS_PUBLISH_API_KEY",
    whyHttps: "every call carries the PowerDNS API key",
  });
}

/** `/api/v1` under the base URL, keeping a path prefix and not doubling a given /api/v1. */
function apiPrefix(base: URL): string {
  const path = base.pathname.replace(/\/+$/, "").replace(/\/api\/v1$/, "");
  return `${path}/api/v1`;
}

const zoneSchema = z.object({
  rrsets: z.array(
    z.object({
      name: z.string(),
      type: z.string(),
      records: z.array(z.object({ content: z.string(), disabled: z.boolean().optional() })),
    }),
  ),
});

const errorSchema = z.object({ error: z.string() });

type Operation = { kind: "read" | "write"; zone: string; name: string };

export function createPowerDnsWriter(
  settings: PowerDnsSettings,
  options: PowerDnsOptions = {},
): ZoneWriter {
  const base = assertPowerDnsUrl(settings.url);
  const prefix = apiPrefix(base);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const retry = options.retry ?? DEFAULT_RETRY;
  const ttl = options.ttl ?? DEFAULT_RECORD_TTL;
  const ownsDispatcher = options.dispatcher === undefined;
  const dispatcher: Dispatcher =
    options.dispatcher ??
    new Agent({
      connections: 4,
      connect: { timeout: timeoutMs },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  const where = `PowerDNS at ${base.origin}`;
  const zonePath = (zone: string): string =>
    `${prefix}/servers/${encodeURIComponent(settings.serverId)}/zones/${encodeURIComponent(`${zone}.`)}`;

  const fail = (reason: DnsPublishReason, operation: Operation, happened: string, fix: string) =>
    new DnsPublishError({
      reason,
      provider: "powerdns",
      recordName: operation.name,
      happened,
      fix,
    });

  async function call(
    operation: Operation,
    method: "GET" | "PATCH",
    path: string,
    body?: unknown,
  ): Promise<string> {
    let status: number;
    let text: string;
    try {
      const response = await dispatcher.request({
        origin: base.origin,
        path,
        method,
        headers: {
          "x-api-key": settings.apiKey,
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = response.statusCode;
      text = await readCapped(response.body, MAX_BODY_BYTES);
    } catch (error) {
      const code = networkCodeOf(error);
      if (code === "TIMEOUT" || code.includes("TIMEOUT")) {
        throw fail(
          "timeout",
          operation,
          `${where} did not answer within ${timeoutMs} ms (${code})`,
          "check that the server is up and that its webserver is reachable from the bot (webserver-address, webserver-allow-from), then retry",
        );
      }
      throw fail(
        "network",
        operation,
        `The bot could not reach ${where} (${code})`,
        "check DKIM_DNS_PUBLISH_URL and that the server's webserver is on (api=yes, webserver=yes) and reachable from the bot, then retry",
      );
    }
    if (status >= 200 && status < 300) return text;
    throw statusError(operation, status, text);
  }

  function statusError(operation: Operation, status: number, text: string): DnsPublishError {
    if (status === 401 || status === 403) {
      return fail(
        "api-key-refused",
        operation,
        `${where} refused the API key (HTTP ${status})`,
        "check DKIM_DNS_PUBLISH_API_KEY against the server's api-key setting",
      );
    }
    if (status === 404) {
      return fail(
        "not-zone",
        operation,
        `${where} has no zone ${operation.zone}. on server ${settings.serverId} (HTTP 404)`,
        "create the zone in PowerDNS, or fix DKIM_DNS_PUBLISH_ZONES or DKIM_DNS_PUBLISH_SERVER_ID",
      );
    }
    const said = apiErrorText(text);
    if (status >= 500) {
      return fail(
        "server-failure",
        operation,
        `${where} failed (HTTP ${status}${said})`,
        "check the PowerDNS log (backend up, database writable?), then retry",
      );
    }
    return fail(
      "http-status",
      operation,
      `${where} refused the change of ${operation.name} (HTTP ${status}${said})`,
      status >= 300 && status < 400
        ? "check DKIM_DNS_PUBLISH_URL: the server redirected the call (https instead of http, or another host?)"
        : "fix what PowerDNS says, then retry",
    );
  }

  return {
    read(zone, name) {
      const operation: Operation = { kind: "read", zone, name };
      const query = new URLSearchParams({ rrset_name: `${name}.` }).toString();
      return withRetries(retry, async () => {
        const text = await call(operation, "GET", `${zonePath(zone)}?${query}`);
        return contentsAt(name, parseZone(text, operation));
      });
    },
    async create(zone, name, strings) {
      await patch({ kind: "write", zone, name }, "REPLACE", strings);
      return "written";
    },
    async delete(zone, name) {
      await patch({ kind: "write", zone, name }, "DELETE");
      return "written";
    },
    async replace(zone, name, _seen, strings) {
      await patch({ kind: "write", zone, name }, "REPLACE", strings);
      return "written";
    },
    async close() {
      if (ownsDispatcher) await dispatcher.close();
    },
  };

  function patch(operation: Operation, changetype: "REPLACE" | "DELETE", strings?: string[]) {
    const rrset = {
      name: `${operation.name}.`,
      type: "TXT",
      changetype,
      ...(strings === undefined
        ? {}
        : { ttl, records: [{ content: quoteStrings(strings), disabled: false }] }),
    };
    return withRetries(retry, () =>
      call(operation, "PATCH", zonePath(operation.zone), { rrsets: [rrset] }),
    );
  }

  function parseZone(text: string, operation: Operation): z.infer<typeof zoneSchema> {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const parsed = zoneSchema.safeParse(json);
    if (!parsed.success) {
      throw fail(
        "bad-answer",
        operation,
        `${where} answered with something other than the API's zone JSON`,
        "check that DKIM_DNS_PUBLISH_URL is the PowerDNS webserver's base URL, e.g. https://pdns.example.net:8081",
      );
    }
    return parsed.data;
  }
}

/** The TXT and CNAME RRsets at `name` (disabled records count: they are someone's too). */
function contentsAt(name: string, zone: z.infer<typeof zoneSchema>): NameContents {
  const atName = zone.rrsets.filter((rrset) => rrset.name.toLowerCase() === `${name}.`);
  const txt = atName
    .filter((rrset) => rrset.type === "TXT")
    .flatMap((rrset) => rrset.records.map((record) => [txtContentValue(record.content)]));
  const cname = atName.find((rrset) => rrset.type === "CNAME")?.records[0]?.content;
  return { txt, ...(cname === undefined ? {} : { cname }) };
}

/** PowerDNS gives TXT content in zone-file form: quoted strings (pdns #6087). */
function txtContentValue(content: string): string {
  try {
    return recordValueFromText(content);
  } catch {
    // Unreadable content is kept as it is: it then matches no value of ours, so it is foreign.
    return content;
  }
}

function apiErrorText(text: string): string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return "";
  }
  const parsed = errorSchema.safeParse(json);
  if (!parsed.success) return "";
  const error = parsed.data.error.replace(/\s+/g, " ").trim();
  const shown = error.length > MAX_SHOWN_ERROR ? `${error.slice(0, MAX_SHOWN_ERROR - 1)}…` : error;
  return `: ${JSON.stringify(shown)}`;
}

export function createPowerDnsPublisher(
  settings: PowerDnsSettings,
  options: PowerDnsOptions = {},
): DnsPublisher {
  return createPublisher("powerdns", settings.zones, createPowerDnsWriter(settings, options));
}
