/**
 * DNS messages on the wire for RFC 2136 UPDATE and TXT queries, on dns-packet's codecs for
 * names, TXT data and records. The messages are assembled here rather than by
 * `dnsPacket.encode` because UPDATE needs class NONE (254), which dns-packet cannot encode,
 * and because TSIG (tsig.ts) signs the exact bytes and needs the offset of each record.
 */
import { createRequire } from "node:module";

// ---- the slice of dns-packet 5.6 used here (its published types omit the codecs) ----

interface Codec<T> {
  encode(value: T, buf?: Buffer, offset?: number): Buffer;
  decode(buf: Buffer, offset?: number): T;
  encodingLength(value: T): number;
}
interface Sized {
  encode: { bytes: number };
  decode: { bytes: number };
}
interface DecodedRecord {
  name: string;
  type: string;
  class: string;
  ttl: number;
  data: unknown;
}
interface DnsPacketSlice {
  name: Codec<string> & Sized;
  txt: Codec<Buffer[]> & Sized;
  question: Codec<{ name: string; type: string; class: string }> & Sized;
  answer: Codec<DecodedRecord> & Sized;
}

const dnsPacket = createRequire(import.meta.url)("dns-packet") as DnsPacketSlice;

export const TYPE = { TXT: 16, CNAME: 5, SOA: 6, TSIG: 250 } as const;
export const CLASS = { IN: 1, NONE: 254, ANY: 255 } as const;
const OPCODE_UPDATE = 5;

export const RCODE_NAMES: Readonly<Record<number, string>> = {
  0: "NOERROR",
  1: "FORMERR",
  2: "SERVFAIL",
  3: "NXDOMAIN",
  4: "NOTIMP",
  5: "REFUSED",
  6: "YXDOMAIN",
  7: "YXRRSET",
  8: "NXRRSET",
  9: "NOTAUTH",
  10: "NOTZONE",
};

export interface ResourceRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  rdata: Buffer;
}

/** A name in canonical wire form (RFC 4034 §6.2: lower case, uncompressed). */
export function encodeName(name: string): Buffer {
  return dnsPacket.name.encode(name.toLowerCase());
}

/** TXT RDATA: each string as a length byte and its octets (at most 255 each, split by the caller). */
export function txtRdata(strings: readonly string[]): Buffer {
  for (const string of strings) {
    if (Buffer.byteLength(string) > 255) {
      throw new RangeError("A TXT character-string holds at most 255 octets.");
    }
  }
  return dnsPacket.txt.encode(strings.map((string) => Buffer.from(string))).subarray(2);
}

export function encodeRecord(record: ResourceRecord): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(record.type, 0);
  fixed.writeUInt16BE(record.class, 2);
  fixed.writeUInt32BE(record.ttl, 4);
  fixed.writeUInt16BE(record.rdata.length, 8);
  return Buffer.concat([encodeName(record.name), fixed, record.rdata]);
}

function header(id: number, flags: number, counts: [number, number, number, number]): Buffer {
  const buf = Buffer.alloc(12);
  buf.writeUInt16BE(id, 0);
  buf.writeUInt16BE(flags, 2);
  counts.forEach((count, index) => {
    buf.writeUInt16BE(count, 4 + index * 2);
  });
  return buf;
}

function question(name: string, type: number, klass: number): Buffer {
  const fixed = Buffer.alloc(4);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(klass, 2);
  return Buffer.concat([encodeName(name), fixed]);
}

/** An RFC 2136 UPDATE: zone section, prerequisites, updates; no additional records (TSIG comes later). */
export function encodeUpdate(
  id: number,
  zone: string,
  prerequisites: readonly ResourceRecord[],
  updates: readonly ResourceRecord[],
): Buffer {
  return Buffer.concat([
    header(id, OPCODE_UPDATE << 11, [1, prerequisites.length, updates.length, 0]),
    question(zone, TYPE.SOA, CLASS.IN),
    ...prerequisites.map(encodeRecord),
    ...updates.map(encodeRecord),
  ]);
}

/** A non-recursive query (RD clear: the server must answer from its own zones). */
export function encodeQuery(id: number, name: string, type: number): Buffer {
  return Buffer.concat([header(id, 0, [1, 0, 0, 0]), question(name, type, CLASS.IN)]);
}

export interface DecodedAnswerRecord {
  name: string;
  type: number;
  /** For TXT: its character-strings in order. */
  strings?: string[];
  /** For CNAME: the target. */
  target?: string;
}

