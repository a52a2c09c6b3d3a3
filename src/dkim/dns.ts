/**
 * TXT lookup of a DKIM key record through configurable resolvers, telling apart the outcomes
 * a person must act on differently: nothing published (NXDOMAIN, no TXT) versus a lookup that
 * failed (timeout, SERVFAIL, REFUSED). Follows CNAMEs, since DKIM is often delegated to a
 * provider that way.
 */
import { Resolver } from "node:dns/promises";
import { isIPv4, isIPv6 } from "node:net";
import { CodedError } from "../errors.js";

export const DEFAULT_DNS_TIMEOUT_MS = 5000;
export const DEFAULT_DNS_TRIES = 2;
/** Enough for any sane delegation (name -> provider -> provider's rotation alias). */
export const MAX_CNAME_HOPS = 5;

export type TxtLookupFailureKind =
  | "nxdomain"
  | "no-txt"
  | "timeout"
  | "servfail"
  | "refused"
  | "error";

export type TxtLookupResult =
  | {
      kind: "found";
      /** The name asked for. */
      name: string;
      /** Each TXT record as its character-strings in the order DNS gave them (not joined). */
      records: string[][];
      /** Set when `name` is a CNAME: the name the records were found at (end of the chain). */
      cnameTarget?: string;
    }
  | {
      kind: TxtLookupFailureKind;
      name: string;
      /** The resolver's own words, or what went wrong with a CNAME chain. */
      detail?: string;
      /** Set when `name` is a CNAME: the name at which the lookup ended. */
      cnameTarget?: string;
    };

export type TxtLookup = (name: string) => Promise<TxtLookupResult>;

export interface TxtLookupOptions {
  /** Resolvers as `ip`, `ip:port` or `[ipv6]:port`; none or empty = the system's resolvers. */
  servers?: readonly string[];
  /** Per try; default 5000. */
  timeoutMs?: number;
  /** Attempts per resolver before giving up; default 2. */
  tries?: number;
}

const SERVER_EXAMPLES = "write e.g. 192.0.2.53, 192.0.2.53:5353 or [2001:db8::53]:53";

/**
 * One resolver address, checked and put in the form `Resolver.setServers` takes.
 * Throws `CodedError("CONFIG_INVALID")` with a sentence naming the entry.
 */
export function parseDnsServer(entry: string): string {
  const text = entry.trim();
  const invalid = (problem: string): CodedError =>
    new CodedError("CONFIG_INVALID", `DNS server ${JSON.stringify(text)}: ${problem}`);

  if (isIPv4(text) || isIPv6(text)) return text;

  const bracketed = /^\[([^\]]*)\](?::([^:]*))?$/.exec(text);
  const withPort = bracketed ?? /^([^:[\]]*):([^:]*)$/.exec(text);
  if (!withPort) {
    throw invalid(
      `is not an IP address or IP:port (host names are not accepted); ${SERVER_EXAMPLES}`,
    );
  }
  const host = withPort[1] ?? "";
  const port = withPort[2];
  const hostOk = bracketed ? isIPv6(host) : isIPv4(host);
  if (!hostOk) {
    throw invalid(
      `${JSON.stringify(host)} is not an ${bracketed ? "IPv6" : "IPv4"} address (host names are not accepted); ${SERVER_EXAMPLES}`,
    );
  }
  if (port === undefined) return host;
  const portNumber = /^[0-9]{1,5}$/.test(port) ? Number(port) : Number.NaN;
  if (!(portNumber >= 1 && portNumber <= 65535)) {
    throw invalid(
      `port ${JSON.stringify(port)} is not a number from 1 to 65535; ${SERVER_EXAMPLES}`,
    );
  }
  return bracketed ? `[${host}]:${portNumber}` : `${host}:${portNumber}`;
}

/**
 * A comma-separated resolver list (DKIM_DNS_SERVERS, --dns-server). Blank entries are
 * ignored; an empty list means the system's resolvers.
 */
