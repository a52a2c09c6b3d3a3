/**
 * A local stand-in for the Slack Web API that records every call, for end-to-end tests.
 *
 * Give the app `SLACK_API_URL = fake.apiUrl` (`http://127.0.0.1:PORT/api/`). @slack/web-api 8
 * POSTs `<apiUrl><method>` with `Authorization: Bearer <token>` and a form-encoded body in
 * which every non-primitive argument (blocks, view, metadata, ...) is a JSON string; binary
 * uploads come as multipart. It treats `ok: false` as an error, reads `response_metadata`
 * for pagination (adding it when absent), waits out HTTP 429 using `Retry-After` and then
 * retries under its retry policy (about a second of backoff by default), and retries other
 * non-200 statuses too. That is what this server speaks.
 *
 * It also serves response_urls (`fake.responseUrl()`), where Bolt's `respond()` POSTs JSON,
 * and file uploads as files.uploadV2 makes them: files.getUploadURLExternal gives an upload URL
 * on this server, the bytes POSTed there are kept, and files.completeUploadExternal shares the
 * files (`fake.uploadedFiles()`), posting them as a message in the channel or thread.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedCall {
  /** Order of arrival across Web API calls and response_url posts, from 1. */
  seq: number;
  /** Web API method, e.g. "chat.postMessage". */
  method: string;
  /** Form fields, with JSON-valued fields (blocks, view, ...) decoded. */
  params: Record<string, unknown>;
  /** The fields exactly as sent, for scans such as "no private key material anywhere". */
  rawParams: Record<string, string>;
  rawBody: string;
  /** From `Authorization: Bearer ...`, or a `token` field; undefined when none was sent. */
  token: string | undefined;
  at: Date;
  /** What the fake answered. */
  status: number;
  response: Record<string, unknown>;
  /** Set when a scripted fault produced the answer. */
  fault?: SlackFault;
}

export interface ResponseUrlPost {
  seq: number;
  /** The id in `/response/<id>`. */
  id: string;
  url: string;
  /** JSON-decoded body (Bolt's respond() sends JSON), or the raw text when it is not JSON. */
  body: unknown;
  rawBody: string;
  at: Date;
}

export type SlackFault =
  /** HTTP 200 `{ ok: false, error }`, as Slack reports API errors (not_in_channel, ...). */
  | { kind: "error"; error: string; extra?: Record<string, unknown> }
  /** HTTP 429 with `Retry-After: <seconds>`: web-api waits and retries the same call. */
  | { kind: "rate-limited"; retryAfterSeconds: number }
  /**
   * Any other HTTP status. web-api retries these under its retry policy and, when they persist,
   * throws `slack_webapi_http_error` with `statusCode`.
   */
  | { kind: "http"; status: number; body?: string }
  /**
   * Answers as usual, but only after `delayMs` (a slow or hanging Slack). A client that gives up
   * first has gone by then; the call is recorded all the same.
   */
  | { kind: "slow"; delayMs: number }
  /**
   * Carries the call out (a message is posted) but the answer never reaches the client: the
   * connection is cut instead, as a reset or a proxy's timeout would.
   */
  | { kind: "lost-answer" };

export interface StoredMessage {
  channel: string;
  ts: string;
  threadTs?: string;
  text: string | undefined;
  blocks: unknown;
  /** Who posted it: the bot's user id for chat.postMessage. */
  user: string;
  /** chat.update calls applied to it. */
  edits: number;
  params: Record<string, unknown>;
}

/**
 * A file shared with files.getUploadURLExternal, its upload, and files.completeUploadExternal
 * (what @slack/web-api's filesUploadV2 does). Kept with its bytes so tests can read it.
 */
export interface UploadedFile {
  id: string;
  filename: string;
  /** Declared to files.getUploadURLExternal. */
  length: number;
  /** What was POSTed to the upload URL (undefined until then). */
  bytes: Buffer | undefined;
  /** Set by files.completeUploadExternal. */
  title?: string;
  channel?: string;
  threadTs?: string;
  comment?: string;
  /** The message the completion posted (with the comment), when it was shared in a channel. */
  messageTs?: string;
  completed: boolean;
}

export interface StoredView {
  id: string;
  view: Record<string, unknown>;
  hash: string;
  /** "views.open" | "views.push" | "views.publish" */
  openedBy: string;
  userId?: string;
}

