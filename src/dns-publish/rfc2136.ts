/**
 * Publishing by RFC 2136 dynamic UPDATE, signed with TSIG (tsig.ts), to the zone's primary
 * (BIND, Knot, PowerDNS with dnsupdate=yes) over TCP. Reads go to the same server, signed too,
 * so what the bot decides on is what the authoritative server holds, not a cache.
 *
 * The rule "never touch a record the bot did not write" is enforced by the server, atomically,
 * with prerequisites (RFC 2136 §2.4): an add is conditional on "no TXT RRset and no CNAME at
 * the name", a delete or replace on "the TXT RRset is exactly what the read saw" (which was
 * exactly our value). If someone writes the name in between, the server answers YXRRSET or
 * NXRRSET, changes nothing, and the name is read again.
 */
import { randomInt } from "node:crypto";
import { networkCodeOf } from "../net/network-code.js";
import { DnsPublishError, type DnsPublishReason } from "./errors.js";
import {
  createPublisher,
  DEFAULT_RECORD_TTL,
  DEFAULT_TIMEOUT_MS,
  type DnsPublisher,
  type NameContents,
  type WriteOutcome,
  type ZoneWriter,
} from "./publisher.js";
import { DEFAULT_RETRY, type RetryPolicy, withRetries } from "./retry.js";
import type { Rfc2136Settings } from "./settings.js";
import { exchangeOverTcp } from "./tcp-exchange.js";
import { signMessage, verifyResponse } from "./tsig.js";
import {
  CLASS,
  type DecodedMessage,
  decodeMessage,
  encodeQuery,
  encodeUpdate,
  RCODE_NAMES,
  type ResourceRecord,
  TYPE,
  txtRdata,
} from "./wire.js";

export interface Rfc2136Options {
  /** Per exchange (connect, send, answer). */
  timeoutMs?: number;
  retry?: RetryPolicy;
  /** TTL of the records the bot writes. */
  ttl?: number;
  /** The clock, in milliseconds (TSIG time signed and the check of the answer's). */
  now?: () => number;
}

export type UpdateOutcome = "done" | "prerequisite-failed";

/** The protocol layer under the publisher: one signed query, one signed update. */
export interface Rfc2136Client {
  query(name: string): Promise<NameContents>;
  update(
    zone: string,
    prerequisites: ResourceRecord[],
    updates: ResourceRecord[],
    recordName: string,
  ): Promise<UpdateOutcome>;
}

type Operation = { kind: "query"; name: string } | { kind: "update"; zone: string; name: string };

