import { parseDnsServer, parseDnsServers } from "./dkim/dns.js";
import { isKeyBits, type KeyBits } from "./dkim/keys.js";
import { assertPowerDnsUrl } from "./dns-publish/powerdns.js";
import {
  type DnsPublishSettings,
  TSIG_ALGORITHMS,
  type TsigAlgorithm,
} from "./dns-publish/settings.js";
import { normaliseZone } from "./dns-publish/zones.js";
import { CodedError } from "./errors.js";
import { type EncryptionKey, parseEncryptionKey } from "./requests/sealing.js";
import { assertSafeBaseUrl } from "./spamexperts/client.js";

/**
 * The only reader of the environment. `loadConfig(env)` is pure: it takes the variables,
 * checks every one, and either returns typed settings or throws one ConfigError that lists
 * every problem at once with how to fix it (an operator should fix their .env in one go).
 */

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface SpamExpertsSettings {
  url: string;
  username: string;
  password: string;
  timeoutMs: number;
}

export interface Config {
  slack: {
    botToken: string;
    /** Required in HTTP mode; unused in Socket Mode. */
    signingSecret: string | undefined;
    /** Set: Socket Mode. Unset: HTTP mode on `port`. */
    appToken: string | undefined;
    apiUrl: string;
    port: number;
  };
  /** Unset: dry run (the flow runs, the calls are only shown). */
  spamExperts: SpamExpertsSettings | undefined;
  approvers: string[];
  allowSelfApproval: boolean;
  requireDns: boolean;
  /** Unset: the system resolvers. */
  dnsServers: string[] | undefined;
  defaultBits: KeyBits;
  /** Unset: /dkim works in any channel. */
  allowedChannels: string[] | undefined;
  dnsPollSeconds: number;
  requestTtlDays: number;
  /** DKIM_MONITOR_HOURS: how often active and retiring keys' records are checked. */
  monitorHours: number;
  /** DKIM_ROTATION_OVERLAP_DAYS: how long a rotated-out key's record stays published. */
  rotationOverlapDays: number;
  /** DKIM_ROTATE_AFTER_DAYS: key-age reminder; 0 = off. */
  rotateAfterDays: number;
  /** DKIM_ALERT_CHANNEL: where monitoring alerts and reminders also go; unset = the key's channel. */
  alertChannel: string | undefined;
  /** DKIM_BATCH_MAX: most domains in one bulk setup (one batch card). */
  batchMax: number;
  /**
   * DKIM_APPLY_CONCURRENCY: most applies in flight at once (a batch's approval, and the
   * SpamExperts client's connections for the DKIM calls).
   */
  applyConcurrency: number;
  /**
   * DKIM_SLACK_PACE_MS: after a burst of 3, one post or edit per channel per this long
   * (Slack's pace is about one a second; lower it only for tests and trials).
   */
  slackPaceMs: number;
  dataDir: string;
  /** `postgres://…`: the shared store of several replicas. Unset: SQLite in DATA_DIR. */
  databaseUrl: string | undefined;
  /**
   * DKIM_LEASE_SECONDS: how long an apply or a scheduler cycle stays a replica's without a sign
   * of life; after a crash another replica (or the restarted one) takes over after this.
   */
  leaseSeconds: number;
  /** DKIM_ENCRYPTION_KEY; unset: generated once into DATA_DIR/encryption.key. */
  encryptionKey: EncryptionKey | undefined;
  /** DKIM_INVENTORY_MINUTES: how long the cluster's domain list is kept (0: asked every time). */
  inventoryMinutes: number;
  logLevel: LogLevel;
  /** DKIM_DNS_PUBLISH_*: the bot writes the records of these zones itself. Unset: by hand. */
  dnsPublish: DnsPublishSettings | undefined;
}

export class ConfigError extends CodedError {
  readonly problems: string[];

  constructor(problems: string[]) {
    super("CONFIG_INVALID", formatProblems(problems));
    this.problems = problems;
  }
}

