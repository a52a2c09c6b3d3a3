import { inspect } from "node:util";
import type { Logger as BoltLogger, LogLevel as SlackLogLevel } from "@slack/bolt";
import type { LogLevel } from "./config.js";
import { redactKeyMaterial, redactLongRuns } from "./requests/redact.js";

/**
 * Structured logs: one JSON object per line on stdout. It serves both requests/ (message plus
 * fields) and Bolt (any arguments). Secrets are redacted on the way out, whatever a caller
 * passes: PEM blocks, long base64 runs (key bodies), Basic/Bearer credentials, Slack tokens and
 * secret query parameters. Fingerprints and public keys are not secrets and stay readable, so an
 * operator can match a log line to a DNS record (redact.ts tells them from private key bodies).
 */

const SEVERITY: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

const LONG_BASE64 = /[A-Za-z0-9+/]{64,}={0,2}/g;

const SECRET_PATTERNS: ReadonlyArray<[RegExp, string]> = [
  [/\b(Basic|Bearer)\s+[A-Za-z0-9+/=._-]{8,}/gi, "$1 [redacted]"],
  [/\bx(?:ox[abposr]|app)-[A-Za-z0-9-]+/g, "[redacted token]"],
  [/([?&](?:certificate|password|passwd|secret|token|api_?key|key)=)[^&\s"]*/gi, "$1[redacted]"],
];

export function redactLogText(text: string): string {
  // PEM blocks first, with the same rule as the audit trail (URL-encoded markers too).
  return SECRET_PATTERNS.reduce(
    (out, [pattern, replacement]) => out.replace(pattern, replacement),
    redactLongRuns(redactKeyMaterial(text), LONG_BASE64, "[redacted base64]"),
  );
}

export type LogFields = Record<string, unknown>;

export interface AppLogger extends BoltLogger {
  /** A line with a message and fields: `{"level":"info","msg":...,...fields}`. */
  event(level: LogLevel, message: string, fields?: LogFields): void;
  child(fields: LogFields): AppLogger;
}

export interface LoggerOptions {
  level: LogLevel;
  write?: (line: string) => void;
  clock?: () => Date;
  base?: LogFields;
}

export function createLogger(options: LoggerOptions): AppLogger {
  let level = options.level;
  let name: string | undefined;
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const clock = options.clock ?? (() => new Date());
  const base = options.base ?? {};

  function event(at: LogLevel, message: string, fields: LogFields = {}): void {
    if (SEVERITY[at] < SEVERITY[level]) return;
    const record: LogFields = { time: clock().toISOString(), level: at, ...base };
    if (name !== undefined) record.logger = name;
    record.msg = message;
    for (const [key, value] of Object.entries(fields)) record[key] = toLoggable(value);
    write(redactLogText(JSON.stringify(record)));
  }

  /** Bolt and its client log with free arguments: the first string is the message. */
  const fromArgs =
    (at: LogLevel) =>
    (...args: unknown[]): void => {
      if (SEVERITY[at] < SEVERITY[level]) return;
      const message = args.map((arg) => (typeof arg === "string" ? arg : describe(arg))).join(" ");
      event(at, message);
    };

  return {
    event,
    child: (fields) =>
      createLogger({ ...options, level, write, clock, base: { ...base, ...fields } }),
    debug: fromArgs("debug"),
    info: fromArgs("info"),
    warn: fromArgs("warn"),
    error: fromArgs("error"),
    setLevel: (next: SlackLogLevel) => {
      level = next as LogLevel;
    },
    getLevel: () => level as SlackLogLevel,
    setName: (next: string) => {
      name = next;
    },
  };
}

function toLoggable(value: unknown): unknown {
  if (value instanceof Error) return describe(value);
  return value;
}

/** Errors as name, code and message: no stack in logs a person reads, no nested request dumps. */
function describe(value: unknown): string {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return `${value.name}${typeof code === "string" ? ` [${code}]` : ""}: ${value.message}`;
  }
  return inspect(value, { depth: 3, breakLength: Number.POSITIVE_INFINITY });
}

/** The narrow logger requests/ asks for, fed into the structured one. */
export function requestsLogger(logger: AppLogger): {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
} {
  return {
    info: (message, fields) => logger.event("info", message, fields),
    warn: (message, fields) => logger.event("warn", message, fields),
    error: (message, fields) => logger.event("error", message, fields),
  };
}