export interface DecodedMessage {
  id: number;
  isResponse: boolean;
  opcode: number;
  authoritative: boolean;
  truncated: boolean;
  rcode: number;
  answers: DecodedAnswerRecord[];
  /** The last additional record, when it is a TSIG, with where it starts in the message. */
  tsig?: { offset: number; record: TsigRecord };
}

export interface TsigRecord {
  keyName: string;
  algorithm: string;
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  otherData: Buffer;
}

const TYPE_NUMBERS: Readonly<Record<string, number>> = { TXT: TYPE.TXT, CNAME: TYPE.CNAME };

/** Reads a response; throws (any Error) on a malformed message. */
export function decodeMessage(buf: Buffer): DecodedMessage {
  if (buf.length < 12) throw new Error("message shorter than its header");
  const flags = buf.readUInt16BE(2);
  const counts = [4, 6, 8, 10].map((at) => buf.readUInt16BE(at));
  const [qdCount = 0, anCount = 0, nsCount = 0, arCount = 0] = counts;
  let offset = 12;
  for (let i = 0; i < qdCount; i += 1) {
    dnsPacket.question.decode(buf, offset);
    offset += dnsPacket.question.decode.bytes;
  }
  const answers: DecodedAnswerRecord[] = [];
  for (let i = 0; i < anCount; i += 1) {
    const record = dnsPacket.answer.decode(buf, offset);
    offset += dnsPacket.answer.decode.bytes;
    const type = TYPE_NUMBERS[record.type] ?? 0;
    const strings = Array.isArray(record.data)
      ? record.data.map((part: unknown) => (Buffer.isBuffer(part) ? part.toString("utf8") : ""))
      : undefined;
    answers.push({
      name: record.name.toLowerCase(),
      type,
      ...(type === TYPE.TXT && strings !== undefined ? { strings } : {}),
      ...(type === TYPE.CNAME && typeof record.data === "string" ? { target: record.data } : {}),
    });
  }
  for (let i = 0; i < nsCount; i += 1) {
    dnsPacket.answer.decode(buf, offset);
    offset += dnsPacket.answer.decode.bytes;
  }
  let tsig: DecodedMessage["tsig"];
  for (let i = 0; i < arCount; i += 1) {
    const start = offset;
    const record = dnsPacket.answer.decode(buf, offset);
    offset += dnsPacket.answer.decode.bytes;
    if (record.type === "TSIG") {
      if (i !== arCount - 1) throw new Error("TSIG is not the last record");
      tsig = { offset: start, record: decodeTsig(buf, start) };
    }
  }
  if (offset !== buf.length) throw new Error("trailing bytes after the last record");
  return {
    id: buf.readUInt16BE(0),
    isResponse: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    authoritative: (flags & 0x0400) !== 0,
    truncated: (flags & 0x0200) !== 0,
    rcode: flags & 0xf,
    answers,
    ...(tsig === undefined ? {} : { tsig }),
  };
}

function decodeTsig(buf: Buffer, start: number): TsigRecord {
  let offset = start;
  const keyName = dnsPacket.name.decode(buf, offset);
  offset += dnsPacket.name.decode.bytes + 10; // type, class, TTL, RDLENGTH
  const algorithm = dnsPacket.name.decode(buf, offset);
  offset += dnsPacket.name.decode.bytes;
  const timeSigned = buf.readUIntBE(offset, 6);
  const fudge = buf.readUInt16BE(offset + 6);
  const macSize = buf.readUInt16BE(offset + 8);
  offset += 10;
  const mac = Buffer.from(buf.subarray(offset, offset + macSize));
  offset += macSize;
  const originalId = buf.readUInt16BE(offset);
  const error = buf.readUInt16BE(offset + 2);
  const otherLength = buf.readUInt16BE(offset + 4);
  const otherData = Buffer.from(buf.subarray(offset + 6, offset + 6 + otherLength));
  if (mac.length !== macSize || otherData.length !== otherLength) {
    throw new Error("TSIG record cut short");
  }
  return {
    keyName: canonical(keyName),
    algorithm: canonical(algorithm),
    timeSigned,
    fudge,
    mac,
    originalId,
    error,
    otherData,
  };
}

/** Lower case with the trailing dot, as names are compared here. */
export function canonical(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith(".") ? lower : `${lower}.`;
}
