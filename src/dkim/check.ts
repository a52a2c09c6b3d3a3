import type { TxtLookup, TxtLookupResult } from "./dns.js";
import { checkedDkimRecordName, type DoubledZoneName, doubledZoneNames } from "./names.js";
import { diagnoseRecords } from "./record.js";
import type { DkimCheckResult, ExpectedKey } from "./verdict.js";

export type {
  DkimCheckProblem,
  DkimCheckResult,
  DkimCheckStatus,
  ExpectedKey,
} from "./verdict.js";

/** Live and (when a key was expected) matching: what DKIM_REQUIRE_DNS asks before an apply. */
export function isLiveAndMatching(result: DkimCheckResult): boolean {
  return result.status === "live" && result.matches !== false;
}

/**
 * Looks up `<selector>._domainkey.<domain>` and says whether the record there is live (and
 * matches `expected`). Domain and selector must already be normalised (names.ts).
 */
export async function checkDkimRecord(
  lookup: TxtLookup,
  domain: string,
  selector: string,
  expected?: ExpectedKey,
): Promise<DkimCheckResult> {
  const name = checkedDkimRecordName(selector, domain);
  const found = await lookup(name);
  const cname = found.cnameTarget === undefined ? {} : { cnameTarget: found.cnameTarget };
  if (found.kind === "found" || found.kind === "nxdomain" || found.kind === "no-txt") {
    const records = found.kind === "found" ? found.records : [];
    const diagnosis = diagnoseRecords(records, expected);
    if (diagnosis.status === "missing") {
      const doubled = await findDoubledZone(lookup, selector, domain, expected);
      if (doubled !== undefined) {
        return { name, ...doubledZoneVerdict(name, doubled), published: records, ...cname };
      }
    }
    return {
      name,
      status: diagnosis.status,
      matches: diagnosis.matches,
      problems: diagnosis.problems,
      published: records,
      ...cname,
      summary: diagnosis.summary,
    };
  }
  const message = lookupFailureMessage(found);
  return {
    name,
    status: "lookup-failed",
    matches: null,
    problems: [{ code: `dns-${found.kind}`, severity: "error", message }],
    published: [],
    ...cname,
    summary: message,
  };
}

/**
 * Where a missing record was published instead, when its name was typed whole into a panel
 * that appends the zone. Only a DKIM record there counts; a failed lookup says nothing.
 */
async function findDoubledZone(
  lookup: TxtLookup,
  selector: string,
  domain: string,
  expected: ExpectedKey | undefined,
): Promise<(DoubledZoneName & { matches: boolean | null }) | undefined> {
  const candidates = doubledZoneNames(selector, domain);
  const results = await Promise.all(candidates.map((candidate) => lookup(candidate.name)));
  for (const [index, result] of results.entries()) {
    const candidate = candidates[index];
    if (candidate === undefined || result.kind !== "found") continue;
    const diagnosis = diagnoseRecords(result.records, expected);
    if (diagnosis.status !== "missing") return { ...candidate, matches: diagnosis.matches };
  }
  return undefined;
}

function doubledZoneVerdict(
  name: string,
  doubled: DoubledZoneName & { matches: boolean | null },
): Pick<DkimCheckResult, "status" | "matches" | "problems" | "summary"> {
  const otherKey = doubled.matches === false ? " (and it holds a different key)" : "";
  return {
    status: "wrong",
    matches: doubled.matches,
    problems: [
      {
        code: "doubled-zone",
        severity: "error",
        message: `The record is published at ${doubled.name}${otherKey}, not at ${name}: the DNS panel adds ${doubled.zone} to the name itself. Type only ${doubled.relativeName} as the name, then check again.`,
      },
    ],
    summary: `Published with the zone twice: type only ${doubled.relativeName} as the name.`,
  };
}

function lookupFailureMessage(result: Exclude<TxtLookupResult, { kind: "found" }>): string {
  switch (result.kind) {
    case "timeout":
      return "The DNS lookup timed out: the resolvers did not answer. Check again later; if it persists, check DKIM_DNS_SERVERS.";
    case "servfail":
      return "The DNS server failed to answer (SERVFAIL): often a broken DNSSEC signature or an unreachable name server for the domain. Check the zone, then check again.";
    case "refused":
      return "The DNS server refused the query (REFUSED): the resolver does not serve us. Check DKIM_DNS_SERVERS.";
    default:
      return `The DNS lookup failed${result.detail === undefined ? "" : ` (${result.detail})`}. Check again later.`;
  }
}
