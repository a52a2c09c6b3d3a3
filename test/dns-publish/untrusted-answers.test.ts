/**
 * The TSIG verifier against answers no real server would send: a small TCP DNS stand-in that
 * answers unsigned, signed with another secret, for another request, or not at all.
 */

import type { AddressInfo } from "node:net";
import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDnsPublisher } from "../../src/dns-publish/index.js";
import type { Rfc2136Settings } from "../../src/dns-publish/settings.js";
import { signMessage } from "../../src/dns-publish/tsig.js";
import { decodeMessage } from "../../src/dns-publish/wire.js";
import { FAST_RETRY, publishError } from "./test-servers.js";

type Mode = "unsigned" | "forged" | "wrong-id" | "silent" | "unsigned-refused";

const KEY = { name: "dkim-bot.", algorithm: "hmac-sha256" as const, secret: Buffer.alloc(32, 1) };
const VALUE = "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtest";

/** The request's header turned into an answer with no records: QR and AA set, the rcode given. */
function bareAnswer(request: Buffer, rcode: number, id = request.readUInt16BE(0)): Buffer {
  const answer = Buffer.alloc(12);
  answer.writeUInt16BE(id, 0);
  answer.writeUInt16BE(0x8400 | (request.readUInt16BE(2) & 0x7800) | rcode, 2);
  return answer;
}

function answerFor(request: Buffer, mode: Exclude<Mode, "silent">): Buffer {
  const requestMac = decodeMessage(request).tsig?.record.mac ?? Buffer.alloc(0);
  const timeSigned = Math.floor(Date.now() / 1000);
  switch (mode) {
    case "unsigned":
      return bareAnswer(request, 0);
    case "unsigned-refused":
      return bareAnswer(request, 5);
    case "forged":
      return signMessage(
        bareAnswer(request, 0),
        { ...KEY, secret: Buffer.alloc(32, 2) },
        { timeSigned, requestMac },
      ).wire;
    case "wrong-id":
      return signMessage(bareAnswer(request, 0, request.readUInt16BE(0) ^ 1), KEY, {
        timeSigned,
        requestMac,
      }).wire;
  }
}

describe("rfc2136 answers the bot must not trust", () => {
  let server: Server;
  let mode: Mode = "unsigned";
  let connections = 0;
  const sockets = new Set<Socket>();
  let settings: Rfc2136Settings;

  beforeAll(async () => {
    server = createServer((socket) => {
      connections += 1;
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      let buffered = Buffer.alloc(0);
      socket.on("data", (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        if (buffered.length < 2 || buffered.length < 2 + buffered.readUInt16BE(0)) return;
        if (mode === "silent") return;
        const answer = answerFor(buffered.subarray(2, 2 + buffered.readUInt16BE(0)), mode);
        const length = Buffer.alloc(2);
        length.writeUInt16BE(answer.length, 0);
        socket.write(Buffer.concat([length, answer]));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    settings = {
      provider: "rfc2136",
      zones: ["example.test"],
      server: { host: "127.0.0.1", port },
      tsig: KEY,
    };
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  const attempt = () =>
    publishError(
      createDnsPublisher(settings, { retry: FAST_RETRY, timeoutMs: 300 }).publish({
        name: "s1._domainkey.example.test",
        value: VALUE,
      }),
    );

  it("rejects an unsigned answer", async () => {
    mode = "unsigned";
    const error = await attempt();
    expect(error.reason).toBe("bad-answer");
    expect(error.message).toMatch(
      /answered without a valid TSIG signature \(the answer has no TSIG record\), so the bot did not trust the answer: check that the server holds the key dkim-bot\./,
    );
  });

  it("rejects an answer signed with another secret", async () => {
    mode = "forged";
    const error = await attempt();
    expect(error.reason).toBe("bad-answer");
    expect(error.message).toContain("(the answer's TSIG MAC is wrong)");
  });

  it("rejects an answer to another request", async () => {
    mode = "wrong-id";
    const error = await attempt();
    expect(error.reason).toBe("bad-answer");
    expect(error.message).toMatch(/sent a message that is not the answer to the bot's request/);
  });

  it("reports an unsigned refusal as what it says (it changes nothing)", async () => {
    mode = "unsigned-refused";
    const error = await attempt();
    expect(error.reason).toBe("not-authoritative");
  });

  it("times out on a server that never answers, as a transient failure tried three times", async () => {
    mode = "silent";
    connections = 0;
    const error = await attempt();
    expect(error.reason).toBe("timeout");
    expect(error.transient).toBe(true);
    expect(error.attempts).toBe(3);
    expect(connections).toBe(3);
    expect(error.message).toMatch(
      /^The DNS server 127\.0\.0\.1:\d+ did not answer within 300 ms \(3 attempts\): check that it is up/,
    );
  });

  it("says when nothing listens at the address", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const error = await publishError(
      createDnsPublisher(
        { ...settings, server: { host: "127.0.0.1", port } },
        { retry: FAST_RETRY },
      ).read("s1._domainkey.example.test"),
    );
    expect(error.reason).toBe("network");
    expect(error.message).toMatch(
      /could not reach the DNS server 127\.0\.0\.1:\d+ over TCP \(ECONNREFUSED\) \(3 attempts\): check DKIM_DNS_PUBLISH_SERVER/,
    );
  });
});
