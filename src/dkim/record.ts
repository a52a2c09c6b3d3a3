/**
 * The DKIM key record (RFC 6376 §3.6.1): build it, split it into DNS character-strings, lay it
 * out as a zone-file line, read it back from any of those forms, and say what is wrong with what
 * a DNS server publishes. Pure: no DNS, no files.
 */
import { createPublicKey } from "node:crypto";
import { InputError } from "../errors.js";
import { fingerprintOf } from "./keys.js";
import type { DkimCheckProblem, DkimCheckStatus, ExpectedKey } from "./verdict.js";

/** RFC 1035: one TXT character-string holds at most 255 octets. */
export const MAX_STRING_LENGTH = 255;

export interface RecordOptions {
  /** `t=y`: the domain is testing DKIM. */
  testing?: boolean;
  /** `t=s`: the key may not sign for subdomains of the domain. */
  strictSubdomains?: boolean;
}

export interface ParsedRecord {
  /** Every tag in the order published, unknown ones included; values as written, trimmed. */
  tags: ReadonlyArray<[string, string]>;
  /** `v=`, when present. */
  version?: string;
  /** `k=`; RFC 6376 makes "rsa" the default. */
  keyType: string;
  /** `p=` with whitespace removed; "" means the key is revoked. */
  publicKey: string;
  /** `t=` split on ":" (e.g. ["y", "s"]). */
  flags: string[];
}

export type RecordProblemCode =
  | "missing"
  | "different-key"
  | "truncated"
  | "chunks-out-of-order"
  | "several-records"
  | "testing-flag"
  | "revoked"
  | "bad-version"
  | "not-rsa"
  | "weak-key"
  | "literal-quotes"
  | "unparseable";

