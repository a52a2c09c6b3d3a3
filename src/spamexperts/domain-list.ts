/**
 * Reading the body of `api_list_domains` (facts.md): plain text, one line per domain, where a
 * public script keeps the part before the first `:`; its exact form is not documented, so this
 * is tolerant. One entry per non-empty line, the part before the first `:` or whitespace; or,
 * when the body is a JSON array, its strings. Each entry is normalised as typed domains are
 * (lower case, punycode, no trailing dot); what is not a domain name is counted and left out,
 * as are repeats.
 *
 * A cluster may list tens of thousands of domains: names already in normal form take a fast
 * path (one regular expression instead of the full check people's input gets), and the work is
 * cut into slices with a yield between them, so a long list never holds up the event loop for
 * long (an ack is due within 3 s).
 */
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { normaliseDomain } from "../dkim/names.js";
import { isCodedError } from "../errors.js";
import { redactText } from "./redact.js";

export interface ParsedDomainList {
  /** Normalised, each once, in name order. */
  domains: string[];
  /** Entries that were not a domain name. */
  ignored: number;
  /** The first few ignored entries, redacted and cut short. */
  ignoredExamples: string[];
  /** Entries naming a domain already taken. */
  duplicates: number;
  /** Every non-empty entry seen: domains + ignored + duplicates. */
  entries: number;
}

const MAX_EXAMPLES = 5;
const MAX_EXAMPLE_LENGTH = 80;
/** The domain part of a line: up to the first `:` or whitespace. */
const DOMAIN_PART = /^[^:\s]*/;
/** Entries handled between two yields to the event loop: about a millisecond of work. */
const SLICE = 2_000;
const MAX_NAME = 253;
const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
/**
 * A name normaliseDomain would return unchanged: lower-case LDH labels of 1 to 63 characters,
 * no hyphen at either end, two labels or more, a last label not all digits (so no IP address).
 */
const NORMAL_NAME = new RegExp(`^(?:${LABEL}\\.)+(?![0-9]+$)${LABEL}$`);

export async function parseDomainList(
  body: string,
  secrets: readonly string[] = [],
): Promise<ParsedDomainList> {
  const text = body.replace(/^\uFEFF/, "");
  const candidates = jsonEntries(text) ?? lineEntries(text);
  const seen = new Set<string>();
  const ignoredExamples: string[] = [];
  let ignored = 0;
  let duplicates = 0;
  for (const [index, candidate] of candidates.entries()) {
    if (index > 0 && index % SLICE === 0) await yieldToEventLoop();
    const domain =
      typeof candidate.domain === "string" ? domainOrUndefined(candidate.domain) : undefined;
    if (domain === undefined) {
      ignored += 1;
      if (ignoredExamples.length < MAX_EXAMPLES) {
        ignoredExamples.push(example(candidate.shown, secrets));
      }
    } else if (seen.has(domain)) {
      duplicates += 1;
    } else {
      seen.add(domain);
    }
  }
  const domains = [...seen].sort(byCodeUnits);
  return { domains, ignored, ignoredExamples, duplicates, entries: candidates.length };
}

interface Candidate {
  /** What may be a domain; undefined when the entry cannot be one (a JSON number...). */
  domain: string | undefined;
  /** The entry as it came, for the examples of what was left out. */
  shown: string;
}

/** The entries of a JSON array, or undefined when the body is not one. */
function jsonEntries(text: string): Candidate[] | undefined {
  if (!text.trimStart().startsWith("[")) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  const items: unknown[] = parsed;
  return items
    .filter((item) => item !== "" && item !== null)
    .map((item) =>
      typeof item === "string"
        ? { domain: item.trim(), shown: item }
        : { domain: undefined, shown: JSON.stringify(item) ?? String(item) },
    );
}

function lineEntries(text: string): Candidate[] {
  const candidates: Candidate[] = [];
  for (const raw of text.split(/\r\n|\n|\r/)) {
    const line = raw.trim();
    if (line === "") continue;
    candidates.push({ domain: DOMAIN_PART.exec(line)?.[0] ?? "", shown: line });
  }
  return candidates;
}

function domainOrUndefined(candidate: string): string | undefined {
  if (candidate === "") return undefined;
  const simple = candidate.toLowerCase().replace(/\.$/, "");
  if (simple.length <= MAX_NAME && NORMAL_NAME.test(simple)) return simple;
  // Anything else (IDN, odd characters, junk) gets the full check and its verdict.
  try {
    return normaliseDomain(candidate);
  } catch (error) {
    if (isCodedError(error) && error.code === "INVALID_INPUT") return undefined;
    throw error;
  }
}

function byCodeUnits(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}

function example(entry: string, secrets: readonly string[]): string {
  const redacted = redactText(entry, secrets);
  return redacted.length > MAX_EXAMPLE_LENGTH
    ? `${redacted.slice(0, MAX_EXAMPLE_LENGTH - 1)}…`
    : redacted;
}
