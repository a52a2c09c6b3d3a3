/**
 * One DNS message over TCP (RFC 1035 §4.2.2: a two-byte length before each message), to the
 * primary server directly. TCP because a 4096-bit key's record and its TSIG do not fit a
 * plain UDP answer, and because an update must not be silently cut.
 */
import { Socket } from "node:net";

export class ExchangeTimeout extends Error {
  readonly code = "TIMEOUT";
}

/** Sends `message`, resolves with the first whole answer; rejects on timeout, reset or close. */
export function exchangeOverTcp(
  server: { host: string; port: number },
  message: Buffer,
  timeoutMs: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (outcome: { answer: Buffer } | { error: Error }): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if ("answer" in outcome) resolve(outcome.answer);
      else reject(outcome.error);
    };
    const timer = setTimeout(
      () => finish({ error: new ExchangeTimeout(`no answer within ${timeoutMs} ms`) }),
      timeoutMs,
    );
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 2) return;
      const length = received.readUInt16BE(0);
      if (received.length >= 2 + length) finish({ answer: received.subarray(2, 2 + length) });
    });
    socket.on("error", (error) => finish({ error }));
    socket.on("close", () =>
      finish({ error: Object.assign(new Error("connection closed"), { code: "ECONNRESET" }) }),
    );
    socket.connect(server.port, server.host, () => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(message.length, 0);
      socket.write(Buffer.concat([length, message]));
    });
  });
}
