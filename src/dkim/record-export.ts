/**
 * Many records at once, in the two forms DNS teams import: a BIND zone-file fragment and a CSV.
 * A batch gives every domain's record in one go (design.md flow 8), so nobody copies a hundred
 * values out of Slack.
 *
 * The fragment has one line per record with its absolute name (so it reads the same whatever
 * zone it is pasted into, and a name outside a zone is reported by the loader rather than
 * silently made relative), an explicit TTL, and the value as quoted strings of at most 255
 * characters (RFC 1035's character-string limit), split as opendkim-genkey splits it.
 */
import { quoteStrings, splitIntoStrings } from "./record.js";

export interface RecordToExport {
  /** `<selector>._domainkey.<domain>`, without the final dot. */
  name: string;
  /** The whole TXT value, e.g. `v=DKIM1; k=rsa; p=…`. */
  value: string;
}

/** An hour: short enough that a mistake is corrected quickly, long enough to cache. */
export const EXPORT_TTL_SECONDS = 3600;

/**
 * The zone-file fragment: `heading` as comment lines, then one TXT record per line, e.g.
 * `s202611._domainkey.example.com. 3600 IN TXT "v=DKIM1; k=rsa; " "p=MIIB…" "…"`.
 */
export function zoneFileFragment(
  records: readonly RecordToExport[],
  options: { heading?: readonly string[]; ttl?: number } = {},
): string {
  const ttl = options.ttl ?? EXPORT_TTL_SECONDS;
  const comments = (options.heading ?? []).map((line) => `; ${oneLine(line)}`);
  const lines = records.map(
    (record) =>
      `${absolute(record.name)}\t${ttl}\tIN\tTXT\t${quoteStrings(splitIntoStrings(record.value))}`,
  );
  return `${[...comments, ...lines].join("\n")}\n`;
}

export const CSV_HEADER = ["name", "type", "value", "split value"] as const;

/**
 * RFC 4180 CSV: name, type (TXT), the value as one string, and the value as the quoted strings
 * of the zone file, for providers that take it split. CRLF line ends, as the RFC has them.
 */
export function recordsCsv(records: readonly RecordToExport[]): string {
  const rows = [
    [...CSV_HEADER],
    ...records.map((record) => [
      record.name,
      "TXT",
      record.value,
      quoteStrings(splitIntoStrings(record.value)),
    ]),
  ];
  return `${rows.map((row) => row.map(csvField).join(",")).join("\r\n")}\r\n`;
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

function absolute(name: string): string {
  return name.endsWith(".") ? name : `${name}.`;
}

/** A comment ends at the line's end: a newline in the heading must not start a record. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, " ");
}