export interface ChannelSetup {
  /** false: every channel method answers `channel_not_found` (private channel without the bot). */
  exists?: boolean;
  /** Whether the bot is a member. Posting to a channel without it gives `not_in_channel`. */
  botIsMember?: boolean;
  name?: string;
  isPrivate?: boolean;
  isArchived?: boolean;
  /** Human members (the bot is added when it is a member). */
  members?: string[];
}

export interface UserSetup {
  name?: string;
  realName?: string;
  isBot?: boolean;
  deleted?: boolean;
  tz?: string;
}

export interface FakeSlackOptions {
  teamId?: string;
  teamDomain?: string;
  botUserId?: string;
  botId?: string;
  appId?: string;
  /** When set, calls with another token (or none) answer `invalid_auth` / `not_authed`. */
  acceptTokens?: string[];
  /** Channels not configured with setChannel: is the bot a member? Default true. */
  botInChannelsByDefault?: boolean;
}

interface PendingFault {
  fault: SlackFault;
  remaining: number;
}

interface Waiter {
  check: () => boolean;
}

type Handler = (call: {
  params: Record<string, unknown>;
  token: string | undefined;
}) => Record<string, unknown> | undefined;

const DEFAULT_TIMEOUT_MS = 10_000;

export class FakeSlack {
  /** `http://127.0.0.1:PORT/api/`: the app's SLACK_API_URL. */
  readonly apiUrl: string;
  /** `http://127.0.0.1:PORT` */
  readonly origin: string;
  readonly teamId: string;
  readonly teamDomain: string;
  readonly botUserId: string;
  readonly botId: string;
  readonly appId: string;

  private readonly server: Server;
  private readonly options: FakeSlackOptions;
  private recorded: RecordedCall[] = [];
  private responsePosts: ResponseUrlPost[] = [];
  private faults = new Map<string, PendingFault[]>();
  private messages = new Map<string, StoredMessage>();
  private views = new Map<string, StoredView>();
  private files = new Map<string, UploadedFile>();
  private channels = new Map<string, ChannelSetup>();
  private usergroups = new Map<string, string[]>();
  private users = new Map<string, UserSetup>();
  private socketModeUrl: string | undefined;
  private waiters = new Set<Waiter>();
  private seq = 0;
  private lastTsMicros = 0n;
  private idCounter = 0;
  private readonly handlers: Record<string, Handler>;

  private constructor(server: Server, port: number, options: FakeSlackOptions) {
    this.server = server;
    this.options = options;
    this.origin = `http://127.0.0.1:${port}`;
    this.apiUrl = `${this.origin}/api/`;
    this.teamId = options.teamId ?? "T0FAKETEAM";
    this.teamDomain = options.teamDomain ?? "fake-team";
    this.botUserId = options.botUserId ?? "U0FAKEBOT";
    this.botId = options.botId ?? "B0FAKEBOT";
    this.appId = options.appId ?? "A0FAKEAPP";
    this.handlers = this.buildHandlers();
  }

