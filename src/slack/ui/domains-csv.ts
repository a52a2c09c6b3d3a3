/**
 * "Download CSV" of `/dkim domains`: every domain, one row each, for a spreadsheet or a
 * script. RFC 4180 (CRLF, quotes where needed); a cell that a spreadsheet would take for a
 * formula (= + - @) is made text with a leading apostrophe, though no domain or selector
 * starts so. Pure: the listener uploads what this returns.
 */
import type { DomainEntry, InventoryWhole } from "../../requests/service.js";

export const DOMAINS_CSV_COLUMNS = [
  "domain",
  // The line's state: active, problem, rotating, failed, pending, none, private, gone.
  "state",
  // The key that signs (else the open request's): its selector, age and last DNS verdict.
  "selector",
  "key_age_days",
  "last_dns_verdict",
  "dns_checked_at",
  // An open request (a rotation's new key, or a setup): its state and selector.
  "open_request",
  "open_selector",
] as const;

export interface DomainsCsv {
  filename: string;
  content: string;
  rows: number;
}

export function domainsCsv(whole: InventoryWhole, now: Date): DomainsCsv {
  const lines = [DOMAINS_CSV_COLUMNS.join(",")];
  for (const entry of whole.entries) lines.push(csvRow(rowOf(entry, now)));
  return {
    filename: `dkim-domains-${now.toISOString().slice(0, 10)}.csv`,
    content: `${lines.join("\r\n")}\r\n`,
    rows: whole.entries.length,
  };
}

function rowOf(entry: DomainEntry, now: Date): string[] {
  const key = entry.active ?? entry.open;
  const activatedAt = entry.active?.activatedAt;
  const age =
    activatedAt === undefined || activatedAt === null
      ? ""
      : String(Math.max(0, Math.floor((now.getTime() - Date.parse(activatedAt)) / 86_400_000)));
  return [
    entry.domain,
    entry.state,
    key?.selector ?? "",
    age,
    key?.dnsStatus ?? "",
    key?.dnsCheckedAt ?? "",
    entry.open?.state ?? "",
    entry.open?.selector ?? "",
  ];
}

export function csvRow(cells: readonly string[]): string {
  return cells.map(csvCell).join(",");
}

function csvCell(value: string): string {
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
