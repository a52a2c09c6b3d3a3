/**
 * BIND's own zone parser, `named-checkzone` (Debian's bind9-utils): a zone-file fragment the
 * bot writes is loaded inside a minimal root zone, and the records BIND read back are returned
 * in its canonical form, so a test compares what a real name server would serve.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const NAMED_CHECKZONE = "named-checkzone";

export type Availability = { available: true } | { available: false; reason: string };

export function namedCheckzoneAvailability(): Availability {
  const result = spawnSync(NAMED_CHECKZONE, ["-v"], { encoding: "utf8" });
  if (result.error !== undefined || result.status !== 0) {
    return {
      available: false,
      reason: `${NAMED_CHECKZONE} cannot run (${result.error?.message ?? result.stderr.trim()}); install Debian's bind9-utils`,
    };
  }
  return { available: true };
}

/** A root zone's SOA and NS (with its address), so any absolute name in the fragment is in zone. */
const ROOT_ZONE_HEAD = [
  "$TTL 3600",
  ". IN SOA ns.zone-check.invalid. hostmaster.zone-check.invalid. 1 3600 600 86400 300",
  ". IN NS ns.zone-check.invalid.",
  "ns.zone-check.invalid. IN A 192.0.2.53",
].join("\n");

export interface ZoneCheck {
  ok: boolean;
  /** named-checkzone's messages (errors and warnings). */
  output: string;
  /** TXT records as loaded: owner name (lower case, absolute) -> the strings of its value. */
  txt: Map<string, string[]>;
}

/** Loads `fragment` as part of a root zone; strict about names and integrity. */
export function checkZoneFragment(fragment: string): ZoneCheck {
  const dir = mkdtempSync(join(tmpdir(), "zone-check-"));
  try {
    const file = join(dir, "root.zone");
    writeFileSync(file, `${ROOT_ZONE_HEAD}\n${fragment}`);
    // -k fail / -n fail: bad owner names and NS problems are errors, not warnings;
    // -D -o -: print the zone as loaded, in canonical form, to stdout.
    const result = spawnSync(
      NAMED_CHECKZONE,
      ["-k", "fail", "-n", "fail", "-D", "-o", "-", ".", file],
      { encoding: "utf8" },
    );
    const txt = new Map<string, string[]>();
    for (const line of result.stdout.split("\n")) {
      const match = /^(\S+)\s+\d+\s+IN\s+TXT\s+(.*)$/.exec(line);
      if (match?.[1] === undefined || match[2] === undefined) continue;
      txt.set(match[1].toLowerCase(), parseQuoted(match[2]));
    }
    return { ok: result.status === 0, output: `${result.stderr}${result.stdout}`.trim(), txt };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `"a" "b\"c"` -> ["a", "b\"c"]. */
function parseQuoted(text: string): string[] {
  return [...text.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((match) =>
    (match[1] ?? "").replace(/\\(.)/g, "$1"),
  );
}