  static async start(options: FakeSlackOptions = {}): Promise<FakeSlack> {
    let fake: FakeSlack | undefined;
    const server = createServer((req, res) => {
      if (fake === undefined) {
        res.writeHead(503).end();
        return;
      }
      fake.handle(req, res).catch((error: unknown) => {
        // A bug in the fake must show up in the test, not as a hung request.
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end(`fake-slack error: ${error instanceof Error ? error.stack : String(error)}`);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    fake = new FakeSlack(server, port, options);
    return fake;
  }

  // ---- what happened --------------------------------------------------------------------

  /** Web API calls so far (since the last reset), oldest first; optionally of one method. */
  calls(method?: string): RecordedCall[] {
    return method === undefined
      ? [...this.recorded]
      : this.recorded.filter((call) => call.method === method);
  }

  /** POSTs to response_urls so far, oldest first; optionally to one id or URL. */
  responses(idOrUrl?: string): ResponseUrlPost[] {
    if (idOrUrl === undefined) return [...this.responsePosts];
    const id = this.responseIdOf(idOrUrl);
    return this.responsePosts.filter((post) => post.id === id);
  }

  /** Messages posted with chat.postMessage (as updated since), oldest first. */
  postedMessages(channel?: string): StoredMessage[] {
    const all = [...this.messages.values()];
    return channel === undefined ? all : all.filter((message) => message.channel === channel);
  }

  /**
   * A message the bot posted before this fake started (a card of a store seeded for a bench or
   * a test), so that its edits and thread replies find it.
   */
  seedMessage(channel: string, ts: string, text: string): void {
    const params = { channel, text };
    this.messages.set(messageKey(channel, ts), {
      channel,
      ts,
      text,
      blocks: undefined,
      user: this.botUserId,
      edits: 0,
      params,
    });
  }

  message(channel: string, ts: string): StoredMessage | undefined {
    return this.messages.get(messageKey(channel, ts));
  }

  /** Replies in the thread of `threadTs`, oldest first. */
  threadReplies(channel: string, threadTs: string): StoredMessage[] {
    return this.postedMessages(channel).filter(
      (message) => message.threadTs === threadTs && message.ts !== threadTs,
    );
  }

  view(viewId: string): StoredView | undefined {
    return this.views.get(viewId);
  }

  /** Files shared by files.completeUploadExternal (optionally in one channel), oldest first. */
  uploadedFiles(channel?: string): UploadedFile[] {
    return [...this.files.values()].filter(
      (file) => file.completed && (channel === undefined || file.channel === channel),
    );
  }

  /**
   * Resolves with the first call of `method` (already recorded or still to come) for which
   * `predicate` holds. Rejects after `timeoutMs` with the list of calls that did arrive.
   */
  waitForCall(
    method: string,
    predicate: (call: RecordedCall) => boolean = () => true,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<RecordedCall> {
    return this.waitUntil(
      () => this.recorded.find((call) => call.method === method && predicate(call)),
      `a matching ${method} call`,
      timeoutMs,
    );
  }

  /** Resolves with the first `count` matching calls once that many have arrived. */
  waitForCalls(
    method: string,
    count: number,
    predicate: (call: RecordedCall) => boolean = () => true,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<RecordedCall[]> {
    return this.waitUntil(
      () => {
        const matching = this.recorded.filter((call) => call.method === method && predicate(call));
        return matching.length >= count ? matching.slice(0, count) : undefined;
      },
      `${count} ${method} call(s)`,
      timeoutMs,
    );
  }

  /** Resolves with the first POST to a response_url (optionally a given one) matching `predicate`. */
  waitForResponse(
    predicate: (post: ResponseUrlPost) => boolean = () => true,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<ResponseUrlPost> {
    return this.waitUntil(
      () => this.responsePosts.find(predicate),
      "a response_url post",
      timeoutMs,
    );
  }

  /**
   * Re-evaluates `probe` whenever the fake records something (no polling, no sleeps) and
   * resolves with its first value that is neither undefined nor false.
   */
  waitUntil<T>(
    probe: () => T | undefined | false,
    description = "the condition",
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const waiter: Waiter = {
        check: () => {
          if (settled) return true;
          let value: T | undefined | false;
          try {
            value = probe();
          } catch (error) {
            settled = true;
            clearTimeout(timer);
            reject(error);
            return true;
          }
          if (value === undefined || value === false) return false;
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
        const seen = this.recorded.map((call) => call.method).join(", ") || "none";
        reject(
          new Error(
            `fake-slack: timed out after ${timeoutMs} ms waiting for ${description}. ` +
              `Web API calls so far: ${seen}; response_url posts: ${this.responsePosts.length}.`,
          ),
        );
      }, timeoutMs);
      if (!waiter.check()) this.waiters.add(waiter);
    });
  }

  // ---- scripting ------------------------------------------------------------------------

  /**
   * The next `times` calls of `method` get `fault` instead of the normal answer. Faults queue:
   * `fail("chat.postMessage", a); fail("chat.postMessage", b)` gives a, then b.
   */
  fail(method: string, fault: SlackFault | string, times = 1): void {
    const normalized: SlackFault =
      typeof fault === "string" ? { kind: "error", error: fault } : fault;
    const queue = this.faults.get(method) ?? [];
    queue.push({ fault: normalized, remaining: times });
    this.faults.set(method, queue);
  }

  /** Forgets every scripted fault still waiting (Slack is well again). */
  clearFaults(): void {
    this.faults.clear();
  }

  /** The next `times` calls of `method` are answered only after `delayMs`. */
  delay(method: string, delayMs: number, times = 1): void {
    this.fail(method, { kind: "slow", delayMs }, times);
  }

  /** The next `times` calls of `method` answer HTTP 429 with `Retry-After: seconds`. */
  rateLimit(method: string, retryAfterSeconds: number, times = 1): void {
    this.fail(method, { kind: "rate-limited", retryAfterSeconds }, times);
  }

  setChannel(channelId: string, setup: ChannelSetup): void {
    this.channels.set(channelId, { ...this.channels.get(channelId), ...setup });
  }

  /** Who is in user group `groupId` (S...); groups never set answer `no_such_subteam`. */
  setUsergroup(groupId: string, userIds: string[]): void {
    this.usergroups.set(groupId, [...userIds]);
  }

  setUser(userId: string, setup: UserSetup): void {
    this.users.set(userId, { ...this.users.get(userId), ...setup });
  }

  /**
   * Where `apps.connections.open` sends a Socket Mode client (a `ws://` URL, e.g. a
   * FakeSocketMode's). Once set, that method answers `{ ok: true, url }` to an app-level
   * token (xapp-) and `not_allowed_token_type` to any other, as Slack does; unset (the
   * default, or `undefined`) it answers like any method the fake does not know.
   */
  setSocketModeUrl(url: string | undefined): void {
    this.socketModeUrl = url;
  }

  /** A fresh response_url served by this fake; POSTs to it are recorded. */
  responseUrl(id?: string): string {
    return `${this.origin}/response/${encodeURIComponent(id ?? this.nextId("R"))}`;
  }

  /** Forgets calls, posts, messages, views and faults; keeps channel/group/user setup. */
  reset(): void {
    this.recorded = [];
    this.responsePosts = [];
    this.faults.clear();
    this.messages.clear();
    this.views.clear();
    this.files.clear();
  }

  async close(): Promise<void> {
    for (const waiter of this.waiters) waiter.check();
    this.waiters.clear();
    await new Promise<void>((resolve, reject) => {
      this.server.close((error) => (error ? reject(error) : resolve()));
      // web-api keeps connections alive; without this, close() waits for them to time out.
      this.server.closeAllConnections();
    });
  }

  // ---- HTTP -----------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.origin);
    const bytes = await readBody(req);
    if (req.method === "POST" && url.pathname.startsWith("/upload/")) {
      await this.handleUpload(url, req, bytes, res);
      return;
    }
    const rawBody = bytes.toString("utf8");
    if (req.method === "POST" && url.pathname.startsWith("/api/")) {
      await this.handleApiCall(decodeURIComponent(url.pathname.slice(5)), req, rawBody, res);
      return;
    }
    if (req.method === "POST" && url.pathname.startsWith("/response/")) {
      this.handleResponseUrl(url, rawBody, res);
      return;
    }
    sendJson(res, 404, { ok: false, error: "unknown_url" });
  }

  /**
   * The upload URL files.getUploadURLExternal gave: the bytes, raw or (as web-api sends them)
   * as the one file of a multipart form. Answers 200 with text, as Slack's upload host does.
   */
  private async handleUpload(
    url: URL,
    req: IncomingMessage,
    body: Buffer,
    res: ServerResponse,
  ): Promise<void> {
    const file = this.files.get(decodeURIComponent(url.pathname.slice("/upload/".length)));
    if (file === undefined) {
      res.writeHead(404, { "content-type": "text/plain" }).end("unknown upload");
      return;
    }
    const type = req.headers["content-type"] ?? "";
    if (/^multipart\/form-data/i.test(type)) {
      const form = await new Response(new Uint8Array(body), {
        headers: { "content-type": type },
      }).formData();
      const part = [...form.values()].find((value) => typeof value !== "string");
      file.bytes =
        part === undefined ? Buffer.alloc(0) : Buffer.from(await (part as Blob).arrayBuffer());
    } else {
      file.bytes = body;
    }
    res.writeHead(200, { "content-type": "text/plain" }).end(`OK - ${file.bytes.length}`);
    this.notify();
  }

  private handleResponseUrl(url: URL, rawBody: string, res: ServerResponse): void {
    const id = decodeURIComponent(url.pathname.slice("/response/".length));
    this.responsePosts.push({
      seq: ++this.seq,
      id,
      url: `${this.origin}${url.pathname}`,
      body: parseJsonOr(rawBody),
      rawBody,
      at: new Date(),
    });
    sendJson(res, 200, { ok: true });
    this.notify();
  }

  private async handleApiCall(
    method: string,
    req: IncomingMessage,
    rawBody: string,
    res: ServerResponse,
  ): Promise<void> {
    const rawParams = await parseParams(req.headers["content-type"], rawBody);
    const params = decodeParams(rawParams);
    const token = bearerToken(req.headers.authorization) ?? rawParams.token;

    const fault = this.takeFault(method);
    if (fault?.kind === "slow") await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    let status = 200;
    let response: Record<string, unknown>;
    const headers: Record<string, string> = {};
    if (fault?.kind === "rate-limited") {
      status = 429;
      headers["retry-after"] = String(fault.retryAfterSeconds);
      response = { ok: false, error: "ratelimited" };
    } else if (fault?.kind === "http") {
      status = fault.status;
      response = { ok: false, error: fault.body ?? `http_${fault.status}` };
    } else if (fault?.kind === "error") {
      response = { ok: false, error: fault.error, ...fault.extra };
    } else {
      response = this.answer(method, params, token);
    }

    const call: RecordedCall = {
      seq: ++this.seq,
      method,
      params,
      rawParams,
      rawBody,
      token,
      at: new Date(),
      status,
      response,
    };
    if (fault !== undefined) call.fault = fault;
    this.recorded.push(call);

    if (res.destroyed) {
      // The client gave up while a slow answer was pending: nobody to answer.
    } else if (fault?.kind === "lost-answer") {
      req.socket.destroy();
    } else if (fault?.kind === "http" && fault.body !== undefined) {
      res.writeHead(status, { "content-type": "text/plain", ...headers }).end(fault.body);
    } else {
      sendJson(res, status, response, headers);
    }
    this.notify();
  }

  private takeFault(method: string): SlackFault | undefined {
    const queue = this.faults.get(method);
    const head = queue?.[0];
    if (queue === undefined || head === undefined) return undefined;
    head.remaining -= 1;
    if (head.remaining <= 0) queue.shift();
    return head.fault;
  }

  private answer(
    method: string,
    params: Record<string, unknown>,
    token: string | undefined,
  ): Record<string, unknown> {
    const accepted = this.options.acceptTokens;
    if (accepted !== undefined) {
      if (token === undefined || token === "") return { ok: false, error: "not_authed" };
      if (!accepted.includes(token)) return { ok: false, error: "invalid_auth" };
    }
    const handler = this.handlers[method];
    return handler?.({ params, token }) ?? { ok: true };
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) {
      if (waiter.check()) this.waiters.delete(waiter);
    }
  }

  // ---- the methods ----------------------------------------------------------------------

  private buildHandlers(): Record<string, Handler> {
    return {
      "auth.test": () => ({
        ok: true,
        url: `https://${this.teamDomain}.slack.com/`,
        team: "Fake Team",
        user: "dkim-bot",
        team_id: this.teamId,
        user_id: this.botUserId,
        bot_id: this.botId,
        is_enterprise_install: false,
      }),
      "apps.connections.open": ({ token }) => {
        const url = this.socketModeUrl;
        if (url === undefined) return undefined;
        if (!token?.startsWith("xapp-")) return { ok: false, error: "not_allowed_token_type" };
        return { ok: true, url };
      },
      "chat.postMessage": ({ params }) => {
        const channel = stringParam(params, "channel");
        const refusal = this.refusePost(channel);
        if (refusal) return refusal;
        if (params.text === undefined && params.blocks === undefined) {
          return { ok: false, error: "no_text" };
        }
        const ts = this.nextTs();
        const threadTs = stringParam(params, "thread_ts");
        const stored: StoredMessage = {
          channel: channel ?? "",
          ts,
          text: stringParam(params, "text"),
          blocks: params.blocks,
          user: this.botUserId,
          edits: 0,
          params,
        };
        if (threadTs !== undefined && threadTs !== "") stored.threadTs = threadTs;
        this.messages.set(messageKey(stored.channel, ts), stored);
        return { ok: true, channel, ts, message: this.messageJson(stored) };
      },
      "conversations.history": ({ params }) => {
        const channel = stringParam(params, "channel") ?? "";
        const refusal = this.refuseChannel(channel);
        if (refusal) return refusal;
        const oldest = Number(stringParam(params, "oldest") ?? "0");
        const withMetadata = String(params.include_all_metadata) === "true";
        const messages = [...this.messages.values()]
          .filter((m) => m.channel === channel && m.threadTs === undefined)
          .filter((m) => Number(m.ts) >= oldest)
          .sort((a, b) => Number(b.ts) - Number(a.ts))
          .slice(0, Number(stringParam(params, "limit") ?? "100"))
          .map((m) => ({
            ...this.messageJson(m),
            ...(withMetadata && m.params.metadata !== undefined
              ? { metadata: m.params.metadata }
              : {}),
          }));
        return { ok: true, messages, has_more: false };
      },
      "chat.update": ({ params }) => {
        const channel = stringParam(params, "channel") ?? "";
        const ts = stringParam(params, "ts") ?? "";
        const refusal = this.refuseChannel(channel);
        if (refusal) return refusal;
        const stored = this.messages.get(messageKey(channel, ts));
        if (stored === undefined) return { ok: false, error: "message_not_found" };
        if ("text" in params) stored.text = stringParam(params, "text");
        if ("blocks" in params) stored.blocks = params.blocks;
        stored.edits += 1;
        stored.params = { ...stored.params, ...params };
        return {
          ok: true,
          channel,
          ts,
          text: stored.text ?? "",
          message: this.messageJson(stored),
        };
      },
      "chat.postEphemeral": ({ params }) => {
        const refusal = this.refusePost(stringParam(params, "channel"));
        if (refusal) return refusal;
        if (stringParam(params, "user") === undefined)
          return { ok: false, error: "user_not_found" };
        return { ok: true, message_ts: this.nextTs() };
      },
      "chat.getPermalink": ({ params }) => {
        const channel = stringParam(params, "channel") ?? "";
        const ts = stringParam(params, "message_ts") ?? "";
        const refusal = this.refuseChannel(channel);
        if (refusal) return refusal;
        const stored = this.messages.get(messageKey(channel, ts));
        if (stored === undefined) return { ok: false, error: "message_not_found" };
        const base = `https://${this.teamDomain}.slack.com/archives/${channel}/p${ts.replace(".", "")}`;
        const permalink =
          stored.threadTs === undefined
            ? base
            : `${base}?thread_ts=${stored.threadTs}&cid=${channel}`;
        return { ok: true, channel, permalink };
      },
      "files.getUploadURLExternal": ({ params }) => {
        const filename = stringParam(params, "filename");
        const length = Number(stringParam(params, "length") ?? params.length);
        if (filename === undefined || filename === "" || !Number.isInteger(length) || length < 1) {
          return { ok: false, error: "invalid_arguments" };
        }
        const id = this.nextId("F");
        this.files.set(id, { id, filename, length, bytes: undefined, completed: false });
        return { ok: true, file_id: id, upload_url: `${this.origin}/upload/${id}` };
      },
      "files.completeUploadExternal": ({ params }) => this.completeUpload(params),
      "views.open": ({ params }) => this.openView("views.open", params),
      "views.push": ({ params }) => this.openView("views.push", params),
      "views.publish": ({ params }) => this.openView("views.publish", params),
      "views.update": ({ params }) => {
        const viewId = stringParam(params, "view_id");
        const externalId = stringParam(params, "external_id");
        const stored =
          viewId !== undefined
            ? this.views.get(viewId)
            : [...this.views.values()].find((v) => v.view.external_id === externalId);
        if (stored === undefined) return { ok: false, error: "not_found" };
        const hash = stringParam(params, "hash");
        if (hash !== undefined && hash !== stored.hash)
          return { ok: false, error: "hash_conflict" };
        const view = asRecord(params.view);
        if (view === undefined) return { ok: false, error: "invalid_arguments" };
        stored.hash = this.nextId("H");
        stored.view = this.viewJson(stored.id, view, stored.hash);
        return { ok: true, view: stored.view };
      },
      "conversations.info": ({ params }) => {
        const channel = stringParam(params, "channel") ?? "";
        const refusal = this.refuseChannel(channel);
        if (refusal) return refusal;
        const setup = this.channelSetup(channel);
        return {
          ok: true,
          channel: {
            id: channel,
            name: setup.name ?? channel.toLowerCase(),
            is_channel: !setup.isPrivate,
            is_group: false,
            is_im: false,
            is_mpim: false,
            is_private: setup.isPrivate ?? false,
            is_archived: setup.isArchived ?? false,
            is_general: false,
            is_member: setup.botIsMember ?? this.options.botInChannelsByDefault ?? true,
            created: 1_700_000_000,
            creator: "U0CREATOR",
          },
        };
      },
      "conversations.members": ({ params }) => {
        const channel = stringParam(params, "channel") ?? "";
        const refusal = this.refuseChannel(channel);
        if (refusal) return refusal;
        const setup = this.channelSetup(channel);
        const isMember = setup.botIsMember ?? this.options.botInChannelsByDefault ?? true;
        const members = [...(setup.members ?? []), ...(isMember ? [this.botUserId] : [])];
        return { ok: true, ...pageOf(members, params) };
      },
      "usergroups.users.list": ({ params }) => {
        const group = stringParam(params, "usergroup") ?? "";
        const users = this.usergroups.get(group);
        if (users === undefined) return { ok: false, error: "no_such_subteam" };
        return { ok: true, users: [...users] };
      },
      "users.info": ({ params }) => {
        const userId = stringParam(params, "user") ?? "";
        const setup = this.users.get(userId);
        if (setup === undefined && !/^[UW][A-Z0-9]+$/.test(userId)) {
          return { ok: false, error: "user_not_found" };
        }
        const name = setup?.name ?? userId.toLowerCase();
        return {
          ok: true,
          user: {
            id: userId,
            team_id: this.teamId,
            name,
            real_name: setup?.realName ?? name,
            deleted: setup?.deleted ?? false,
            is_bot: setup?.isBot ?? false,
            tz: setup?.tz ?? "Europe/Amsterdam",
            profile: { display_name: name, real_name: setup?.realName ?? name },
          },
        };
      },
    };
  }

  /**
   * Shares uploaded files: each must have been uploaded in full (as many bytes as declared);
   * with a channel they are posted there (in `thread_ts` when given), as one message carrying
   * `initial_comment` and the files.
   */
  private completeUpload(params: Record<string, unknown>): Record<string, unknown> {
    const listed = Array.isArray(params.files) ? params.files : undefined;
    if (listed === undefined || listed.length === 0) {
      return { ok: false, error: "invalid_arguments" };
    }
    const files: UploadedFile[] = [];
    for (const entry of listed) {
      const id = asRecord(entry)?.id;
      const file = typeof id === "string" ? this.files.get(id) : undefined;
      if (file === undefined || file.completed) return { ok: false, error: "file_not_found" };
      if (file.bytes === undefined || file.bytes.length !== file.length) {
        return { ok: false, error: "file_upload_size_mismatch" };
      }
      const title = asRecord(entry)?.title;
      if (typeof title === "string") file.title = title;
      files.push(file);
    }
    const channel = stringParam(params, "channel_id");
    const threadTs = stringParam(params, "thread_ts");
    const comment = stringParam(params, "initial_comment");
    if (channel !== undefined) {
      const refusal = this.refusePost(channel);
      if (refusal) return refusal;
      const ts = this.nextTs();
      const stored: StoredMessage = {
        channel,
        ts,
        text: comment ?? "",
        blocks: undefined,
        user: this.botUserId,
        edits: 0,
        params: { ...params, files: files.map((file) => this.fileJson(file)) },
      };
      if (threadTs !== undefined && threadTs !== "") stored.threadTs = threadTs;
      this.messages.set(messageKey(channel, ts), stored);
      for (const file of files) {
        file.channel = channel;
        file.messageTs = ts;
        if (stored.threadTs !== undefined) file.threadTs = stored.threadTs;
        if (comment !== undefined) file.comment = comment;
      }
    }
    for (const file of files) file.completed = true;
    return { ok: true, files: files.map((file) => this.fileJson(file)) };
  }

  private fileJson(file: UploadedFile): Record<string, unknown> {
    return {
      id: file.id,
      name: file.filename,
      title: file.title ?? file.filename,
      size: file.length,
      permalink: `https://${this.teamDomain}.slack.com/files/${this.botUserId}/${file.id}/${file.filename}`,
    };
  }

  private openView(method: string, params: Record<string, unknown>): Record<string, unknown> {
    if (method !== "views.publish" && stringParam(params, "trigger_id") === undefined) {
      return { ok: false, error: "invalid_arguments" };
    }
    const view = asRecord(params.view);
    if (view === undefined) return { ok: false, error: "invalid_arguments" };
    const id = this.nextId("V");
    const hash = this.nextId("H");
    const stored: StoredView = { id, view: this.viewJson(id, view, hash), hash, openedBy: method };
    const userId = stringParam(params, "user_id");
    if (userId !== undefined) stored.userId = userId;
    this.views.set(id, stored);
    return { ok: true, view: stored.view };
  }

  private viewJson(
    id: string,
    view: Record<string, unknown>,
    hash: string,
  ): Record<string, unknown> {
    return {
      id,
      team_id: this.teamId,
      type: view.type ?? "modal",
      private_metadata: "",
      callback_id: "",
      external_id: "",
      ...view,
      state: { values: {} },
      hash,
      root_view_id: id,
      app_id: this.appId,
      bot_id: this.botId,
    };
  }

  private messageJson(message: StoredMessage): Record<string, unknown> {
    return {
      type: "message",
      user: message.user,
      bot_id: this.botId,
      app_id: this.appId,
      team: this.teamId,
      ts: message.ts,
      text: message.text ?? "",
      ...(message.blocks === undefined ? {} : { blocks: message.blocks }),
      ...(message.threadTs === undefined ? {} : { thread_ts: message.threadTs }),
    };
  }

  private channelSetup(channel: string): ChannelSetup {
    return this.channels.get(channel) ?? {};
  }

  private refuseChannel(channel: string | undefined): Record<string, unknown> | undefined {
    if (channel === undefined || channel === "") return { ok: false, error: "channel_not_found" };
    if (this.channelSetup(channel).exists === false)
      return { ok: false, error: "channel_not_found" };
    return undefined;
  }

  private refusePost(channel: string | undefined): Record<string, unknown> | undefined {
    const refusal = this.refuseChannel(channel);
    if (refusal !== undefined || channel === undefined) return refusal;
    const setup = this.channelSetup(channel);
    if (setup.isArchived) return { ok: false, error: "is_archived" };
    const isMember = setup.botIsMember ?? this.options.botInChannelsByDefault ?? true;
    return isMember ? undefined : { ok: false, error: "not_in_channel" };
  }

  /** Slack ts: seconds.micros, unique and increasing (messages are keyed by it). */
  private nextTs(): string {
    const now = BigInt(Date.now()) * 1000n;
    this.lastTsMicros = now > this.lastTsMicros ? now : this.lastTsMicros + 1n;
    const text = this.lastTsMicros.toString().padStart(7, "0");
    return `${text.slice(0, -6)}.${text.slice(-6)}`;
  }

  private nextId(prefix: string): string {
    this.idCounter += 1;
    return `${prefix}0${this.idCounter.toString(36).toUpperCase()}${randomBytes(3).toString("hex").toUpperCase()}`;
  }

  private responseIdOf(idOrUrl: string): string {
    const prefix = `${this.origin}/response/`;
    return idOrUrl.startsWith(prefix) ? decodeURIComponent(idOrUrl.slice(prefix.length)) : idOrUrl;
  }
}

/** Starts a fake Slack Web API on 127.0.0.1 on an ephemeral port. */
export function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  return FakeSlack.start(options);
}

// ---- parsing helpers ------------------------------------------------------------------

function messageKey(channel: string, ts: string): string {
  return `${channel}/${ts}`;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
  res.end(JSON.stringify(body));
}

function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? "");
  return match?.[1];
}