export interface RecordDiagnosis {
  status: Exclude<DkimCheckStatus, "lookup-failed">;
  /** Whether the published key is the expected one; null without an expected key or a record. */
  matches: boolean | null;
  problems: DkimCheckProblem[];
  /** The DKIM record the diagnosis is about (the matching one when there are several). */
  record?: ParsedRecord;
  summary: string;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const WHITESPACE = /\s+/g;

export function buildRecordValue(publicKeyBase64: string, options: RecordOptions = {}): string {
  const key = publicKeyBase64.replace(WHITESPACE, "");
  if (!isBase64(key)) {
    throw new InputError(
      "publicKey",
      "The public key is not base64 text: give the DER public key in base64, as `openssl rsa -pubout` prints it without the BEGIN/END lines.",
    );
  }
  const flags = [options.testing ? "y" : "", options.strictSubdomains ? "s" : ""].filter(Boolean);
  const flagTag = flags.length > 0 ? `t=${flags.join(":")}; ` : "";
  return `v=DKIM1; k=rsa; ${flagTag}p=${key}`;
}

/**
 * Splits a record value into character-strings of at most `maxLength` octets, the way
 * opendkim-genkey lays it out: the tags before `p=` in the first string, then `p=` and its data
 * in as few strings as fit. Joined with nothing between, the strings give back the value.
 */
export function splitIntoStrings(value: string, maxLength = MAX_STRING_LENGTH): string[] {
  if (!Number.isInteger(maxLength) || maxLength < 1 || maxLength > MAX_STRING_LENGTH) {
    throw new RangeError(`maxLength must be an integer from 1 to ${MAX_STRING_LENGTH}.`);
  }
  // Length in characters is length in octets only for ASCII; DKIM records are ASCII.
  if (!/^[\x20-\x7e]*$/.test(value)) {
    throw new RangeError("A DKIM record value holds printable ASCII only.");
  }
  const pTag = /(?:^|;)[ \t]*(?=p[ \t]*=)/.exec(value);
  const pStart = pTag ? pTag.index + pTag[0].length : value.length;
  const strings = [
    ...chunks(value.slice(0, pStart), maxLength),
    ...chunks(value.slice(pStart), maxLength),
  ];
  return strings.length > 0 ? strings : [""];
}

/** `"a" "b"`: the form zone files and many DNS providers take for a multi-string TXT record. */
export function quoteStrings(strings: readonly string[]): string {
  return strings.map((s) => `"${s.replace(/[\\"]/g, "\\$&")}"`).join(" ");
}

/**
 * The record as opendkim-genkey writes `<selector>.txt` (owner relative to the zone), without a
 * trailing newline.
 */
export function zoneFileLine(selector: string, domain: string, value: string): string {
  const strings = splitIntoStrings(value).map((s) => quoteStrings([s]));
  return `${selector}._domainkey\tIN\tTXT\t( ${strings.join("\n\t  ")} )  ; ----- DKIM key ${selector} for ${domain}`;
}

/**
 * Reads a DKIM key record. A string may be the plain value, quoted strings (`"a" "b"`) or a
 * zone-file line (owner, IN, TXT, parentheses, `;` comment), across several lines. An array is
 * the character-strings of one TXT record as DNS returned them: they are joined as they are.
 */
export function parseRecord(text: string | readonly string[]): ParsedRecord {
  return parseTagList(typeof text === "string" ? recordValueFromText(text) : text.join(""));
}

function parseTagList(value: string): ParsedRecord {
  if (value.trim() === "") {
    throw recordError("The record is empty: give the TXT value, which reads v=DKIM1; k=rsa; p=….");
  }
  if (isBareKey(value)) {
    throw recordError(
      "The record is only the key, without its tags: publish it as v=DKIM1; k=rsa; p=<key>.",
    );
  }
  const tags: [string, string][] = [];
  for (const spec of value.split(";")) {
    if (spec.trim() === "") continue;
    const equals = spec.indexOf("=");
    if (equals === -1) {
      throw recordError(
        `"${excerpt(spec.trim())}" is not a tag=value pair: a DKIM record reads v=DKIM1; k=rsa; p=….`,
      );
    }
    const name = spec.slice(0, equals).trim();
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name)) {
      throw recordError(
        `"${excerpt(name)}" is not a tag name: a DKIM record reads v=DKIM1; k=rsa; p=….`,
      );
    }
    if (tags.some(([seen]) => seen === name)) {
      throw recordError(`The tag ${name}= appears twice: keep it once.`);
    }
    tags.push([name, spec.slice(equals + 1).trim()]);
  }
  const tag = (name: string) => tags.find(([seen]) => seen === name)?.[1];
  const publicKey = tag("p");
  if (publicKey === undefined) {
    throw recordError(
      "The record has no p= tag, so it holds no key: give the whole value, v=DKIM1; k=rsa; p=….",
    );
  }
  const version = tag("v");
  const record: ParsedRecord = {
    tags,
    keyType: tag("k") ?? "rsa",
    publicKey: publicKey.replace(WHITESPACE, ""),
    flags: (tag("t") ?? "")
      .split(":")
      .map((flag) => flag.trim())
      .filter(Boolean),
  };
  return version === undefined ? record : { ...record, version };
}

/**
 * The value a DNS server would serve for pasted text: for quoted strings or a zone-file line,
 * the contents of every quoted string, joined. Before the first quote only an owner/TTL/class/TXT
 * prefix may stand; after it, parentheses, blanks and `;` comments. Text without quotes is
 * taken as the plain value.
 */
