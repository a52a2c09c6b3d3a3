/**
 * A local stand-in for Slack's Socket Mode WebSocket server, for end-to-end tests.
 *
 * How @slack/socket-mode 3 (used by Bolt's SocketModeReceiver) connects, and so what this
 * server speaks:
 * - it calls `apps.connections.open` on the Web API (SLACK_API_URL: FakeSlack, given this
 *   server's `url` with `setSocketModeUrl`) with `Authorization: Bearer xapp-...`, and opens a
 *   WebSocket to the `url` of the answer, with undici's WebSocket client (not `ws`);
 * - it is connected once the server sends `{ type: "hello", ... }`; Bolt's `app.start()`
 *   resolves only then;
 * - every message after that is an envelope `{ envelope_id, type, payload,
 *   accepts_response_payload, retry_attempt?, retry_reason? }`, type `slash_commands`,
 *   `interactive` or `events_api` (`disconnect` asks it to reconnect); Bolt's `ack(body)`
 *   sends back `{ envelope_id, payload: { ...body } }` (payload `{}` for a bare `ack()`);
 * - it pings every clientPingTimeout/3 (about 1.7 s) and drops the connection after a few
 *   pings without a pong; stopping, it sends a close frame (1000) and waits for the reply.
 *
 * There is no WebSocket server in Node 20 nor among the installed packages (`ws` is not in
 * node_modules: @slack/socket-mode 3 uses undici), so this is a minimal RFC 6455 server on
 * node:http's `upgrade`: the handshake, masked client frames, fragmented messages, text
 * and binary, ping/pong, and the close handshake. No extensions (permessage-deflate is not
 * accepted, so the client sends plain frames). Loopback only.
 */
