/**
 * A real DNS server on 127.0.0.1 (UDP, ephemeral port) for tests: the DKIM lookup, the record
 * diagnosis, the CLI check and the DNS watcher all talk to it through Node's own resolver,
 * exactly as they talk to a production resolver.
 *
 *   const dns = await startDnsServer();
 *   dns.setTxt("s1._domainkey.example.com", ["v=DKIM1; k=rsa; p=MIIB...", "...rest"]);
 *   const lookup = createTxtLookup({ servers: [dns.address] }); // or DKIM_DNS_SERVERS=dns.address
 *   ...
 *   await dns.close();
 *
 * What it answers:
 * - a name with TXT records: every record, each with its character-strings exactly as given;
 * - a CNAME: only the CNAME (as an authoritative server whose zone does not hold the target,
 *   the delegated-DKIM case), or the whole chain plus the target's records with
 *   `{ followCnames: true }` (as a recursive resolver does);
 * - a name that exists without records of the asked type (other records, or an empty
 *   non-terminal such as `_domainkey.example.com`): NOERROR with no answers (Node: ENODATA);
 * - any other name: NXDOMAIN (Node: ENOTFOUND);
 * - `setBehaviour(name, ...)`: SERVFAIL, REFUSED, or no reply at all (Node: ETIMEOUT).
 * Names are matched case-insensitively, with or without a trailing dot. TTLs are 0 so no
 * resolver cache can hide a change a test makes between two lookups.
 *
 * Built on dns2 2.1.0 (its TXT encoder writes an array of strings as separate
 * character-strings, which a 2048-bit DKIM record needs).
 */
import type { EventEmitter } from "node:events";
import { createRequire } from "node:module";

export type DnsBehaviour = "normal" | "servfail" | "refused" | "no-answer";

/** One TXT record: a single string, or its character-strings in order (each <= 255 bytes). */
export type TxtRecordInput = string | readonly string[];

export interface DnsServerOptions {
  /** Answer a CNAME with the whole chain and the target's records, as a recursive resolver does. */
  followCnames?: boolean;
}

export interface DnsQueryLogEntry {
  /** The name as asked, lowercased, without a trailing dot. */
  name: string;
  /** "TXT", "CNAME", "A", ... or the numeric type. */
  type: string;
}

export interface DnsTestServer {
  /** `127.0.0.1:<port>`: pass it as a resolver (`servers: [address]`, DKIM_DNS_SERVERS, --dns-server). */
  readonly address: string;
  readonly port: number;
  /** Replaces the TXT records at `name`; with no records, removes them (the name stays if it has others). */
  setTxt(name: string, ...records: TxtRecordInput[]): void;
  /** Makes `name` a CNAME to `target` (replacing any other records at `name`). */
  setCname(name: string, target: string): void;
  /** Gives `name` A records: "other records but no TXT". */
  setA(name: string, ...addresses: string[]): void;
  /** How the server treats queries for `name` (whatever records it has); "normal" undoes it. */
  setBehaviour(name: string, behaviour: DnsBehaviour): void;
  /** Forgets everything about `name` (records and behaviour): it answers NXDOMAIN again. */
  remove(name: string): void;
  /** Forgets every name and the query log. */
  clear(): void;
  /** Queries received so far, oldest first (e.g. to see that a watcher polled). */
  queries(): readonly DnsQueryLogEntry[];
  close(): Promise<void>;
}

// ---- the slice of dns2 used here (the package ships no type declarations) ----

interface Dns2Question {
  name: string;
  type: number;
}

interface Dns2Answer {
  name: string;
  type: number;
  class: number;
  ttl: number;
  data?: string[];
  domain?: string;
  address?: string;
}

interface Dns2Packet {
  header: { rcode: number; aa: number; ra: number };
  questions: Dns2Question[];
  answers: Dns2Answer[];
}

interface Dns2Server extends EventEmitter {
  listen(options: {
    udp: { port: number; address: string; type: "udp4" };
  }): Promise<{ udp?: { port: number } }>;
  close(): Promise<void>;
}

interface Dns2Module {
  Packet: {
    TYPE: Record<string, number>;
    CLASS: { IN: number };
    createResponseFromRequest(request: Dns2Packet): Dns2Packet;
  };
  createServer(options: {
    udp: true;
    handle: (request: Dns2Packet, send: (response: Dns2Packet) => Promise<unknown>) => void;
  }): Dns2Server;
}

// dns2 is CommonJS without types: load it through require and describe what we use.
const dns2 = createRequire(import.meta.url)("dns2") as Dns2Module;
const { Packet } = dns2;

const TYPE_A = 1;
const TYPE_CNAME = 5;
const TYPE_TXT = 16;
const RCODE_FORMERR = 1;
const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;
const RCODE_REFUSED = 5;
const MAX_CHAIN = 8;
const MAX_CHARACTER_STRING = 255;

interface ZoneEntry {
  txt: string[][];
  a: string[];
  cname?: string;
  behaviour: DnsBehaviour;
}