export function parseDnsServers(text: string): string[] {
  return text
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0)
    .map(parseDnsServer);
}

function positiveInteger(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new CodedError(
      "CONFIG_INVALID",
      `${what} must be a whole number of at least 1, not ${value}`,
    );
  }
  return value;
}

type Query<T> = { ok: true; value: T } | { ok: false; kind: TxtLookupFailureKind; detail: string };

const KIND_BY_CODE: Readonly<Record<string, TxtLookupFailureKind>> = {
  ENOTFOUND: "nxdomain",
  ENODATA: "no-txt",
  ETIMEOUT: "timeout",
  ESERVFAIL: "servfail",
  EREFUSED: "refused",
};

function failure(error: unknown): { ok: false; kind: TxtLookupFailureKind; detail: string } {
  const code =
    error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : "";
  const message = error instanceof Error ? error.message : String(error);
  return { ok: false, kind: KIND_BY_CODE[code] ?? "error", detail: message };
}

async function query<T>(run: () => Promise<T>): Promise<Query<T>> {
  try {
    return { ok: true, value: await run() };
  } catch (error) {
    return failure(error);
  }
}

function canonical(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

/** Creates a TXT lookup bound to one set of resolvers. */
export function createTxtLookup(options: TxtLookupOptions = {}): TxtLookup {
  const timeout = positiveInteger(options.timeoutMs, DEFAULT_DNS_TIMEOUT_MS, "The DNS timeout");
  const tries = positiveInteger(options.tries, DEFAULT_DNS_TRIES, "The number of DNS tries");
  const servers = (options.servers ?? []).map(parseDnsServer);
  const resolver = new Resolver({ timeout, tries });
  if (servers.length > 0) resolver.setServers(servers);

  return async (name) => {
    const chain = [name];
    let current = name;

    const result = (
      outcome:
        | { kind: "found"; records: string[][] }
        | { kind: TxtLookupFailureKind; detail?: string },
    ): TxtLookupResult => {
      const target = current === name ? {} : { cnameTarget: current };
      return outcome.kind === "found"
        ? { kind: "found", name, records: outcome.records, ...target }
        : {
            kind: outcome.kind,
            name,
            ...("detail" in outcome && outcome.detail !== undefined
              ? { detail: outcome.detail }
              : {}),
            ...target,
          };
    };

    for (;;) {
      // Both at once: a recursive resolver answers TXT through the CNAME chain, an
      // authoritative server gives only the CNAME; either way the CNAME query says where to go.
      const [txt, cname] = await Promise.all([
        query(() => resolver.resolveTxt(current)),
        query(() => resolver.resolveCname(current)),
      ]);

      const target = cname.ok ? cname.value[0] : undefined;
      if (target !== undefined) {
        if (chain.some((seen) => canonical(seen) === canonical(target))) {
          return result({
            kind: "error",
            detail: `CNAME loop: ${[...chain, target].join(" -> ")}`,
          });
        }
        if (chain.length > MAX_CNAME_HOPS) {
          return result({
            kind: "error",
            detail: `more than ${MAX_CNAME_HOPS} CNAMEs in a row: ${chain.join(" -> ")} -> ...`,
          });
        }
        chain.push(target);
        current = target;
        continue;
      }

      if (txt.ok) {
        // A TXT query that meets a CNAME it cannot follow succeeds with no records.
        return txt.value.length > 0
          ? result({ kind: "found", records: txt.value })
          : result({ kind: "no-txt" });
      }
      const cnameLookupFailed = !cname.ok && cname.kind !== "no-txt" && cname.kind !== "nxdomain";
      if (txt.kind === "no-txt" && cnameLookupFailed) {
        // No TXT here, but whether the name is a CNAME is unknown: the lookup is not conclusive.
        return result({ kind: cname.kind, detail: cname.detail });
      }
      return txt.kind === "no-txt" || txt.kind === "nxdomain"
        ? result({ kind: txt.kind })
        : result({ kind: txt.kind, detail: txt.detail });
    }
  };
}