async function parseParams(
  contentType: string | undefined,
  rawBody: string,
): Promise<Record<string, string>> {
  const type = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (type === "application/json") {
    const parsed = asRecord(parseJsonOr(rawBody));
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(parsed ?? {})) {
      out[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
    return out;
  }
  if (type === "multipart/form-data") {
    // web-api switches to multipart when an argument is a Buffer (file uploads).
    const form = await new Response(rawBody, {
      headers: { "content-type": contentType ?? "" },
    }).formData();
    const out: Record<string, string> = {};
    for (const [key, value] of form.entries()) {
      out[key] =
        typeof value === "string"
          ? value
          : JSON.stringify({ filename: value.name, size: value.size, type: value.type });
    }
    return out;
  }
  return Object.fromEntries(new URLSearchParams(rawBody));
}

/**
 * web-api JSON-encodes every argument that is not a string, number or boolean, so a field
 * that is a JSON object or array decodes back to what the app passed. `text` stays text.
 */
function decodeParams(raw: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    out[key] = key !== "text" && /^\s*[[{]/.test(value) ? parseJsonOr(value) : value;
  }
  return out;
}

function parseJsonOr(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function stringParam(params: Record<string, unknown>, key: string): string | undefined {
  const value = params[key];
  return typeof value === "string" ? value : undefined;
}

/** Cursor pagination as Slack does it: `cursor` is opaque, `next_cursor` "" on the last page. */
function pageOf(items: string[], params: Record<string, unknown>): Record<string, unknown> {
  const limit = Math.max(1, Number(stringParam(params, "limit") ?? "100") || 100);
  const cursor = stringParam(params, "cursor");
  const start = cursor ? Number(Buffer.from(cursor, "base64").toString("utf8").slice(7)) || 0 : 0;
  const end = start + limit;
  const next = end < items.length ? Buffer.from(`offset:${end}`).toString("base64") : "";
  return { members: items.slice(start, end), response_metadata: { next_cursor: next } };
}