function canonical(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

function typeName(type: number): string {
  const entry = Object.entries(Packet.TYPE).find(([, value]) => value === type);
  return entry ? entry[0] : String(type);
}

export async function startDnsServer(options: DnsServerOptions = {}): Promise<DnsTestServer> {
  const zone = new Map<string, ZoneEntry>();
  const log: DnsQueryLogEntry[] = [];

  const entry = (name: string): ZoneEntry => {
    const key = canonical(name);
    let found = zone.get(key);
    if (!found) {
      found = { txt: [], a: [], behaviour: "normal" };
      zone.set(key, found);
    }
    return found;
  };

  const hasData = (e: ZoneEntry | undefined): boolean =>
    e !== undefined && (e.txt.length > 0 || e.a.length > 0 || e.cname !== undefined);

  // A name exists if it holds records or is an ancestor of one that does (empty non-terminal).
  const exists = (name: string): boolean => {
    if (hasData(zone.get(name))) return true;
    for (const [key, e] of zone) {
      if (key.endsWith(`.${name}`) && hasData(e)) return true;
    }
    return false;
  };

  const answer = (response: Dns2Packet, askedName: string, qtype: number): void => {
    let owner = askedName;
    let name = canonical(askedName);
    for (let hops = 0; hops <= MAX_CHAIN; hops++) {
      const e = zone.get(name);
      if (e?.cname !== undefined && qtype !== TYPE_CNAME) {
        response.answers.push({
          name: owner,
          type: TYPE_CNAME,
          class: Packet.CLASS.IN,
          ttl: 0,
          domain: e.cname,
        });
        if (!options.followCnames) return;
        owner = e.cname;
        name = canonical(e.cname);
        continue;
      }
      if (!exists(name)) {
        response.header.rcode = RCODE_NXDOMAIN;
        return;
      }
      if (!e) return;
      if (qtype === TYPE_TXT) {
        for (const data of e.txt) {
          response.answers.push({
            name: owner,
            type: TYPE_TXT,
            class: Packet.CLASS.IN,
            ttl: 0,
            data,
          });
        }
      } else if (qtype === TYPE_A) {
        for (const address of e.a) {
          response.answers.push({
            name: owner,
            type: TYPE_A,
            class: Packet.CLASS.IN,
            ttl: 0,
            address,
          });
        }
      } else if (qtype === TYPE_CNAME && e.cname !== undefined) {
        response.answers.push({
          name: owner,
          type: TYPE_CNAME,
          class: Packet.CLASS.IN,
          ttl: 0,
          domain: e.cname,
        });
      }
      return;
    }
  };

  const server = dns2.createServer({
    udp: true,
    handle: (request, send) => {
      const response = Packet.createResponseFromRequest(request);
      response.header.aa = 1;
      response.header.ra = 1;
      const question = request.questions[0];
      if (!question) {
        response.header.rcode = RCODE_FORMERR;
      } else {
        const name = canonical(question.name);
        log.push({ name, type: typeName(question.type) });
        const behaviour = zone.get(name)?.behaviour ?? "normal";
        if (behaviour === "no-answer") return;
        if (behaviour === "servfail") response.header.rcode = RCODE_SERVFAIL;
        else if (behaviour === "refused") response.header.rcode = RCODE_REFUSED;
        else answer(response, question.name, question.type);
      }
      // The client may have given up and the socket may be closing: nothing to report then.
      send(response).catch(() => undefined);
    },
  });
  // Without a listener an 'error' event would crash the test process.
  server.on("error", () => undefined);
  server.on("requestError", () => undefined);

  const addresses = await server.listen({ udp: { port: 0, address: "127.0.0.1", type: "udp4" } });
  const port = addresses.udp?.port;
  if (port === undefined) throw new Error("dns2 did not report the UDP port it listens on");

  return {
    address: `127.0.0.1:${port}`,
    port,
    setTxt(name, ...records) {
      const txt = records.map((record) => (typeof record === "string" ? [record] : [...record]));
      for (const strings of txt) {
        for (const s of strings) {
          if (Buffer.byteLength(s) > MAX_CHARACTER_STRING) {
            throw new Error(
              `TXT character-string of ${Buffer.byteLength(s)} bytes at ${name}: DNS allows at most 255; split it`,
            );
          }
        }
      }
      const e = entry(name);
      e.txt = txt;
      delete e.cname;
    },
    setCname(name, target) {
      const e = entry(name);
      e.txt = [];
      e.a = [];
      e.cname = target;
    },
    setA(name, ...addresses) {
      const e = entry(name);
      e.a = [...addresses];
      delete e.cname;
    },
    setBehaviour(name, behaviour) {
      entry(name).behaviour = behaviour;
    },
    remove(name) {
      zone.delete(canonical(name));
    },
    clear() {
      zone.clear();
      log.length = 0;
    },
    queries() {
      return [...log];
    },
    close() {
      return server.close();
    },
  };
}
