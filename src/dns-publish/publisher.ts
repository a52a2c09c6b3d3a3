/**
 * The DNS publisher the request flows call, and the one rule it enforces for every provider:
 * never touch a record the bot did not write. Before any write the name must be empty or hold
 * exactly the value the caller says is its own; anything else (another TXT value, several TXT
 * records, a CNAME) is reported as "foreign-record" and left alone. The providers (rfc2136.ts,
 * powerdns.ts) only read a name and carry out the three writes; how atomic the check is
 * depends on the provider, and each says so.
 */
import { splitIntoStrings } from "../dkim/record.js";
import { DnsPublishError } from "./errors.js";
import { createZoneMatcher, normaliseRecordName } from "./zones.js";

/** TTL of the records the bot writes: short, so a fix or a rotation shows soon. */
export const DEFAULT_RECORD_TTL = 300;
/** Per exchange with the DNS server or the API. */
export const DEFAULT_TIMEOUT_MS = 10_000;

export type Provider = "rfc2136" | "powerdns";

export interface DnsRecord {
  /** The full record name, e.g. s202611._domainkey.example.com (a trailing dot is allowed). */
  name: string;
  /** The TXT value as verifiers see it (strings joined), e.g. "v=DKIM1; k=rsa; p=MIIB...". */
  value: string;
}

export interface DnsPublisher {
  readonly provider: Provider;
  /** The managed zone (longest match of DKIM_DNS_PUBLISH_ZONES) holding `recordName`; undefined: publish by hand. */
  zoneFor(recordName: string): string | undefined;
  /** The TXT values at the name as the authoritative server holds them, each its strings joined. */
  read(recordName: string): Promise<string[]>;
  /**
   * Publishes `value` at `name`, split into strings of at most 255 octets. "already-published"
   * when the name holds exactly this value; throws foreign-record when it holds anything else.
   */
  publish(record: DnsRecord): Promise<"published" | "already-published">;
  /** Removes the TXT at `name` if it holds exactly `value`; "absent" if nothing is there; anything else: foreign-record. */
  remove(record: DnsRecord): Promise<"removed" | "absent">;
  /**
   * Replaces `value` by `revokedValue` (e.g. "v=DKIM1; k=rsa; p="). "already-revoked" when the
   * name holds exactly the revoked value, "absent" when it holds nothing; anything else: foreign-record.
   */
  revoke(
    record: DnsRecord & { revokedValue: string },
  ): Promise<"revoked" | "already-revoked" | "absent">;
  /** Releases connections; the publisher is not used afterwards. */
  close(): Promise<void>;
}

/** What a name holds at the authoritative server, as far as the rule cares. */
export interface NameContents {
  /** Each TXT record as its character-strings, in the order the server gave them. */
  txt: string[][];
  /** Set when the name is a CNAME (no TXT can be added there; it is someone else's delegation). */
  cname?: string;
}

/** Whether a write happened, or the name changed between the read and the write (then it is read again). */
export type WriteOutcome = "written" | "changed-meanwhile";

/**
 * A provider's primitive operations. Each write is given what the read saw (`seen`), so a
 * provider that can make the write conditional on it (RFC 2136 prerequisites) does.
 */
export interface ZoneWriter {
  read(zone: string, name: string): Promise<NameContents>;
  /** Adds the TXT record; `seen` held nothing. */
  create(zone: string, name: string, strings: string[]): Promise<WriteOutcome>;
  /** Deletes the TXT RRset; `seen` held exactly the caller's value. */
  delete(zone: string, name: string, seen: NameContents): Promise<WriteOutcome>;
  /** Replaces the TXT RRset by one record; `seen` held exactly the caller's value. */
  replace(zone: string, name: string, seen: NameContents, strings: string[]): Promise<WriteOutcome>;
  close(): Promise<void>;
}

const joined = (contents: NameContents): string[] =>
  contents.txt.map((strings) => strings.join(""));

const isEmpty = (contents: NameContents): boolean =>
  contents.cname === undefined && contents.txt.length === 0;

