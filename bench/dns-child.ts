/**
 * A DNS server for the monitoring bench, in a process of its own (so answering 20,000 queries
 * a cycle costs the bench's event loop nothing): UDP on 127.0.0.1, built on dns-packet. It
 * answers TXT with the records it was given (NXDOMAIN for other names) and CNAME with NOERROR
 * and no answer (ENODATA) where the name exists, after `delayMs` (a resolver a little way
 * off, so lookups overlap and the bot's concurrency shows). It counts the queries it holds
 * (received, not yet answered): their peak is the bot's DNS concurrency, seen from outside.
 * In "silent" mode it answers nothing (a dead resolver).
 *
 * Messages (IPC):
 *   bench -> child  { type: "set", records: [name, strings | null][] }   (null removes)
 *                   { type: "mode", mode: "normal" | "silent" }
 *                   { type: "stats", id }   -> { type: "stats", id, ...DnsStats } and reset
 *   child -> bench  { type: "ready", port }
 *                   { type: "first-query" } the first query after each "stats"
 */
import { createSocket, type RemoteInfo } from "node:dgram";
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";

// dns-packet ships no type declarations: the slice used here.
interface Question {
  name: string;
  type: string;
  class?: string;
}
interface Packet {
  id?: number;
  type?: "query" | "response";
  flags?: number;
  questions?: Question[];
  answers?: Array<{ type: string; name: string; class: string; ttl: number; data: Buffer[] }>;
}
const dnsPacket = createRequire(import.meta.url)("dns-packet") as {
  encode(packet: Packet): Buffer;
  decode(buffer: Buffer): Packet;
};
const AUTHORITATIVE_ANSWER = 1 << 10;
const RCODE_NXDOMAIN = 3;

export interface DnsStats {
  received: number;
  answered: number;
  /** The most queries held (received, not yet answered) at once. */
  peakInFlight: number;
  /** The most keys with a query held at once: the bot's checks in flight. */
  peakKeys: number;
  /** Epoch milliseconds (performance.timeOrigin + now) of the first and last query, 0 if none. */
  firstAt: number;
  lastAt: number;
}

export type BenchToDns =
  | { type: "set"; records: Array<[string, string[] | null]> }
  | { type: "mode"; mode: "normal" | "silent" }
  | { type: "stats"; id: number };

export type DnsToBench =
  | { type: "ready"; port: number }
  | { type: "first-query" }
  | ({ type: "stats"; id: number } & DnsStats);

const delayMs = Number(process.env.BENCH_DNS_DELAY_MS ?? "2");
const zone = new Map<string, string[]>();
let silent = false;
let held = 0;
/** Queries held per key (the label after _domainkey: one check asks its record's name and, for
 * a missing record, the names with the zone typed twice). */
const heldByKey = new Map<string, number>();
let stats: DnsStats = {
  received: 0,
  answered: 0,
  peakInFlight: 0,
  peakKeys: 0,
  firstAt: 0,
  lastAt: 0,
};
const keyOf = (name: string): string => /_domainkey\.([^.]+)/.exec(name.toLowerCase())?.[1] ?? name;

const epochNow = (): number => performance.timeOrigin + performance.now();
const canonical = (name: string): string => name.toLowerCase().replace(/\.$/, "");
const send = (message: DnsToBench): void => {
  process.send?.(message);
};

const socket = createSocket("udp4");

async function answer(packet: Packet, from: RemoteInfo): Promise<void> {
  held += 1;
  if (held > stats.peakInFlight) stats.peakInFlight = held;
  const key = keyOf(packet.questions?.[0]?.name ?? "");
  heldByKey.set(key, (heldByKey.get(key) ?? 0) + 1);
  if (heldByKey.size > stats.peakKeys) stats.peakKeys = heldByKey.size;
  try {
    if (delayMs > 0) await sleep(delayMs);
    if (silent) return;
    const question = packet.questions?.[0];
    if (question === undefined) return;
    const records = zone.get(canonical(question.name));
    const answers: NonNullable<Packet["answers"]> =
      question.type === "TXT" && records !== undefined
        ? [
            {
              type: "TXT",
              name: question.name,
              class: "IN",
              ttl: 0,
              data: records.map((each) => Buffer.from(each)),
            },
          ]
        : [];
    const response = dnsPacket.encode({
      id: packet.id ?? 0,
      type: "response",
      flags: AUTHORITATIVE_ANSWER | (records === undefined ? RCODE_NXDOMAIN : 0),
      questions: packet.questions ?? [],
      answers,
    });
    socket.send(response, from.port, from.address);
    stats.answered += 1;
  } finally {
    held -= 1;
    const left = (heldByKey.get(key) ?? 1) - 1;
    if (left === 0) heldByKey.delete(key);
    else heldByKey.set(key, left);
  }
}

socket.on("message", (message, from) => {
  let packet: Packet;
  try {
    packet = dnsPacket.decode(message);
  } catch {
    return;
  }
  stats.received += 1;
  const now = epochNow();
  if (stats.firstAt === 0) {
    stats.firstAt = now;
    send({ type: "first-query" });
  }
  stats.lastAt = now;
  void answer(packet, from);
});

process.on("message", (message: BenchToDns) => {
  switch (message.type) {
    case "set":
      for (const [name, strings] of message.records) {
        if (strings === null) zone.delete(canonical(name));
        else zone.set(canonical(name), strings);
      }
      return;
    case "mode":
      silent = message.mode === "silent";
      return;
    case "stats":
      send({ type: "stats", id: message.id, ...stats });
      stats = {
        received: 0,
        answered: 0,
        peakInFlight: held,
        peakKeys: heldByKey.size,
        firstAt: 0,
        lastAt: 0,
      };
      return;
  }
});
process.on("disconnect", () => {
  socket.close();
  process.exit(0);
});

socket.bind(0, "127.0.0.1", () => {
  send({ type: "ready", port: socket.address().port });
});