import { createHash, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";

const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const DEFAULT_TIMEOUT_MS = 10_000;

const OPCODE = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

export type EnvelopeType = "slash_commands" | "interactive" | "events_api";

/** What Slack sends over the socket for each delivery. */
export interface Envelope {
  envelope_id: string;
  type: EnvelopeType;
  payload: Record<string, unknown>;
  accepts_response_payload: boolean;
  retry_attempt?: number;
  retry_reason?: string;
}

/** What the app sends back: `payload` is the body given to Bolt's `ack()` (`{}` when none). */
export interface EnvelopeAck {
  envelope_id: string;
  payload?: Record<string, unknown>;
  /** When it arrived. */
  at: Date;
}

export interface SocketConnection {
  /** From 1, in order of connection. */
  id: number;
  /** The request path and query the client opened (the ticket of the URL it was given). */
  path: string;
  /** Headers of the upgrade request. */
  headers: IncomingMessage["headers"];
  openedAt: Date;
  /** Every message the client sent, as text (acks are also in `acks`). */
  readonly messages: readonly string[];
  pingsReceived: number;
  /** The close frame the client sent, once it did. */
  closedByClient?: { code: number | undefined; reason: string };
  /** Whether the TCP connection has ended. */
  ended: boolean;
}

export interface SendOptions {
  /** Default: a fresh UUID, as Slack's. */
  envelopeId?: string;
  /** Default: true for slash_commands and view submissions, as Slack sets it. */
  acceptsResponsePayload?: boolean;
  retryAttempt?: number;
  retryReason?: string;
  /** How long to wait for the ack; default 10 s. */
  timeoutMs?: number;
}

interface LiveConnection {
  info: SocketConnection & { messages: string[] };
  socket: Socket;
  closeSent: boolean;
}

interface Waiter {
  check: () => boolean;
}

export class FakeSocketMode {
  /** `ws://127.0.0.1:PORT/link/?ticket=...`: give it to `FakeSlack.setSocketModeUrl`. */
  readonly url: string;
  readonly appId: string;

  private readonly server: Server;
  private readonly live = new Set<LiveConnection>();
  private readonly all: LiveConnection[] = [];
  private readonly receivedAcks: EnvelopeAck[] = [];
  private readonly waiters = new Set<Waiter>();

  private constructor(server: Server, port: number, appId: string) {
    this.server = server;
    this.appId = appId;
    this.url = `ws://127.0.0.1:${port}/link/?ticket=${randomUUID()}&app_id=${appId}`;
  }

  static async start(options: { appId?: string } = {}): Promise<FakeSocketMode> {
    let fake: FakeSocketMode | undefined;
    const server = createServer((_req, res) => {
      res.writeHead(426, { "content-type": "text/plain", upgrade: "websocket" });
      res.end("fake-socket-mode: WebSocket only\n");
    });
    server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
      if (fake === undefined) {
        socket.destroy();
        return;
      }
      fake.accept(req, socket, head);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    fake = new FakeSocketMode(server, port, options.appId ?? "A0FAKEAPP");
    return fake;
  }

  /** Every connection so far, in order (open or not). */
  get connections(): readonly SocketConnection[] {
    return this.all.map((connection) => connection.info);
  }

  /** Every ack received so far, on any connection, in order. */
  get acks(): readonly EnvelopeAck[] {
    return this.receivedAcks;
  }

  /** Resolves with the `n`th connection (from 1) once the client has opened it. */
  waitForConnection(n = 1, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<SocketConnection> {
    return this.waitUntil(
      () => this.all[n - 1]?.info,
      `connection #${n} (${this.all.length} so far)`,
      timeoutMs,
    );
  }

  /** Resolves once the client has sent a close frame on connection `id` and the TCP ended. */
  waitForClientClose(
    id: number,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<{ code: number | undefined; reason: string }> {
    return this.waitUntil(
      () => {
        const info = this.all[id - 1]?.info;
        return info?.ended === true ? info.closedByClient : undefined;
      },
      `the client closing connection #${id}`,
      timeoutMs,
    );
  }

  /**
   * Sends an envelope on the newest open connection and resolves with the app's ack. Rejects
   * when no connection is open or no ack comes within the timeout.
   */
  async send(
    type: EnvelopeType,
    payload: Record<string, unknown>,
    options: SendOptions = {},
  ): Promise<EnvelopeAck> {
    const envelope: Envelope = {
      envelope_id: options.envelopeId ?? randomUUID(),
      type,
      payload,
      accepts_response_payload:
        options.acceptsResponsePayload ??
        (type === "slash_commands" || payload.type === "view_submission"),
    };
    if (options.retryAttempt !== undefined) envelope.retry_attempt = options.retryAttempt;
    if (options.retryReason !== undefined) envelope.retry_reason = options.retryReason;
    this.sendJson(envelope);
    return this.waitUntil(
      () => this.receivedAcks.find((ack) => ack.envelope_id === envelope.envelope_id),
      `the ack of ${type} envelope ${envelope.envelope_id}`,
      options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    );
  }

  /** Sends any JSON message (e.g. `{ type: "disconnect", reason: "refresh_requested" }`). */
  sendJson(message: unknown): void {
    const connection = this.newestOpen();
    if (connection === undefined) throw new Error("fake-socket-mode: no open connection");
    connection.socket.write(frame(OPCODE.text, Buffer.from(JSON.stringify(message), "utf8")));
  }

  /** Closes every connection (close frame 1001, then the TCP) and the server. */
  async close(): Promise<void> {
    for (const waiter of this.waiters) waiter.check();
    this.waiters.clear();
    for (const connection of this.live) {
      if (!connection.closeSent) {
        connection.closeSent = true;
        connection.socket.write(closeFrame(1001, "going away"));
      }
      connection.socket.destroy();
    }
    await new Promise<void>((resolve, reject) => {
      this.server.close((error) => (error ? reject(error) : resolve()));
      this.server.closeAllConnections();
    });
  }

  // ---- the protocol -------------------------------------------------------------------

  private accept(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const key = req.headers["sec-websocket-key"];
    const isUpgrade = (req.headers.upgrade ?? "").toLowerCase() === "websocket";
    if (!isUpgrade || typeof key !== "string" || req.headers["sec-websocket-version"] !== "13") {
      socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n");
      return;
    }
    const accept = createHash("sha1").update(`${key}${WEBSOCKET_GUID}`).digest("base64");
    socket.write(
      "HTTP/1.1 101 Switching Protocols\r\n" +
        "Upgrade: websocket\r\n" +
        "Connection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    socket.setNoDelay(true);
    const connection: LiveConnection = {
      info: {
        id: this.all.length + 1,
        path: req.url ?? "/",
        headers: req.headers,
        openedAt: new Date(),
        messages: [],
        pingsReceived: 0,
        ended: false,
      },
      socket,
      closeSent: false,
    };
    this.all.push(connection);
    this.live.add(connection);

    let buffered = head.length > 0 ? Buffer.from(head) : Buffer.alloc(0);
    const fragments: Buffer[] = [];
    let fragmentOpcode = 0;
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const parsed = parseFrame(buffered);
        if (parsed === undefined) break;
        buffered = buffered.subarray(parsed.length);
        if (!parsed.masked) {
          // RFC 6455 5.1: a server must close the connection on an unmasked client frame.
          this.protocolError(connection, "unmasked frame from the client");
          return;
        }
        if (parsed.opcode === OPCODE.continuation || !parsed.fin) {
          if (parsed.opcode !== OPCODE.continuation) fragmentOpcode = parsed.opcode;
          fragments.push(parsed.payload);
          if (!parsed.fin) continue;
          this.onMessage(connection, fragmentOpcode, Buffer.concat(fragments));
          fragments.length = 0;
          continue;
        }
        this.onFrame(connection, parsed.opcode, parsed.payload);
      }
    });
    const ended = () => {
      if (connection.info.ended) return;
      connection.info.ended = true;
      this.live.delete(connection);
      this.notify();
    };
    socket.on("close", ended);
    socket.on("error", ended);

    this.sendTo(connection, {
      type: "hello",
      num_connections: this.live.size,
      debug_info: {
        host: "applink-fake-1",
        build_number: 1,
        approximate_connection_time: 18_060,
      },
      connection_info: { app_id: this.appId },
    });
    this.notify();
  }

  private onFrame(connection: LiveConnection, opcode: number, payload: Buffer): void {
    switch (opcode) {
      case OPCODE.text:
      case OPCODE.binary:
        this.onMessage(connection, opcode, payload);
        return;
      case OPCODE.ping:
        connection.info.pingsReceived += 1;
        connection.socket.write(frame(OPCODE.pong, payload));
        return;
      case OPCODE.pong:
        return;
      case OPCODE.close: {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : undefined;
        connection.info.closedByClient = {
          code,
          reason: payload.subarray(2).toString("utf8"),
        };
        if (!connection.closeSent) {
          connection.closeSent = true;
          connection.socket.write(
            code === undefined ? frame(OPCODE.close, Buffer.alloc(0)) : closeFrame(code, ""),
          );
        }
        connection.socket.end();
        this.notify();
        return;
      }
      default:
        this.protocolError(connection, `unknown opcode ${opcode}`);
    }
  }

  private onMessage(connection: LiveConnection, opcode: number, payload: Buffer): void {
    const text = payload.toString("utf8");
    connection.info.messages.push(opcode === OPCODE.text ? text : `<binary ${payload.length}>`);
    if (opcode === OPCODE.text) {
      const parsed = parseJson(text);
      if (parsed !== undefined && typeof parsed.envelope_id === "string") {
        const ack: EnvelopeAck = { envelope_id: parsed.envelope_id, at: new Date() };
        const body = parsed.payload;
        if (body !== null && typeof body === "object" && !Array.isArray(body)) {
          ack.payload = body as Record<string, unknown>;
        }
        this.receivedAcks.push(ack);
      }
    }
    this.notify();
  }

  private protocolError(connection: LiveConnection, reason: string): void {
    connection.info.messages.push(`<protocol error: ${reason}>`);
    if (!connection.closeSent) {
      connection.closeSent = true;
      connection.socket.write(closeFrame(1002, reason));
    }
    connection.socket.end();
    this.notify();
  }

  private sendTo(connection: LiveConnection, message: unknown): void {
    connection.socket.write(frame(OPCODE.text, Buffer.from(JSON.stringify(message), "utf8")));
  }

  private newestOpen(): LiveConnection | undefined {
    return [...this.live].filter((c) => !c.closeSent && !c.info.closedByClient).at(-1);
  }

  private waitUntil<T>(
    probe: () => T | undefined,
    description: string,
    timeoutMs: number,
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const waiter: Waiter = {
        check: () => {
          if (settled) return true;
          const value = probe();
          if (value === undefined) return false;
          settled = true;
          clearTimeout(timer);
          resolve(value);
          return true;
        },
      };
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        this.waiters.delete(waiter);
        const seen = this.all
          .map((c) => `#${c.info.id}: ${c.info.messages.join(" | ") || "no messages"}`)
          .join("; ");
        reject(
          new Error(
            `fake-socket-mode: timed out after ${timeoutMs} ms waiting for ${description}. ` +
              `Connections: ${seen || "none"}.`,
          ),
        );
      }, timeoutMs);
      if (!waiter.check()) this.waiters.add(waiter);
    });
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) {
      if (waiter.check()) this.waiters.delete(waiter);
    }
  }
}

