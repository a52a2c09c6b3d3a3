import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  buildRecordValue,
  quoteStrings,
  recordValueFromText,
  splitIntoStrings,
} from "../../src/dkim/record.js";
import { decodeMessage, encodeRecord, TYPE, txtRdata } from "../../src/dns-publish/wire.js";

function recordValueOfBits(bits: number): string {
  const { publicKey } = generateKeyPairSync("rsa", { modulusLength: bits });
  return buildRecordValue(publicKey.export({ type: "spki", format: "der" }).toString("base64"));
}

describe("TXT strings on the wire", () => {
  const value4096 = recordValueOfBits(4096);

  it("splits a 4096-bit record into strings of at most 255 octets, each with its length byte", () => {
    const strings = splitIntoStrings(value4096);
    expect(strings.length).toBeGreaterThanOrEqual(4);
    const rdata = txtRdata(strings);
    const read: string[] = [];
    for (let at = 0; at < rdata.length; ) {
      const length = rdata[at] ?? 0;
      expect(length).toBeLessThanOrEqual(255);
      read.push(rdata.subarray(at + 1, at + 1 + length).toString());
      at += 1 + length;
    }
    expect(read).toEqual(strings);
    expect(read.join("")).toBe(value4096);
  });

  it("refuses a string longer than 255 octets rather than corrupting the record", () => {
    expect(() => txtRdata(["x".repeat(256)])).toThrow(/at most 255/);
  });

  it("decodes the strings of a TXT answer back in order", () => {
    const strings = splitIntoStrings(value4096);
    const answer = Buffer.concat([
      Buffer.from("000184000000000100000000", "hex"),
      encodeRecord({
        name: "s1._domainkey.example.test",
        type: TYPE.TXT,
        class: 1,
        ttl: 300,
        rdata: txtRdata(strings),
      }),
    ]);
    expect(decodeMessage(answer).answers).toEqual([
      { name: "s1._domainkey.example.test", type: TYPE.TXT, strings },
    ]);
  });

  it("quotes the strings for PowerDNS so that they read back as the same value", () => {
    const content = quoteStrings(splitIntoStrings(value4096));
    expect(content).toMatch(/^"v=DKIM1; k=rsa; " "p=[^"]{1,253}"( "[^"]{1,255}")+$/);
    expect(recordValueFromText(content)).toBe(value4096);
  });
});
