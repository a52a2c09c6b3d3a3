/** What the bot needs to write records, as loadConfig (src/config.ts) reads it from the environment. */

export type TsigAlgorithm = "hmac-sha256" | "hmac-sha512";
export const TSIG_ALGORITHMS: readonly TsigAlgorithm[] = ["hmac-sha256", "hmac-sha512"];

export interface TsigKey {
  /** Lower case, absolute (trailing dot), as in the server's `key "dkim-bot." { ... }`. */
  name: string;
  algorithm: TsigAlgorithm;
  /** The decoded secret: never shown, logged or put in an error. */
  secret: Buffer;
}

export interface Rfc2136Settings {
  provider: "rfc2136";
  /** Normalised managed zones (DKIM_DNS_PUBLISH_ZONES). */
  zones: string[];
  /** The zones' primary server; updates and reads go to it over TCP. */
  server: { host: string; port: number };
  tsig: TsigKey;
}

export interface PowerDnsSettings {
  provider: "powerdns";
  zones: string[];
  /** The server's base URL (its webserver), checked by assertSafeBaseUrlFor. */
  url: string;
  /** Sent as X-API-Key, never in a URL or a log. */
  apiKey: string;
  /** DKIM_DNS_PUBLISH_SERVER_ID, `localhost` unless the API says otherwise. */
  serverId: string;
}

export type DnsPublishSettings = Rfc2136Settings | PowerDnsSettings;