export function recordValueFromText(text: string): string {
  const firstQuote = text.indexOf('"');
  if (firstQuote === -1) return text;
  const prefix = text.slice(0, firstQuote).trim();
  if (!/^(?:\(|(?:\S+\s+)*TXT\s*\(?)?$/i.test(prefix)) {
    throw recordError(
      `"${excerpt(prefix)}" stands before the first quote: give the value alone, the quoted strings, or a whole zone-file line.`,
    );
  }
  let value = "";
  let i = firstQuote;
  while (i < text.length) {
    const char = text.charAt(i);
    if (char === '"') {
      const end = readQuoted(text, i + 1);
      value += end.content;
      i = end.next;
    } else if (char === ";") {
      const lineEnd = text.indexOf("\n", i);
      i = lineEnd === -1 ? text.length : lineEnd;
    } else if (char === "(" || char === ")" || /\s/.test(char)) {
      i += 1;
    } else {
      const word = /^[^\s"();]+/.exec(text.slice(i))?.[0] ?? char;
      throw recordError(
        `"${excerpt(word)}" stands outside the quotes: put every part of the value inside quotes, or give the value without any.`,
      );
    }
  }
  return value;
}

/** Reads a quoted character-string from just after its opening quote (RFC 1035 §5.1 escapes). */
function readQuoted(text: string, start: number): { content: string; next: number } {
  let content = "";
  let i = start;
  while (i < text.length) {
    const char = text.charAt(i);
    if (char === '"') return { content, next: i + 1 };
    if (char === "\\") {
      const digits = /^\d{3}/.exec(text.slice(i + 1, i + 4))?.[0];
      if (digits !== undefined) {
        content += String.fromCharCode(Number(digits));
        i += 4;
      } else {
        content += text.charAt(i + 1);
        i += 2;
      }
    } else {
      content += char;
      i += 1;
    }
  }
  throw recordError('A quoted string is not closed: every " needs its partner.');
}

/**
 * Says whether the TXT records found at `<selector>._domainkey.<domain>` (each as its
 * character-strings, in the order DNS gave them) publish the expected key, and if not, what is
 * wrong and what to do.
 */
export function diagnoseRecords(
  published: readonly (readonly string[])[],
  expected?: ExpectedKey,
): RecordDiagnosis {
  const dkimRecords = published.filter((strings) => looksLikeDkim(strings.join("")));
  if (dkimRecords.length === 0) {
    const others = published.length;
    const message =
      others === 0
        ? "Nothing is published at this name yet: publish the TXT record, then check again."
        : `No DKIM record is published here (${others === 1 ? "the TXT record at this name is" : `the ${others} TXT records at this name are`} something else): publish the DKIM value at this name.`;
    return {
      status: "missing",
      matches: null,
      problems: [{ code: "missing", severity: "error", message }],
      summary: "No DKIM record is published yet.",
    };
  }

  const readings = dkimRecords.map((strings) => readOne(strings, expected));
  const chosen = readings.find((reading) => reading.keyMatches) ?? readings[0];
  if (chosen === undefined) throw new Error("unreachable: at least one DKIM record");
  const findings = [...chosen.findings];
  if (readings.length > 1) {
    findings.unshift(
      finding(
        "several-records",
        "error",
        `There are ${readings.length} DKIM records at this name and verifiers may pick any of them: ${chosen.keyMatches ? "delete all but the one with the expected key" : "keep only one"}.`,
        `Published, but there are ${readings.length} DKIM records at this name.`,
      ),
    );
  }
  const firstError = findings.find((f) => f.problem.severity === "error");
  const status = firstError === undefined ? "live" : "wrong";
  const diagnosis: RecordDiagnosis = {
    status,
    matches: expected === undefined ? null : chosen.keyMatches,
    problems: findings.map((f) => f.problem),
    summary: firstError?.summary ?? liveSummary(expected, findings),
  };
  return chosen.record === undefined ? diagnosis : { ...diagnosis, record: chosen.record };
}

interface Finding {
  problem: DkimCheckProblem;
  /** The one-sentence summary to give when this is the first error. */
  summary: string;
}

interface Reading {
  record?: ParsedRecord;
  /** The key as verifiers read it is the expected one. */
  keyMatches: boolean;
  findings: Finding[];
}

function finding(
  code: RecordProblemCode,
  severity: DkimCheckProblem["severity"],
  message: string,
  summary: string,
): Finding {
  return { problem: { code, severity, message }, summary };
}

function liveSummary(expected: ExpectedKey | undefined, findings: readonly Finding[]): string {
  const base =
    expected === undefined
      ? "Live: a well-formed DKIM key is published"
      : "Live and matches the key";
  const warning = findings.find((f) => f.problem.severity === "warning");
  return warning === undefined ? `${base}.` : `${base}, but ${warning.summary}.`;
}

/** Everything wrong with one published DKIM record. */
function readOne(strings: readonly string[], expected: ExpectedKey | undefined): Reading {
  const expectedKey = expected?.publicKeyBase64.replace(WHITESPACE, "");
  if (strings.join("").includes('"')) {
    return {
      keyMatches: false,
      findings: [
        finding(
          "literal-quotes",
          "error",
          "The published value contains quote characters, so your DNS provider stored the quotes as text: enter the value again without quotes (or use the provider's field for separate strings).",
          "Published, but with quote characters inside the value.",
        ),
      ],
    };
  }

  let record: ParsedRecord;
  try {
    record = parseRecord(strings);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    const order = findKeyOrder(strings, expectedKey);
    return {
      keyMatches: false,
      findings: [
        order === undefined
          ? finding(
              "unparseable",
              "error",
              error.message,
              "Published, but the record cannot be read.",
            )
          : outOfOrder(strings.length, order, expectedKey),
      ],
    };
  }

  const findings: Finding[] = [];
  if (record.version !== undefined && record.version !== "DKIM1") {
    findings.push(
      finding(
        "bad-version",
        "error",
        `The record says v=${excerpt(record.version)}, which verifiers discard: set v=DKIM1.`,
        "Published, but v= is not DKIM1.",
      ),
    );
  } else if (record.version !== undefined && record.tags[0]?.[0] !== "v") {
    findings.push(
      finding(
        "bad-version",
        "error",
        "v=DKIM1 must be the first tag of the record: move it to the front.",
        "Published, but v=DKIM1 is not the first tag.",
      ),
    );
  }
  if (record.keyType !== "rsa") {
    findings.push(
      finding(
        "not-rsa",
        "error",
        `The record says k=${excerpt(record.keyType)}, but the key is RSA: set k=rsa.`,
        `Published, but as a k=${excerpt(record.keyType)} key instead of RSA.`,
      ),
    );
  }
  const keyFinding = checkKey(record, strings, expectedKey);
  if (keyFinding !== undefined) findings.push(keyFinding);
  if (record.flags.includes("y") && expected?.testing !== true) {
    findings.push(
      finding(
        "testing-flag",
        "warning",
        "The record has t=y (testing), so verifiers may treat failed signatures like unsigned mail: remove t=y once signing works.",
        "t=y (testing) is still on",
      ),
    );
  }
  return { record, keyMatches: record.publicKey === expectedKey, findings };
}

/** What is wrong with the p= of a record that parsed. */
function checkKey(
  record: ParsedRecord,
  strings: readonly string[],
  expectedKey: string | undefined,
): Finding | undefined {
  const key = record.publicKey;
  if (key === "") {
    return finding(
      "revoked",
      "error",
      "The key is revoked (p= is empty): publish the record with its whole p= value.",
      "Published, but revoked (p= is empty).",
    );
  }
  if (key === expectedKey) return undefined;
  if (expectedKey?.startsWith(key)) {
    return finding(
      "truncated",
      "error",
      `The record is cut short: p= has ${key.length} of ${expectedKey.length} characters. Paste the whole value; if your DNS provider splits it, keep the strings in order.`,
      "Published, but the key is cut short.",
    );
  }
  const rsa = record.keyType === "rsa";
  const bits = rsa ? rsaKeyBits(key) : undefined;
  if (expectedKey !== undefined || (rsa && bits === undefined)) {
    const order = findKeyOrder(strings, expectedKey);
    if (order !== undefined) return outOfOrder(strings.length, order, expectedKey);
  }
  if (rsa && bits === undefined) {
    return finding(
      "truncated",
      "error",
      `p= is not a readable RSA public key (${key.length} characters; cut short or mistyped?): paste the whole value again, keeping any strings in order.`,
      "Published, but p= is not a readable RSA key.",
    );
  }
  if (expectedKey !== undefined) {
    return finding(
      "different-key",
      "error",
      `The record holds a different key (${fingerprintOf(key)}) from the expected one (${fingerprintOf(expectedKey)}): replace it with the value for this key.`,
      `Published, but with a different key: ${fingerprintOf(key)} instead of ${fingerprintOf(expectedKey)}.`,
    );
  }
  if (bits !== undefined && bits < 1024) {
    return finding(
      "weak-key",
      "error",
      `The key has only ${bits} bits and verifiers reject RSA keys under 1024 (RFC 8301): publish a 2048-bit key.`,
      `Published, but the key has only ${bits} bits.`,
    );
  }
  return undefined;
}

function outOfOrder(count: number, order: readonly number[], expectedKey: string | undefined) {
  return finding(
    "chunks-out-of-order",
    "error",
    `The ${count} strings of the record are out of order (in the order ${order.join(", ")} they give ${expectedKey === undefined ? "a readable" : "the expected"} key): enter them again in that order.`,
    "Published, but the strings of the record are out of order.",
  );
}

/** Above this many strings, trying every order costs more than it can tell. */
const MAX_STRINGS_TO_REORDER = 6;

/**
 * The 1-based order in which the strings give the expected key (or, with none expected, a
 * readable RSA key), when that is not the order they were published in.
 */
function findKeyOrder(
  strings: readonly string[],
  expectedKey: string | undefined,
): number[] | undefined {
  if (strings.length < 2 || strings.length > MAX_STRINGS_TO_REORDER) return undefined;
  for (const order of permutations(strings.length).slice(1)) {
    let key: string;
    try {
      key = parseRecord(order.map((i) => strings[i] ?? "")).publicKey;
    } catch {
      continue;
    }
    if (expectedKey === undefined ? rsaKeyBits(key) !== undefined : key === expectedKey) {
      return order.map((i) => i + 1);
    }
  }
  return undefined;
}

/** All orders of 0..n-1, the identity first. */
function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  return permutations(n - 1).flatMap((rest) =>
    Array.from({ length: n }, (_, at) => [
      ...rest.slice(0, at),
      n - 1,
      ...rest.slice(at),
    ]).reverse(),
  );
}

/** The modulus length when `base64` is a DER SubjectPublicKeyInfo of an RSA key. */
function rsaKeyBits(base64: string): number | undefined {
  if (!isBase64(base64)) return undefined;
  try {
    const key = createPublicKey({
      key: Buffer.from(base64, "base64"),
      format: "der",
      type: "spki",
    });
    return key.asymmetricKeyType === "rsa" ? key.asymmetricKeyDetails?.modulusLength : undefined;
  } catch {
    return undefined;
  }
}

/** A TXT record that is meant as a DKIM key record (others, such as SPF, are left alone). */
function looksLikeDkim(text: string): boolean {
  return /^[\s"]*v\s*=\s*DKIM/i.test(text) || /(?:^|;)[\s"]*[pk]\s*=/.test(text) || isBareKey(text);
}

/** Base64 alone, long enough to be a key: someone published p= without its tags. */
function isBareKey(text: string): boolean {
  const compact = text.replace(WHITESPACE, "");
  return compact.length >= 100 && isBase64(compact);
}

function isBase64(text: string): boolean {
  return text.length % 4 === 0 && BASE64.test(text);
}

function chunks(text: string, size: number): string[] {
  const result: string[] = [];
  for (let at = 0; at < text.length; at += size) result.push(text.slice(at, at + size));
  return result;
}

/** A short quote of published or pasted text for a message. */
function excerpt(text: string): string {
  return text.length > 40 ? `${text.slice(0, 37)}…` : text;
}

function recordError(message: string): InputError {
  return new InputError("record", message);
}