const SETUP_HINT = [
  "How to get the Slack values: create the app at https://api.slack.com/apps from manifest.yml",
  '("Create New App" -> "From a manifest"), install it to the workspace, then copy',
  '  SLACK_BOT_TOKEN       OAuth & Permissions -> "Bot User OAuth Token" (xoxb-...)',
  '  SLACK_SIGNING_SECRET  Basic Information -> App Credentials -> "Signing Secret"',
  "  SLACK_APP_TOKEN       (Socket Mode only) Basic Information -> App-Level Tokens, scope connections:write (xapp-...)",
  "Put them in .env (see .env.example) or in the environment, then start again.",
].join("\n");

function formatProblems(problems: string[]): string {
  const lines = problems.map((problem) => `  - ${problem}`);
  return `dkim-bot cannot start: ${problems.length === 1 ? "1 setting needs" : `${problems.length} settings need`} fixing.\n${lines.join("\n")}\n\n${SETUP_HINT}`;
}

const blank = (value: string | undefined): boolean => value === undefined || value.trim() === "";

const list = (value: string | undefined): string[] =>
  (value ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");

/**
 * A batch card shows every domain's row (or a summary past Slack's block limit) and its keys are
 * made in the background; beyond a thousand, one command is better split into several.
 */
const MAX_BATCH = 1000;
/** More applies at once than this would only queue at the SpamExperts cluster. */
const MAX_APPLY_CONCURRENCY = 32;

const TRUE_WORDS = ["true", "1", "yes", "on"];
const FALSE_WORDS = ["false", "0", "no", "off"];
const SLACK_USER_OR_GROUP_ID = /^[UWS][A-Z0-9]{2,}$/;
const CHANNEL_ID = /^[CG][A-Z0-9]{2,}$/;

type Env = Readonly<Record<string, string | undefined>>;

/** Reads one variable at a time, collecting every problem instead of stopping at the first. */
class EnvReader {
  readonly problems: string[] = [];

  constructor(private readonly env: Env) {}

  raw(name: string): string | undefined {
    return this.env[name];
  }

  text(name: string): string | undefined {
    const value = this.env[name];
    return blank(value) ? undefined : (value ?? "").trim();
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.text(name);
    if (value === undefined) return fallback;
    if (TRUE_WORDS.includes(value.toLowerCase())) return true;
    if (FALSE_WORDS.includes(value.toLowerCase())) return false;
    this.problems.push(`${name} must be true or false, not "${value}".`);
    return fallback;
  }

  /** A number that may have decimals (DKIM_MONITOR_HOURS=0.001 runs a key's life in seconds). */
  decimal(name: string, fallback: number, min: number, max: number): number {
    const value = this.text(name);
    if (value === undefined) return fallback;
    const number = Number(value);
    if (/^\d+(\.\d+)?$/.test(value) && number >= min && number <= max) return number;
    this.problems.push(
      `${name} must be a number from ${min} to ${max} (decimals allowed), not "${value}".`,
    );
    return fallback;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const value = this.text(name);
    if (value === undefined) return fallback;
    const number = Number(value);
    if (Number.isInteger(number) && number >= min && number <= max) return number;
    this.problems.push(`${name} must be a whole number from ${min} to ${max}, not "${value}".`);
    return fallback;
  }
}

export function loadConfig(env: Env): Config {
  const read = new EnvReader(env);
  const problems = read.problems;

  const botToken = read.text("SLACK_BOT_TOKEN") ?? "";
  if (botToken === "") {
    problems.push("SLACK_BOT_TOKEN is missing: set it to the app's bot token (xoxb-...).");
  } else if (!botToken.startsWith("xoxb-")) {
    problems.push("SLACK_BOT_TOKEN must be a bot token starting with xoxb-.");
  }
  const appToken = read.text("SLACK_APP_TOKEN");
  if (appToken !== undefined && !appToken.startsWith("xapp-")) {
    problems.push(
      "SLACK_APP_TOKEN must be an app-level token starting with xapp- (or unset for HTTP mode).",
    );
  }
  const signingSecret = read.text("SLACK_SIGNING_SECRET");
  if (appToken === undefined && signingSecret === undefined) {
    problems.push(
      "SLACK_SIGNING_SECRET is missing: HTTP mode needs it to verify requests from Slack (or set SLACK_APP_TOKEN for Socket Mode).",
    );
  }

  const apiUrl = read.text("SLACK_API_URL") ?? "https://slack.com/api/";
  if (!/^https?:\/\/\S+$/.test(apiUrl) || !URL.canParse(apiUrl)) {
    problems.push("SLACK_API_URL must be an http(s) URL such as https://slack.com/api/.");
  }
  const port = read.integer("PORT", 3000, 0, 65535);

  const spamExperts = readSpamExperts(read);

  const approvers = list(read.text("DKIM_APPROVERS"));
  if (approvers.length === 0) {
    problems.push(
      "DKIM_APPROVERS is missing: list who may approve, as Slack user IDs (U..., W...) or user-group IDs (S...), separated by commas.",
    );
  }
  for (const id of approvers.filter((item) => !SLACK_USER_OR_GROUP_ID.test(item))) {
    problems.push(
      `DKIM_APPROVERS: "${id}" is not a user ID (U..., W...) or user-group ID (S...). In Slack, open the person's profile, then "Copy member ID".`,
    );
  }

  let dnsServers: string[] | undefined;
  const dnsServersText = read.text("DKIM_DNS_SERVERS");
  if (dnsServersText !== undefined) {
    try {
      dnsServers = parseDnsServers(dnsServersText);
    } catch (error) {
      problems.push(`DKIM_DNS_SERVERS: ${messageOf(error)}`);
    }
  }

  const bitsSetting = read.integer("DKIM_DEFAULT_BITS", 2048, 0, Number.MAX_SAFE_INTEGER);
  if (!isKeyBits(bitsSetting)) {
    problems.push(`DKIM_DEFAULT_BITS must be 1024, 2048 or 4096, not "${bitsSetting}".`);
  }
  const defaultBits: KeyBits = isKeyBits(bitsSetting) ? bitsSetting : 2048;

  const allowedChannels = list(read.text("DKIM_ALLOWED_CHANNELS"));
  for (const id of allowedChannels.filter((item) => !CHANNEL_ID.test(item))) {
    problems.push(
      `DKIM_ALLOWED_CHANNELS: "${id}" is not a channel ID (C... or G...). In Slack, open the channel details; the ID is at the bottom of the About tab.`,
    );
  }

  const encryptionKey = readEncryptionKey(read);
  const databaseUrl = readDatabaseUrl(read, encryptionKey !== undefined);
  const dnsPublish = readDnsPublish(read);

  const logLevelText = (read.text("LOG_LEVEL") ?? "info").toLowerCase();
  if (!isLogLevel(logLevelText)) {
    problems.push(`LOG_LEVEL must be debug, info, warn or error, not "${logLevelText}".`);
  }

  const config: Config = {
    slack: {
      botToken,
      signingSecret,
      appToken,
      apiUrl: apiUrl.endsWith("/") ? apiUrl : `${apiUrl}/`,
      port,
    },
    spamExperts,
    approvers,
    allowSelfApproval: read.boolean("DKIM_ALLOW_SELF_APPROVAL", false),
    requireDns: read.boolean("DKIM_REQUIRE_DNS", true),
    dnsServers,
    defaultBits,
    allowedChannels: allowedChannels.length > 0 ? allowedChannels : undefined,
    dnsPollSeconds: read.integer("DKIM_DNS_POLL_SECONDS", 300, 1, 86_400),
    requestTtlDays: read.decimal("DKIM_REQUEST_TTL_DAYS", 14, 0.0001, 3650),
    monitorHours: read.decimal("DKIM_MONITOR_HOURS", 24, 0.0001, 24 * 30),
    rotationOverlapDays: read.decimal("DKIM_ROTATION_OVERLAP_DAYS", 7, 0, 365),
    rotateAfterDays: read.decimal("DKIM_ROTATE_AFTER_DAYS", 180, 0, 3650),
    alertChannel: readAlertChannel(read),
    batchMax: read.integer("DKIM_BATCH_MAX", 100, 1, MAX_BATCH),
    applyConcurrency: read.integer("DKIM_APPLY_CONCURRENCY", 4, 1, MAX_APPLY_CONCURRENCY),
    slackPaceMs: read.integer("DKIM_SLACK_PACE_MS", 1000, 1, 60_000),
    dataDir: read.text("DATA_DIR") ?? "./data",
    databaseUrl,
    leaseSeconds: read.integer("DKIM_LEASE_SECONDS", 30, 1, 3600),
    encryptionKey,
    inventoryMinutes: read.decimal("DKIM_INVENTORY_MINUTES", 60, 0, 10_080),
    logLevel: isLogLevel(logLevelText) ? logLevelText : "info",
    dnsPublish,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * The little of the environment the store tools of the CLI need (migrate-store): DATA_DIR and
 * DKIM_ENCRYPTION_KEY, checked like loadConfig checks them.
 */
export function loadStoreSettings(env: Env): {
  dataDir: string;
  encryptionKey: EncryptionKey | undefined;
} {
  const read = new EnvReader(env);
  const encryptionKey = readEncryptionKey(read);
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return { dataDir: read.text("DATA_DIR") ?? "./data", encryptionKey };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function readSpamExperts(read: EnvReader): SpamExpertsSettings | undefined {
  const url = read.text("SPAMEXPERTS_URL");
  const timeoutMs = read.integer("SPAMEXPERTS_TIMEOUT_MS", 15_000, 100, 600_000);
  if (url === undefined) return undefined;
  try {
    assertSafeBaseUrl(url);
  } catch (error) {
    read.problems.push(messageOf(error));
  }
  const username = read.text("SPAMEXPERTS_USERNAME");
  if (username === undefined) {
    read.problems.push(
      "SPAMEXPERTS_USERNAME is missing: with SPAMEXPERTS_URL set, give the Software API user (Control Panel -> Server -> Software API users).",
    );
  }
  // Not trimmed: a password may legitimately start or end with a space.
  const password =
    read.text("SPAMEXPERTS_PASSWORD") === undefined ? undefined : read.raw("SPAMEXPERTS_PASSWORD");
  if (password === undefined) {
    read.problems.push("SPAMEXPERTS_PASSWORD is missing: give the Software API user's password.");
  }
  return { url, username: username ?? "", password: password ?? "", timeoutMs };
}

/**
 * DATABASE_URL: postgres:// (or postgresql://) with host and database; TLS and a private CA
 * come from the URL (sslmode, sslrootcert) or the usual PG* variables. The key file cannot be
 * shared between replicas, so the encryption key must then come from the environment.
 */
function readDatabaseUrl(read: EnvReader, hasEncryptionKey: boolean): string | undefined {
  const url = read.text("DATABASE_URL");
  if (url === undefined) return undefined;
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || !["postgres:", "postgresql:"].includes(parsed.protocol)) {
    read.problems.push(
      "DATABASE_URL must be a PostgreSQL URL such as postgres://dkim:<password>@db.example.net:5432/dkim (or unset to use SQLite in DATA_DIR).",
    );
  } else if (parsed.hostname === "" && !parsed.searchParams.has("host")) {
    read.problems.push(
      "DATABASE_URL has no host: give postgres://<user>:<password>@<host>:<port>/<database>.",
    );
  }
  if (!hasEncryptionKey && read.text("DKIM_ENCRYPTION_KEY") === undefined) {
    read.problems.push(
      "DKIM_ENCRYPTION_KEY is required with DATABASE_URL: every replica must seal and open private keys with the same key, which a key file in one DATA_DIR cannot give. Set it to 32 random bytes in base64 (openssl rand -base64 32), the same on every replica.",
    );
  }
  return url;
}

function readAlertChannel(read: EnvReader): string | undefined {
  const channel = read.text("DKIM_ALERT_CHANNEL");
  if (channel !== undefined && !CHANNEL_ID.test(channel)) {
    read.problems.push(
      `DKIM_ALERT_CHANNEL: "${channel}" is not a channel ID (C... or G...). In Slack, open the channel details; the ID is at the bottom of the About tab. Invite the bot there.`,
    );
    return undefined;
  }
  return channel;
}

function readEncryptionKey(read: EnvReader): EncryptionKey | undefined {
  const value = read.text("DKIM_ENCRYPTION_KEY");
  if (value === undefined) return undefined;
  try {
    return parseEncryptionKey(value, "DKIM_ENCRYPTION_KEY");
  } catch (error) {
    read.problems.push(messageOf(error));
    return undefined;
  }
}

// ---- DNS publishing (DKIM_DNS_PUBLISH_*) ----

/** A TSIG key name as servers write it: LDH (and underscore) labels; kept lower case and absolute. */
const TSIG_KEY_NAME = /^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+$/;
const BASE64_TEXT = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const MIN_TSIG_SECRET_BYTES = 16;
const POWERDNS_SERVER_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * DKIM_DNS_PUBLISH_PROVIDER and what each provider needs. Unset provider: undefined (records
 * are published by hand). Secrets are never repeated in a problem.
 */
function readDnsPublish(read: EnvReader): DnsPublishSettings | undefined {
  const providerText = read.text("DKIM_DNS_PUBLISH_PROVIDER");
  if (providerText === undefined) return undefined;
  const provider = providerText.toLowerCase();
  if (provider !== "rfc2136" && provider !== "powerdns") {
    read.problems.push(
      `DKIM_DNS_PUBLISH_PROVIDER must be rfc2136 or powerdns (or unset to publish records by hand), not "${providerText}".`,
    );
    return undefined;
  }
  const zones = readPublishZones(read);
  if (provider === "powerdns") {
    const url = read.text("DKIM_DNS_PUBLISH_URL");
    if (url === undefined) {
      read.problems.push(
        "DKIM_DNS_PUBLISH_URL is missing: with DKIM_DNS_PUBLISH_PROVIDER=powerdns, give the PowerDNS webserver's base URL, e.g. https://pdns.example.net:8081.",
      );
    } else {
      try {
        assertPowerDnsUrl(url);
      } catch (error) {
        read.problems.push(messageOf(error));
      }
    }
    const apiKey = read.text("DKIM_DNS_PUBLISH_API_KEY");
    if (apiKey === undefined) {
      read.problems.push(
        "DKIM_DNS_PUBLISH_API_KEY is missing: give the PowerDNS API key (the server's api-key setting).",
      );
    }
    const serverId = read.text("DKIM_DNS_PUBLISH_SERVER_ID") ?? "localhost";
    if (!POWERDNS_SERVER_ID.test(serverId)) {
      read.problems.push(
        `DKIM_DNS_PUBLISH_SERVER_ID must be a PowerDNS server id such as localhost, not "${serverId}".`,
      );
    }
    return { provider, zones, url: url ?? "", apiKey: apiKey ?? "", serverId };
  }
  return { provider, zones, server: readPublishServer(read), tsig: readTsigKey(read) };
}

function readPublishZones(read: EnvReader): string[] {
  const entries = list(read.text("DKIM_DNS_PUBLISH_ZONES"));
  if (entries.length === 0) {
    read.problems.push(
      "DKIM_DNS_PUBLISH_ZONES is missing: list the zones the bot may write, separated by commas, e.g. example.com, example.net.",
    );
  }
  const zones: string[] = [];
  for (const entry of entries) {
    try {
      zones.push(normaliseZone(entry));
    } catch (error) {
      read.problems.push(`DKIM_DNS_PUBLISH_ZONES: ${messageOf(error)}`);
    }
  }
  return zones;
}

function readPublishServer(read: EnvReader): { host: string; port: number } {
  const text = read.text("DKIM_DNS_PUBLISH_SERVER");
  if (text === undefined) {
    read.problems.push(
      "DKIM_DNS_PUBLISH_SERVER is missing: give the IP address of the zones' primary DNS server, with a port if not 53, e.g. 192.0.2.53 or 192.0.2.53:5353.",
    );
    return { host: "", port: 53 };
  }
  try {
    // parseDnsServer gives "ip", "ipv4:port" or "[ipv6]:port".
    const server = parseDnsServer(text);
    const withPort = /^\[(.+)\]:(\d+)$/.exec(server) ?? /^([\d.]+):(\d+)$/.exec(server);
    return withPort === null
      ? { host: server, port: 53 }
      : { host: withPort[1] ?? server, port: Number(withPort[2]) };
  } catch (error) {
    read.problems.push(`DKIM_DNS_PUBLISH_SERVER: ${messageOf(error)}`);
    return { host: "", port: 53 };
  }
}

function readTsigKey(read: EnvReader): { name: string; algorithm: TsigAlgorithm; secret: Buffer } {
  const nameText = read.text("DKIM_DNS_PUBLISH_TSIG_NAME");
  let name = "";
  if (nameText === undefined) {
    read.problems.push(
      "DKIM_DNS_PUBLISH_TSIG_NAME is missing: give the name of the TSIG key the DNS server knows, e.g. dkim-bot (as made by tsig-keygen dkim-bot).",
    );
  } else {
    name = nameText.toLowerCase().endsWith(".")
      ? nameText.toLowerCase()
      : `${nameText.toLowerCase()}.`;
    if (!TSIG_KEY_NAME.test(name) || name.length > 254) {
      read.problems.push(
        `DKIM_DNS_PUBLISH_TSIG_NAME "${nameText}" is not a key name: use letters, digits, hyphens and dots, e.g. dkim-bot or dkim-bot.example.net.`,
      );
    }
  }
  const algorithmText = (read.text("DKIM_DNS_PUBLISH_TSIG_ALGORITHM") ?? "hmac-sha256")
    .toLowerCase()
    .replace(/\.$/, "");
  const algorithm = TSIG_ALGORITHMS.find((known) => known === algorithmText);
  if (algorithm === undefined) {
    read.problems.push(
      `DKIM_DNS_PUBLISH_TSIG_ALGORITHM must be ${TSIG_ALGORITHMS.join(" or ")}, not "${algorithmText}".`,
    );
  }
  const secretText = read.text("DKIM_DNS_PUBLISH_TSIG_SECRET");
  let secret = Buffer.alloc(0);
  if (secretText === undefined) {
    read.problems.push(
      'DKIM_DNS_PUBLISH_TSIG_SECRET is missing: give the key\'s secret, the base64 text in the secret "..." line that tsig-keygen printed.',
    );
  } else if (!BASE64_TEXT.test(secretText)) {
    read.problems.push(
      'DKIM_DNS_PUBLISH_TSIG_SECRET is not base64: copy the text between the quotes of the key\'s secret "..." line.',
    );
  } else {
    secret = Buffer.from(secretText, "base64");
    if (secret.length < MIN_TSIG_SECRET_BYTES) {
      read.problems.push(
        `DKIM_DNS_PUBLISH_TSIG_SECRET is only ${secret.length} bytes long: use a key of at least ${MIN_TSIG_SECRET_BYTES} bytes, as tsig-keygen makes (32 for hmac-sha256).`,
      );
    }
  }
  return { name, algorithm: algorithm ?? "hmac-sha256", secret };
}

function isLogLevel(value: string): value is LogLevel {
  return ["debug", "info", "warn", "error"].includes(value);
}
