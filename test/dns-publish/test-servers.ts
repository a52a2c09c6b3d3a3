/**
 * The real BIND and PowerDNS servers the DNS publishing tests talk to, started by
 * scripts/test-servers/start-*.sh, which print the DKIM_TEST_* variables read here. Without
 * them a server's tests are skipped with a word on how to start it, except in CI (CI=true),
 * where a missing server fails the run.
 */
import { randomBytes } from "node:crypto";
import { describe, it } from "vitest";
import { DnsPublishError } from "../../src/dns-publish/errors.js";
import type { RetryPolicy } from "../../src/dns-publish/retry.js";
import type {
  PowerDnsSettings,
  Rfc2136Settings,
  TsigAlgorithm,
} from "../../src/dns-publish/settings.js";

/** Quick retries: the tests that need several attempts should not wait seconds for them. */
export const FAST_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 20 };

function hostPort(text: string): { host: string; port: number } {
  const at = text.lastIndexOf(":");
  return { host: text.slice(0, at), port: Number(text.slice(at + 1)) };
}

function tsigKey(name: string, algorithm: string, secret: string) {
  return { name, algorithm: algorithm as TsigAlgorithm, secret: Buffer.from(secret, "base64") };
}

export interface BindServer {
  address: string;
  zone: string;
  refusingZone: string;
  /** rfc2136 settings with the hmac-sha256 key, for `zones`. */
  settings(zones: string[]): Rfc2136Settings;
  /** The same with the hmac-sha512 key. */
  settings512(zones: string[]): Rfc2136Settings;
}

export function bindFromEnv(env = process.env): BindServer | undefined {
  const address = env.DKIM_TEST_BIND_SERVER;
  const name = env.DKIM_TEST_BIND_TSIG_NAME;
  const secret = env.DKIM_TEST_BIND_TSIG_SECRET;
  const name512 = env.DKIM_TEST_BIND_TSIG512_NAME;
  const secret512 = env.DKIM_TEST_BIND_TSIG512_SECRET;
  if (!address || !name || !secret || !name512 || !secret512) return undefined;
  const server = hostPort(address);
  return {
    address,
    zone: env.DKIM_TEST_BIND_ZONE ?? "example.test",
    refusingZone: env.DKIM_TEST_BIND_REFUSING_ZONE ?? "other.test",
    settings: (zones) => ({
      provider: "rfc2136",
      zones,
      server,
      tsig: tsigKey(name, env.DKIM_TEST_BIND_TSIG_ALGORITHM ?? "hmac-sha256", secret),
    }),
    settings512: (zones) => ({
      provider: "rfc2136",
      zones,
      server,
      tsig: tsigKey(name512, "hmac-sha512", secret512),
    }),
  };
}

export interface PowerDnsServer {
  zone: string;
  /** Its DNS port, for looking records up as a resolver would. */
  dnsAddress: string;
  api(zones: string[]): PowerDnsSettings;
  /** RFC 2136 to the same server (dnsupdate=yes, TSIG-ALLOW-DNSUPDATE). */
  rfc2136(zones: string[]): Rfc2136Settings;
}

export function powerDnsFromEnv(env = process.env): PowerDnsServer | undefined {
  const url = env.DKIM_TEST_PDNS_URL;
  const apiKey = env.DKIM_TEST_PDNS_API_KEY;
  const dnsAddress = env.DKIM_TEST_PDNS_DNS_SERVER;
  const tsigName = env.DKIM_TEST_PDNS_TSIG_NAME;
  const tsigSecret = env.DKIM_TEST_PDNS_TSIG_SECRET;
  if (!url || !apiKey || !dnsAddress || !tsigName || !tsigSecret) return undefined;
  return {
    zone: env.DKIM_TEST_PDNS_ZONE ?? "example.test",
    dnsAddress,
    api: (zones) => ({
      provider: "powerdns",
      zones,
      url,
      apiKey,
      serverId: env.DKIM_TEST_PDNS_SERVER_ID ?? "localhost",
    }),
    rfc2136: (zones) => ({
      provider: "rfc2136",
      zones,
      server: hostPort(dnsAddress),
      tsig: tsigKey(tsigName, env.DKIM_TEST_PDNS_TSIG_ALGORITHM ?? "hmac-sha256", tsigSecret),
    }),
  };
}

/**
 * `describe` when the server is there; otherwise skipped with how to start it, or (CI=true)
 * one failing test saying the same.
 */
export function describeWithServer<T>(
  title: string,
  server: T | undefined,
  script: "start-bind.sh" | "start-powerdns.sh",
  body: (server: T) => void,
): void {
  if (server !== undefined) {
    describe(title, () => body(server));
    return;
  }
  const howTo = `start it with: eval "$(bash scripts/test-servers/${script})"`;
  if (process.env.CI === "true") {
    describe(title, () => {
      it("has its server", () => {
        throw new Error(`${title}: the server is not running (CI=true); .ci/run should ${howTo}`);
      });
    });
    return;
  }
  console.warn(`Skipping "${title}": the server is not running; ${howTo}`);
  describe.skip(title, () => {
    it("needs its server", () => {});
  });
}

/** A selector no earlier run used, so the tests can run again and again on one server. */
export function freshSelector(): string {
  return `t${randomBytes(6).toString("hex")}`;
}

/** Runs `operation`, which must fail with a DnsPublishError, and returns that error. */
export async function publishError(operation: Promise<unknown>): Promise<DnsPublishError> {
  try {
    await operation;
  } catch (error) {
    if (error instanceof DnsPublishError) return error;
    throw error;
  }
  throw new Error("expected a DnsPublishError");
}
