#!/usr/bin/env node
import { constants as fsConstants } from "node:fs";
import { access, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { migrateStore } from "./cli/migrate-store.js";
import { loadStoreSettings } from "./config.js";
import { checkDkimRecord, type DkimCheckResult, type ExpectedKey } from "./dkim/check.js";
import { createTxtLookup, parseDnsServers } from "./dkim/dns.js";
import { generateKeyPair, isKeyBits, publicKeyOf } from "./dkim/keys.js";
import {
  defaultSelector,
  dkimRecordName,
  normaliseDomain,
  normaliseSelector,
} from "./dkim/names.js";
import { buildRecordValue, quoteStrings, splitIntoStrings, zoneFileLine } from "./dkim/record.js";
import { CodedError } from "./errors.js";

/**
 * `dkim-bot keygen | check | serve`: the DKIM core without Slack. Bad arguments print one
 * line and the usage and exit 2; a failed check exits 1; anything a person can cause ends in
 * a sentence, never a stack trace.
 */

const USAGE = {
  main: `Usage: dkim-bot <command> [options]

Commands:
  keygen <domain> [--selector <s>] [--bits 1024|2048|4096] [--out DIR] [--testing]
                  Generate a DKIM key pair and the DNS record to publish.
  check <domain> <selector> [--key FILE] [--dns-server IP[:PORT]]...
                  Check the published DKIM record (and that it matches FILE).
  serve           Start the Slack bot (same as npm start).
  migrate-store --to <postgres-url> [--data-dir DIR]
                  Copy a stopped bot's SQLite database into an empty PostgreSQL one.

Run "dkim-bot <command> --help" for a command's options.`,
  keygen: `Usage: dkim-bot keygen <domain> [--selector <s>] [--bits 1024|2048|4096] [--out DIR] [--testing]

Generates an RSA key pair for DKIM and writes
  DIR/<selector>.private  the private key, PKCS#1 PEM, mode 0600 (never overwritten)
  DIR/<selector>.txt      the TXT record as a zone-file line
then prints the DNS name, the value and the value split into quoted strings.

Options:
  --selector <s>  DKIM selector (default: s + year and month, e.g. ${defaultSelector(new Date())})
  --bits <n>      key size: 1024, 2048 or 4096 (default 2048)
  --out <dir>     where to write the files (default: the current directory)
  --testing       publish with t=y (receivers treat failures as tests)
  -h, --help      show this help`,
  check: `Usage: dkim-bot check <domain> <selector> [--key FILE] [--dns-server IP[:PORT]]...

Looks up <selector>._domainkey.<domain> and says whether the DKIM record is live and what is
wrong with it. Exits 0 when live (and, with --key, matching the key), 1 otherwise.

Options:
  --key <file>          private key (PEM) the record must match
  --dns-server <ip>     resolver to ask, ip or ip:port; repeat for several (default: system)
  --timeout <ms>        DNS timeout in milliseconds (default 5000)
  -h, --help            show this help`,
  serve: `Usage: dkim-bot serve

Starts the Slack bot with the configuration from the environment or .env (see README.md).`,
  "migrate-store": `Usage: dkim-bot migrate-store --to <postgres-url> [--data-dir DIR]

Copies every request (with its sealed private key, still sealed), and every event of the audit
trail, from the SQLite database in DATA_DIR into an empty PostgreSQL database, then checks the
counts and that every sealed key still opens. Stop the bot first. The encryption key is
DKIM_ENCRYPTION_KEY, or else DATA_DIR/encryption.key; give the replicas the same one.

Options:
  --to <url>        the PostgreSQL database (postgres://user:password@host:5432/db), empty
  --data-dir <dir>  the bot's data directory (default: DATA_DIR, else ./data)
  -h, --help        show this help`,
} as const;

type CommandName = keyof typeof USAGE;

/** Wrong arguments: printed with the usage, exit code 2. */
class UsageError extends Error {
  constructor(
    message: string,
    readonly command: CommandName,
  ) {
    super(message);
  }
}

interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
}

