import { describe, expect, it } from "vitest";
import type { TsigAlgorithm, TsigKey } from "../../src/dns-publish/settings.js";
import { signMessage, verifyResponse } from "../../src/dns-publish/tsig.js";
import { decodeMessage, encodeQuery } from "../../src/dns-publish/wire.js";
import { TSIG_VECTORS } from "./tsig-vectors.js";

const ALGORITHMS: TsigAlgorithm[] = ["hmac-sha256", "hmac-sha512"];

function keyOf(algorithm: TsigAlgorithm, secret: string = TSIG_VECTORS[algorithm].secret): TsigKey {
  return { name: "dkim-bot.", algorithm, secret: Buffer.from(secret, "base64") };
}

/** The message dnspython signed, without its TSIG record (ARCOUNT lowered again). */
function unsignedPart(wire: Buffer): Buffer {
  const decoded = decodeMessage(wire);
  const offset = decoded.tsig?.offset ?? wire.length;
  const unsigned = Buffer.from(wire.subarray(0, offset));
  unsigned.writeUInt16BE(unsigned.readUInt16BE(10) - 1, 10);
  return unsigned;
}

describe.each(ALGORITHMS)("TSIG %s against dnspython's vectors", (algorithm) => {
  const vector = TSIG_VECTORS[algorithm];
  const request = Buffer.from(vector.request, "hex");
  const response = Buffer.from(vector.response, "hex");
  const requestMac = Buffer.from(vector.requestMac, "hex");

  it("signs the same message at the same time into exactly dnspython's bytes", () => {
    const signed = signMessage(unsignedPart(request), keyOf(algorithm), {
      timeSigned: vector.time,
      fudge: 300,
    });
    expect(signed.mac.toString("hex")).toBe(vector.requestMac);
    expect(signed.wire.toString("hex")).toBe(vector.request);
  });

  it("accepts dnspython's signed response to it", () => {
    const verdict = verifyResponse(
      response,
      decodeMessage(response),
      keyOf(algorithm),
      requestMac,
      vector.time + 10,
    );
    expect(verdict).toEqual({ ok: true });
  });

  it("rejects the response when a byte of it is changed", () => {
    const forged = Buffer.from(response);
    forged[3] = (forged[3] ?? 0) ^ 0x05; // the rcode: NOERROR becomes REFUSED
    expect(
      verifyResponse(forged, decodeMessage(forged), keyOf(algorithm), requestMac, vector.time),
    ).toMatchObject({ ok: false, problem: "bad-mac" });
  });

  it("rejects the response when checked with another secret or for another request", () => {
    const otherKey = keyOf(algorithm, Buffer.alloc(32, 3).toString("base64"));
    expect(
      verifyResponse(response, decodeMessage(response), otherKey, requestMac, vector.time),
    ).toMatchObject({ ok: false, problem: "bad-mac" });
    const otherRequest = Buffer.from(requestMac);
    otherRequest[0] = (otherRequest[0] ?? 0) ^ 1;
    expect(
      verifyResponse(
        response,
        decodeMessage(response),
        keyOf(algorithm),
        otherRequest,
        vector.time,
      ),
    ).toMatchObject({ ok: false, problem: "bad-mac" });
  });

  it("rejects a correctly signed response outside the fudge of the bot's clock", () => {
    const verdict = verifyResponse(
      response,
      decodeMessage(response),
      keyOf(algorithm),
      requestMac,
      vector.time + 301,
    );
    expect(verdict).toMatchObject({ ok: false, problem: "bad-time" });
  });
});

describe("TSIG verification", () => {
  const key = keyOf("hmac-sha256");

  it("rejects an unsigned answer", () => {
    const answer = encodeQuery(7, "s1._domainkey.example.test", 16);
    answer.writeUInt16BE(0x8400, 2);
    expect(verifyResponse(answer, decodeMessage(answer), key, Buffer.alloc(32), 0)).toMatchObject({
      ok: false,
      problem: "unsigned",
    });
  });

  it("rejects an answer signed with another key name", () => {
    const query = encodeQuery(7, "s1._domainkey.example.test", 16);
    const request = signMessage(query, key, { timeSigned: 1000 });
    const answer = Buffer.from(query);
    answer.writeUInt16BE(0x8400, 2);
    const signed = signMessage(
      answer,
      { ...key, name: "someone-else." },
      { timeSigned: 1000, requestMac: request.mac },
    );
    expect(
      verifyResponse(signed.wire, decodeMessage(signed.wire), key, request.mac, 1000),
    ).toMatchObject({ ok: false, problem: "other-key" });
  });

  it("reports the server's refusal (BADSIG, no MAC) as such, not as a forgery", () => {
    const query = encodeQuery(7, "s1._domainkey.example.test", 16);
    const request = signMessage(query, key, { timeSigned: 1000 });
    const answer = Buffer.from(query);
    answer.writeUInt16BE(0x8409, 2); // NOTAUTH
    // A BADSIG answer carries the TSIG record with an empty MAC (RFC 8945 §5.2.2).
    const refusal = signMessage(answer, key, { timeSigned: 1000, error: 16 });
    const macSize = refusal.wire.indexOf(refusal.mac) - 2;
    const stripped = Buffer.concat([
      refusal.wire.subarray(0, macSize),
      Buffer.from([0, 0]),
      refusal.wire.subarray(macSize + 2 + refusal.mac.length),
    ]);
    // RDLENGTH shrinks by the MAC's length.
    const rdlengthAt = refusal.wire.indexOf(Buffer.from("0b686d61632d736861323536", "hex")) - 2;
    stripped.writeUInt16BE(stripped.readUInt16BE(rdlengthAt) - refusal.mac.length, rdlengthAt);
    expect(verifyResponse(stripped, decodeMessage(stripped), key, request.mac, 1000)).toEqual({
      ok: false,
      problem: "refused-by-server",
      tsigError: "BADSIG",
      fudge: 300,
    });
  });
});