export function createRfc2136Client(
  settings: Rfc2136Settings,
  options: Rfc2136Options = {},
): Rfc2136Client {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const retry = options.retry ?? DEFAULT_RETRY;
  const now = options.now ?? Date.now;
  const { tsig: key, server } = settings;
  const serverText = `${server.host.includes(":") ? `[${server.host}]` : server.host}:${server.port}`;

  const fail = (
    reason: DnsPublishReason,
    operation: Operation,
    happened: string,
    fix: string,
  ): DnsPublishError =>
    new DnsPublishError({ reason, provider: "rfc2136", recordName: operation.name, happened, fix });

  /** One signed exchange; the answer is returned only when its TSIG is valid (or it is an error the server refused to sign). */
  async function exchange(message: Buffer, operation: Operation): Promise<DecodedMessage> {
    const signed = signMessage(message, key, { timeSigned: Math.floor(now() / 1000) });
    let wire: Buffer;
    try {
      wire = await exchangeOverTcp(server, signed.wire, timeoutMs);
    } catch (error) {
      const code = networkCodeOf(error);
      if (code === "TIMEOUT") {
        throw fail(
          "timeout",
          operation,
          `The DNS server ${serverText} did not answer within ${timeoutMs} ms`,
          "check that it is up and accepts TCP from the bot on that port, then retry",
        );
      }
      throw fail(
        "network",
        operation,
        `The bot could not reach the DNS server ${serverText} over TCP (${code})`,
        "check DKIM_DNS_PUBLISH_SERVER and that the server accepts TCP from the bot on that port, then retry",
      );
    }
    let decoded: DecodedMessage;
    try {
      decoded = decodeMessage(wire);
    } catch {
      throw badAnswer(operation, "an unreadable message");
    }
    const expectedOpcode = operation.kind === "update" ? 5 : 0;
    if (
      !decoded.isResponse ||
      decoded.id !== message.readUInt16BE(0) ||
      decoded.opcode !== expectedOpcode
    ) {
      throw badAnswer(operation, "a message that is not the answer to the bot's request");
    }
    const verdict = verifyResponse(wire, decoded, key, signed.mac, Math.floor(now() / 1000));
    if (verdict.ok) return decoded;
    if (verdict.problem === "refused-by-server")
      throw tsigRefused(operation, verdict.tsigError, verdict.fudge);
    // An unsigned error answer changes nothing and is only reported; an answer the bot would
    // act on (NOERROR, or a prerequisite verdict) must be signed by the server.
    if (verdict.problem === "unsigned" && isPlainError(decoded.rcode)) return decoded;
    throw fail(
      "bad-answer",
      operation,
      `The DNS server ${serverText} answered without a valid TSIG signature (${verdict.detail}), so the bot did not trust the answer`,
      `check that the server holds the key ${key.name} with the same secret and algorithm, and that nothing between the bot and the server rewrites DNS`,
    );
  }

  function badAnswer(operation: Operation, what: string): DnsPublishError {
    return fail(
      "bad-answer",
      operation,
      `The DNS server ${serverText} sent ${what}`,
      "check that DKIM_DNS_PUBLISH_SERVER is the zone's primary DNS server (IP and port)",
    );
  }

  function tsigRefused(operation: Operation, tsigError: string, fudge: number): DnsPublishError {
    const variables =
      "DKIM_DNS_PUBLISH_TSIG_NAME, DKIM_DNS_PUBLISH_TSIG_SECRET and DKIM_DNS_PUBLISH_TSIG_ALGORITHM";
    switch (tsigError) {
      case "BADKEY":
        return fail(
          "tsig-refused",
          operation,
          `The DNS server ${serverText} does not know the TSIG key ${key.name} with algorithm ${key.algorithm} (BADKEY)`,
          `check DKIM_DNS_PUBLISH_TSIG_NAME and DKIM_DNS_PUBLISH_TSIG_ALGORITHM against the key in the server's configuration`,
        );
      case "BADTIME":
        return fail(
          "tsig-refused",
          operation,
          `The DNS server ${serverText} refused the TSIG signature of key ${key.name} because the bot's clock and its clock differ by more than ${fudge} s (BADTIME)`,
          "synchronise both clocks (NTP), then retry",
        );
      case "BADSIG":
        return fail(
          "tsig-refused",
          operation,
          `The DNS server ${serverText} refused the TSIG signature of key ${key.name} (BADSIG)`,
          "check DKIM_DNS_PUBLISH_TSIG_SECRET and DKIM_DNS_PUBLISH_TSIG_ALGORITHM against the server's key",
        );
      default:
        return fail(
          "tsig-refused",
          operation,
          `The DNS server ${serverText} refused the TSIG signature of key ${key.name} (${tsigError})`,
          `check ${variables} against the server's key`,
        );
    }
  }

  /** The sentence for an rcode that is neither success nor a prerequisite verdict. */
  function rcodeError(rcode: number, operation: Operation): DnsPublishError {
    const name = RCODE_NAMES[rcode] ?? `RCODE ${rcode}`;
    const zone = operation.kind === "update" ? operation.zone : undefined;
    switch (name) {
      case "SERVFAIL":
        return fail(
          "server-failure",
          operation,
          `The DNS server ${serverText} failed to ${zone === undefined ? `answer for ${operation.name}` : `update zone ${zone}`} (SERVFAIL)`,
          "check the server's log (is the zone loaded, its journal writable?), then retry",
        );
      case "NOTAUTH":
        return fail(
          "not-authoritative",
          operation,
          `The DNS server ${serverText} is not authoritative for ${zone === undefined ? operation.name : `zone ${zone}`} (NOTAUTH)`,
          "point DKIM_DNS_PUBLISH_SERVER at the zone's primary server, or remove the zone from DKIM_DNS_PUBLISH_ZONES",
        );
      case "NOTZONE":
        return fail(
          "not-zone",
          operation,
          `The DNS server ${serverText} says ${operation.name} is not in zone ${zone ?? "?"} (NOTZONE)`,
          "check DKIM_DNS_PUBLISH_ZONES: the server holds this name in another zone",
        );
      case "REFUSED":
        return zone === undefined
          ? fail(
              "not-authoritative",
              operation,
              `The DNS server ${serverText} refused to answer for ${operation.name} (REFUSED), so it does not serve that zone`,
              "point DKIM_DNS_PUBLISH_SERVER at the zone's primary server, or remove the zone from DKIM_DNS_PUBLISH_ZONES",
            )
          : fail(
              "refused",
              operation,
              `The DNS server ${serverText} refused to let key ${key.name} update ${operation.name} in zone ${zone} (REFUSED)`,
              `allow the key to write TXT at *._domainkey names of ${zone} (BIND update-policy, Knot acl, PowerDNS TSIG-ALLOW-DNSUPDATE: see the README, "DNS publishing")`,
            );
      default:
        return fail(
          "bad-answer",
          operation,
          `The DNS server ${serverText} answered the ${operation.kind} for ${operation.name} with ${name}`,
          "check the server's log for why, and that DKIM_DNS_PUBLISH_SERVER is the zone's primary",
        );
    }
  }

  return {
    query(name) {
      const operation: Operation = { kind: "query", name };
      return withRetries(retry, async () => {
        const answer = await exchange(encodeQuery(randomInt(0, 65536), name, TYPE.TXT), operation);
        if (answer.rcode !== 0 && answer.rcode !== 3) throw rcodeError(answer.rcode, operation);
        if (!answer.authoritative) {
          throw fail(
            "not-authoritative",
            operation,
            `The DNS server ${serverText} answered for ${name} without authority (no AA flag), so it is not the zone's primary`,
            "point DKIM_DNS_PUBLISH_SERVER at the zone's primary server",
          );
        }
        const atName = answer.answers.filter((record) => record.name === name);
        const cname = atName.find((record) => record.type === TYPE.CNAME);
        return {
          txt: atName.flatMap((record) => (record.strings === undefined ? [] : [record.strings])),
          ...(cname === undefined ? {} : { cname: cname.target ?? "another name" }),
        };
      });
    },

    update(zone, prerequisites, updates, recordName) {
      const operation: Operation = { kind: "update", zone, name: recordName };
      return withRetries(retry, async () => {
        const message = encodeUpdate(randomInt(0, 65536), zone, prerequisites, updates);
        const answer = await exchange(message, operation);
        if (answer.rcode === 0) return "done";
        // YXRRSET / NXRRSET: a prerequisite did not hold; nothing was changed.
        if (answer.rcode === 7 || answer.rcode === 8) return "prerequisite-failed";
        throw rcodeError(answer.rcode, operation);
      });
    },
  };
}