export async function runCli(
  argv: readonly string[],
  io: Output,
  env: Readonly<Record<string, string | undefined>> = {},
): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case "help":
      case "-h":
      case "--help":
        io.out(USAGE.main);
        return command === undefined ? 2 : 0;
      case "keygen":
        return await keygen(rest, io);
      case "check":
        return await check(rest, io);
      case "serve":
        return await serve(rest, io);
      case "migrate-store":
        return await migrateStoreCommand(rest, io, env);
      default:
        throw new UsageError(`unknown command "${command}"`, "main");
    }
  } catch (error) {
    return report(error, io);
  }
}

function report(error: unknown, io: Output): number {
  if (error instanceof UsageError) {
    io.err(`dkim-bot: ${error.message}\n\n${USAGE[error.command]}`);
    return 2;
  }
  if (error instanceof CodedError) {
    io.err(`dkim-bot: ${error.message}`);
    return error.code === "INVALID_INPUT" ? 2 : 1;
  }
  const detail = error instanceof Error ? error.message : String(error);
  io.err(`dkim-bot: unexpected error: ${detail}`);
  return 1;
}

function parse<O extends Record<string, { type: "string" | "boolean"; multiple?: boolean }>>(
  command: CommandName,
  args: readonly string[],
  options: O,
) {
  try {
    return parseArgs({
      args: [...args],
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    // parseArgs' messages are clear but long; keep the first sentence.
    const message = error instanceof Error ? error.message.split(". ")[0] : String(error);
    throw new UsageError(message ?? "bad arguments", command);
  }
}

async function keygen(args: readonly string[], io: Output): Promise<number> {
  const { values, positionals } = parse("keygen", args, {
    selector: { type: "string" },
    bits: { type: "string" },
    out: { type: "string" },
    testing: { type: "boolean" },
  });
  if (values.help) {
    io.out(USAGE.keygen);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? "keygen needs a domain"
        : `keygen takes one domain, got ${positionals.length}`,
      "keygen",
    );
  }
  const domain = normaliseDomain(positionals[0] ?? "");
  const selector = normaliseSelector(values.selector ?? defaultSelector(new Date()));
  const bits = Number(values.bits ?? "2048");
  if (!isKeyBits(bits)) {
    throw new UsageError(`--bits must be 1024, 2048 or 4096, not "${values.bits}"`, "keygen");
  }
  const outDir = values.out ?? ".";
  const privatePath = join(outDir, `${selector}.private`);
  const txtPath = join(outDir, `${selector}.txt`);
  // Check both before writing either, so a refusal leaves nothing half-written.
  for (const path of [privatePath, txtPath]) {
    if (await exists(path)) {
      throw new CodedError(
        "FILE_EXISTS",
        `${path} already exists and is never overwritten: choose another --selector or --out directory.`,
      );
    }
  }

  const keyPair = await generateKeyPair(bits);
  const value = buildRecordValue(keyPair.publicKeyBase64, { testing: values.testing === true });
  await mkdir(outDir, { recursive: true });
  await writeFile(privatePath, keyPair.privateKeyPem, { mode: 0o600, flag: "wx" });
  await writeFile(txtPath, `${zoneFileLine(selector, domain, value)}\n`, { flag: "wx" });

  io.out(
    [
      `Generated a ${bits}-bit RSA key for ${domain}, selector ${selector}.`,
      `Fingerprint:  ${keyPair.fingerprint}`,
      `Private key:  ${privatePath} (mode 0600; keep it secret)`,
      `Zone file:    ${txtPath}`,
      "",
      "Publish this TXT record:",
      `  Name:   ${dkimRecordName(selector, domain)}`,
      `  Value:  ${value}`,
      "",
      "If your DNS provider takes quoted strings of at most 255 characters, paste these, in this order:",
      `  ${quoteStrings(splitIntoStrings(value))}`,
      "Providers that take one long value (most web consoles) want the Value line as it is.",
      "",
      `Then check it with: dkim-bot check ${domain} ${selector} --key ${privatePath}`,
    ].join("\n"),
  );
  return 0;
}

async function check(args: readonly string[], io: Output): Promise<number> {
  const { values, positionals } = parse("check", args, {
    key: { type: "string" },
    "dns-server": { type: "string", multiple: true },
    timeout: { type: "string" },
  });
  if (values.help) {
    io.out(USAGE.check);
    return 0;
  }
  if (positionals.length !== 2) {
    throw new UsageError("check needs a domain and a selector", "check");
  }
  const domain = normaliseDomain(positionals[0] ?? "");
  const selector = normaliseSelector(positionals[1] ?? "");
  const timeoutMs = Number(values.timeout ?? "5000");
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
    throw new UsageError(
      `--timeout must be a whole number of milliseconds, not "${values.timeout}"`,
      "check",
    );
  }
  let servers: string[] | undefined;
  if (values["dns-server"] !== undefined) {
    try {
      servers = parseDnsServers(values["dns-server"].join(","));
    } catch (error) {
      throw new UsageError(
        `--dns-server: ${error instanceof Error ? error.message : String(error)}`,
        "check",
      );
    }
  }
  let expected: ExpectedKey | undefined;
  let keyLabel = "";
  if (values.key !== undefined) {
    const pem = await readKeyFile(values.key);
    expected = { publicKeyBase64: publicKeyOf(pem).publicKeyBase64 };
    keyLabel = values.key;
  }

  const lookup = createTxtLookup({ ...(servers ? { servers } : {}), timeoutMs });
  const result = await checkDkimRecord(lookup, domain, selector, expected);
  io.out(describeCheck(result, keyLabel));
  return result.status === "live" && result.matches !== false ? 0 : 1;
}