/** Starts a fake Socket Mode server on 127.0.0.1 on an ephemeral port. */
export function startFakeSocketMode(options: { appId?: string } = {}): Promise<FakeSocketMode> {
  return FakeSocketMode.start(options);
}

// ---- frames ---------------------------------------------------------------------------

interface ParsedFrame {
  fin: boolean;
  opcode: number;
  masked: boolean;
  payload: Buffer;
  /** Bytes the frame took in the buffer. */
  length: number;
}

/** One frame from the start of `buffer`, or undefined when it is not all there yet. */
function parseFrame(buffer: Buffer): ParsedFrame | undefined {
  const first = buffer[0];
  const second = buffer[1];
  if (first === undefined || second === undefined) return undefined;
  const masked = (second & 0x80) !== 0;
  let payloadLength = second & 0x7f;
  let offset = 2;
  if (payloadLength === 126) {
    if (buffer.length < 4) return undefined;
    payloadLength = buffer.readUInt16BE(2);
    offset = 4;
  } else if (payloadLength === 127) {
    if (buffer.length < 10) return undefined;
    payloadLength = Number(buffer.readBigUInt64BE(2));
    offset = 10;
  }
  const maskOffset = offset;
  if (masked) offset += 4;
  if (buffer.length < offset + payloadLength) return undefined;
  const payload = Buffer.from(buffer.subarray(offset, offset + payloadLength));
  if (masked) {
    for (let i = 0; i < payload.length; i += 1) {
      const maskByte = buffer[maskOffset + (i % 4)] ?? 0;
      payload[i] = (payload[i] ?? 0) ^ maskByte;
    }
  }
  return {
    fin: (first & 0x80) !== 0,
    opcode: first & 0x0f,
    masked,
    payload,
    length: offset + payloadLength,
  };
}

/** A server frame: final, unmasked. */
function frame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  let header: Buffer;
  if (length < 126) {
    header = Buffer.alloc(2);
    header[1] = length;
  } else if (length < 65_536) {
    header = Buffer.alloc(4);
    header[1] = 126;
    header.writeUInt16BE(length, 2);
  } else {
    header = Buffer.alloc(10);
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  header[0] = 0x80 | opcode;
  return Buffer.concat([header, payload]);
}

function closeFrame(code: number, reason: string): Buffer {
  const reasonBytes = Buffer.from(reason, "utf8");
  const payload = Buffer.alloc(2 + reasonBytes.length);
  payload.writeUInt16BE(code, 0);
  reasonBytes.copy(payload, 2);
  return frame(OPCODE.close, payload);
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return value !== null && typeof value === "object" && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