/** Error rcodes that are reported without being acted on (not success, not a prerequisite verdict). */
function isPlainError(rcode: number): boolean {
  return rcode !== 0 && rcode !== 7 && rcode !== 8;
}

const txtRecord = (
  name: string,
  klass: number,
  ttl: number,
  strings: readonly string[],
): ResourceRecord => ({
  name,
  type: TYPE.TXT,
  class: klass,
  ttl,
  rdata: txtRdata(strings),
});

/** RFC 2136 §2.4.3 "RRset does not exist" / §2.5.2 "delete an RRset": class NONE / ANY, no RDATA. */
const emptyRecord = (name: string, type: number, klass: number): ResourceRecord => ({
  name,
  type,
  class: klass,
  ttl: 0,
  rdata: Buffer.alloc(0),
});

/** §2.4.2 "RRset exists (value dependent)": the RRset must be exactly what the read saw. */
const exactly = (name: string, seen: NameContents): ResourceRecord[] =>
  seen.txt.map((strings) => txtRecord(name, CLASS.IN, 0, strings));

export function createRfc2136Writer(
  settings: Rfc2136Settings,
  options: Rfc2136Options = {},
): ZoneWriter {
  const client = createRfc2136Client(settings, options);
  const ttl = options.ttl ?? DEFAULT_RECORD_TTL;
  const outcome = (result: UpdateOutcome): WriteOutcome =>
    result === "done" ? "written" : "changed-meanwhile";
  return {
    read: (_zone, name) => client.query(name),
    async create(zone, name, strings) {
      const prerequisites = [
        emptyRecord(name, TYPE.TXT, CLASS.NONE),
        emptyRecord(name, TYPE.CNAME, CLASS.NONE),
      ];
      return outcome(
        await client.update(zone, prerequisites, [txtRecord(name, CLASS.IN, ttl, strings)], name),
      );
    },
    async delete(zone, name, seen) {
      return outcome(
        await client.update(
          zone,
          exactly(name, seen),
          [emptyRecord(name, TYPE.TXT, CLASS.ANY)],
          name,
        ),
      );
    },
    async replace(zone, name, seen, strings) {
      const updates = [
        emptyRecord(name, TYPE.TXT, CLASS.ANY),
        txtRecord(name, CLASS.IN, ttl, strings),
      ];
      return outcome(await client.update(zone, exactly(name, seen), updates, name));
    },
    // Each exchange has its own connection, closed when it ends.
    close: async () => {},
  };
}

export function createRfc2136Publisher(
  settings: Rfc2136Settings,
  options: Rfc2136Options = {},
): DnsPublisher {
  return createPublisher("rfc2136", settings.zones, createRfc2136Writer(settings, options));
}