function describeCheck(result: DkimCheckResult, keyLabel: string): string {
  const lines = [result.name];
  if (result.cnameTarget !== undefined) lines.push(`CNAME to:   ${result.cnameTarget}`);
  if (result.published.length === 0) {
    lines.push("Published:  nothing");
  }
  for (const strings of result.published) {
    const sizes = strings.map((s) => s.length).join(" + ");
    lines.push(`Published:  ${strings.join("")}`);
    lines.push(
      `            (${strings.length} string${strings.length === 1 ? "" : "s"}: ${sizes} characters)`,
    );
  }
  const verdict =
    result.status === "live"
      ? result.matches === true
        ? `live, and it matches the key in ${keyLabel}`
        : "live"
      : result.status;
  lines.push(`Status:     ${verdict}`);
  lines.push(result.summary);
  for (const problem of result.problems) {
    lines.push(`  ${problem.severity === "error" ? "✗" : "!"} ${problem.message}`);
  }
  return lines.join("\n");
}

async function readKeyFile(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CodedError(
      "KEY_UNREADABLE",
      code === "ENOENT"
        ? `${path} does not exist: give the .private file written by dkim-bot keygen.`
        : `${path} cannot be read (${code ?? "unknown error"}): check the path and its permissions.`,
    );
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, fsConstants.F_OK);
    return true;
  } catch {
    return false;
  }
}

async function serve(args: readonly string[], io: Output): Promise<number> {
  const { values, positionals } = parse("serve", args, {});
  if (values.help) {
    io.out(USAGE.serve);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError("serve takes no arguments", "serve");
  const { startFromEnvironment } = await import("./main.js");
  return startFromEnvironment();
}

async function migrateStoreCommand(
  args: readonly string[],
  io: Output,
  env: Readonly<Record<string, string | undefined>>,
): Promise<number> {
  const { values, positionals } = parse("migrate-store", args, {
    to: { type: "string" },
    "data-dir": { type: "string" },
  });
  if (values.help) {
    io.out(USAGE["migrate-store"]);
    return 0;
  }
  if (positionals.length > 0) {
    throw new UsageError("migrate-store takes only options", "migrate-store");
  }
  if (values.to === undefined) throw new UsageError("migrate-store needs --to", "migrate-store");
  const settings = loadStoreSettings(env);
  io.out(
    await migrateStore({
      to: values.to,
      dataDir: values["data-dir"] ?? settings.dataDir,
      encryptionKey: settings.encryptionKey,
    }),
  );
  return 0;
}

// Run when executed directly (also through the npm bin link), not when imported by tests.
const invokedAs = process.argv[1] ?? "";
if (/(^|[\\/])(cli\.[jt]s|dkim-bot)$/.test(invokedAs)) {
  const code = await runCli(
    process.argv.slice(2),
    {
      out: (text) => process.stdout.write(`${text}\n`),
      err: (text) => process.stderr.write(`${text}\n`),
    },
    process.env,
  );
  // `serve` keeps running; it sets its own exit code on shutdown.
  if (process.argv[2] !== "serve" || code !== 0) process.exitCode = code;
}