function holdsExactly(contents: NameContents, value: string): boolean {
  const values = joined(contents);
  return contents.cname === undefined && values.length === 1 && values[0] === value;
}

const MAX_SHOWN = 48;

/** What stands at the name, for the sentence (public DNS data, shortened). */
function describe(contents: NameContents): string {
  if (contents.cname !== undefined) return `a CNAME to ${contents.cname}`;
  const values = joined(contents);
  if (values.length > 1) return `${values.length} TXT records`;
  const value = values[0] ?? "";
  const shown = value.length > MAX_SHOWN ? `${value.slice(0, MAX_SHOWN - 1)}…` : value;
  return `another TXT record (${JSON.stringify(shown)})`;
}

export function createPublisher(
  provider: Provider,
  zones: readonly string[],
  writer: ZoneWriter,
): DnsPublisher {
  const matcher = createZoneMatcher(zones);

  function target(recordName: string): { zone: string; name: string } {
    const name = normaliseRecordName(recordName);
    const zone = matcher.zoneFor(name);
    if (zone === undefined) {
      throw new DnsPublishError({
        reason: "not-zone",
        provider,
        recordName: name,
        happened: `${name} is in none of the zones the bot may write (DKIM_DNS_PUBLISH_ZONES: ${matcher.zones.join(", ")})`,
        fix: "publish this record by hand, or add its zone to DKIM_DNS_PUBLISH_ZONES",
      });
    }
    return { zone, name };
  }

  function foreign(
    name: string,
    contents: NameContents,
    action: "publish" | "change",
  ): DnsPublishError {
    return new DnsPublishError({
      reason: "foreign-record",
      provider,
      recordName: name,
      happened:
        action === "publish"
          ? `${name} already holds ${describe(contents)} that the bot did not write, so the bot left it alone`
          : `${name} holds ${describe(contents)}, not this key's record, so the bot left it alone`,
      fix:
        action === "publish"
          ? "remove that record if it is stale, or use another selector, or publish by hand"
          : "check who changed it, and remove or revoke the record by hand if this key is retired",
    });
  }

  return {
    provider,
    zoneFor: (recordName) => matcher.zoneFor(recordName),

    async read(recordName) {
      const { zone, name } = target(recordName);
      return joined(await writer.read(zone, name));
    },

    async publish({ name: recordName, value }) {
      const { zone, name } = target(recordName);
      const strings = splitIntoStrings(value);
      const seen = await writer.read(zone, name);
      if (holdsExactly(seen, value)) return "already-published";
      if (!isEmpty(seen)) throw foreign(name, seen, "publish");
      if ((await writer.create(zone, name, strings)) === "written") return "published";
      const now = await writer.read(zone, name);
      if (holdsExactly(now, value)) return "already-published";
      throw foreign(name, now, "publish");
    },

    async remove({ name: recordName, value }) {
      const { zone, name } = target(recordName);
      const seen = await writer.read(zone, name);
      if (isEmpty(seen)) return "absent";
      if (!holdsExactly(seen, value)) throw foreign(name, seen, "change");
      if ((await writer.delete(zone, name, seen)) === "written") return "removed";
      const now = await writer.read(zone, name);
      if (isEmpty(now)) return "absent";
      throw foreign(name, now, "change");
    },

    async revoke({ name: recordName, value, revokedValue }) {
      const { zone, name } = target(recordName);
      const strings = splitIntoStrings(revokedValue);
      const seen = await writer.read(zone, name);
      if (holdsExactly(seen, revokedValue)) return "already-revoked";
      if (isEmpty(seen)) return "absent";
      if (!holdsExactly(seen, value)) throw foreign(name, seen, "change");
      if ((await writer.replace(zone, name, seen, strings)) === "written") return "revoked";
      const now = await writer.read(zone, name);
      if (holdsExactly(now, revokedValue)) return "already-revoked";
      if (isEmpty(now)) return "absent";
      throw foreign(name, now, "change");
    },

    close: () => writer.close(),
  };
}
