/**
 * Builds and sends what Slack sends to `POST /slack/events`, signed as Slack signs it, so
 * end-to-end tests go through Bolt's real verification.
 *
 * Matches @slack/bolt 5 (receivers/HTTPModuleFunctions.js, verify-request.js):
 * - signature `v0=` + hex HMAC-SHA256(secret, `v0:{timestamp}:{rawBody}`) in X-Slack-Signature,
 *   the timestamp (seconds) in X-Slack-Request-Timestamp; older than 5 minutes is refused;
 * - the content type must be exactly `application/x-www-form-urlencoded` (Bolt compares the
 *   whole header, so `; charset=UTF-8`, which fetch adds to a URLSearchParams body, would make
 *   it parse the form as JSON). Bodies are therefore sent as strings with an explicit header;
 * - interactive payloads are one form field, `payload=<json>`.
 */
import { createHmac, randomBytes } from "node:crypto";

export interface SignOptions {
  /** "bad": a well-formed signature made with another secret; "missing": no signature header. */
  signature?: "valid" | "bad" | "missing";
  /** Sign with a timestamp 6 minutes old (correctly signed, but stale). */
  stale?: boolean;
  /** Use this timestamp (seconds) instead of now. */
  timestampSeconds?: number;
  /** X-Slack-Retry-Num, as Slack sends when it retries a delivery. */
  retryNum?: number;
  /** X-Slack-Retry-Reason, e.g. "http_timeout". */
  retryReason?: string;
}

export interface SlackHttpResponse {
  status: number;
  /** The response body as text (the ack body: empty, a message, or JSON). */
  body: string;
  /** The body decoded, when it is JSON. */
  json?: unknown;
  headers: Headers;
}

export interface WorkspaceOptions {
  teamId?: string;
  /** An Enterprise Grid org: the click's `enterprise` (none by default). */
  enterpriseId?: string;
  teamDomain?: string;
  apiAppId?: string;
  userName?: string;
}

export interface SlashCommandArgs extends SignOptions, WorkspaceOptions {
  text: string;
  userId: string;
  channelId: string;
  /** Where Bolt's respond() will POST: give a FakeSlack.responseUrl() so nothing leaves the machine. */
  responseUrl: string;
  command?: string;
  channelName?: string;
  triggerId?: string;
}

export interface BlockActionArgs extends SignOptions, WorkspaceOptions {
  actionId: string;
  value?: string;
  userId: string;
  channelId: string;
  /** ts of the message that carries the button. */
  messageTs: string;
  responseUrl: string;
  blockId?: string;
  /** The message as Slack would include it (blocks/text of the request message). */
  message?: { text?: string; blocks?: unknown[]; threadTs?: string; user?: string };
  /** Button label, for realism. */
  buttonText?: string;
  channelName?: string;
  triggerId?: string;
  /** A button on an ephemeral message (then Slack sends no `message`). */
  isEphemeral?: boolean;
}

/** One input of a submitted view, as `view.state.values[blockId][actionId]`. */
export type ViewStateInput =
  /** plain_text_input with this value; null is an empty (optional) field. */
  | string
  | null
  /** static_select; null is nothing selected. */
  | { select: string | null; text?: string }
  /** checkboxes: the values of the ticked options. */
  | { checked: string[] }
  /** Anything else, sent as is (must include `type`). */
  | { raw: Record<string, unknown> };

export interface ViewSubmissionArgs extends SignOptions, WorkspaceOptions {
  callbackId: string;
  privateMetadata?: string;
  values: Record<string, Record<string, ViewStateInput>>;
  userId: string;
  viewId?: string;
  /** The view's blocks, if a listener reads them. */
  blocks?: unknown[];
  triggerId?: string;
}

interface Workspace {
  teamId: string;
  teamDomain: string;
  apiAppId: string;
}

/** The same workspace FakeSlack reports from auth.test, so ids line up by default. */
const DEFAULTS: Workspace = {
  teamId: "T0FAKETEAM",
  teamDomain: "fake-team",
  apiAppId: "A0FAKEAPP",
};

/** Slack's v0 request signature: `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{rawBody}`. */
export function signSlackRequest(
  secret: string,
  timestampSeconds: number,
  rawBody: string,
): string {
  const digest = createHmac("sha256", secret)
    .update(`v0:${timestampSeconds}:${rawBody}`)
    .digest("hex");
  return `v0=${digest}`;
}

/** POSTs `rawBody` to `<baseUrl>/slack/events` with Slack's headers, signed per `options`. */
export async function sendSignedRequest(
  baseUrl: string,
  secret: string,
  rawBody: string,
  contentType: "application/x-www-form-urlencoded" | "application/json",
  options: SignOptions = {},
): Promise<SlackHttpResponse> {
  const now = Math.floor(Date.now() / 1000);
  const timestamp = options.timestampSeconds ?? (options.stale ? now - 6 * 60 : now);
  const headers: Record<string, string> = {
    "content-type": contentType,
    "x-slack-request-timestamp": String(timestamp),
    "user-agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
  };
  const mode = options.signature ?? "valid";
  if (mode !== "missing") {
    const signingSecret = mode === "bad" ? `${secret}-not-the-secret` : secret;
    headers["x-slack-signature"] = signSlackRequest(signingSecret, timestamp, rawBody);
  }
  if (options.retryNum !== undefined) headers["x-slack-retry-num"] = String(options.retryNum);
  if (options.retryReason !== undefined) headers["x-slack-retry-reason"] = options.retryReason;

  const response = await fetch(eventsUrl(baseUrl), { method: "POST", headers, body: rawBody });
  const body = await response.text();
  const result: SlackHttpResponse = { status: response.status, body, headers: response.headers };
  if (body.trim() !== "") {
    try {
      result.json = JSON.parse(body) as unknown;
    } catch {
      // Not JSON (an empty ack or a plain-text message): `body` has it.
    }
  }
  return result;
}

/** The form a slash command arrives as. Exposed for tests that need the exact fields. */
export function slashCommandForm(args: SlashCommandArgs): URLSearchParams {
  const workspace = { ...DEFAULTS, ...pickWorkspace(args) };
  return new URLSearchParams({
    token: "legacy-verification-token",
    team_id: workspace.teamId,
    team_domain: workspace.teamDomain,
    channel_id: args.channelId,
    channel_name: args.channelName ?? "dkim-requests",
    user_id: args.userId,
    user_name: args.userName ?? args.userId.toLowerCase(),
    command: args.command ?? "/dkim",
    text: args.text,
    api_app_id: workspace.apiAppId,
    is_enterprise_install: "false",
    response_url: args.responseUrl,
    trigger_id: args.triggerId ?? triggerId(),
  });
}

export function sendSlashCommand(
  baseUrl: string,
  secret: string,
  args: SlashCommandArgs,
): Promise<SlackHttpResponse> {
  return sendSignedRequest(
    baseUrl,
    secret,
    slashCommandForm(args).toString(),
    "application/x-www-form-urlencoded",
    args,
  );
}

export function blockActionPayload(args: BlockActionArgs): Record<string, unknown> {
  const workspace = { ...DEFAULTS, ...pickWorkspace(args) };
  const blockId = args.blockId ?? "request_actions";
  const actionTs = slackTs();
  const action: Record<string, unknown> = {
    type: "button",
    action_id: args.actionId,
    block_id: blockId,
    text: { type: "plain_text", text: args.buttonText ?? args.actionId, emoji: true },
    action_ts: actionTs,
  };
  if (args.value !== undefined) action.value = args.value;
  const payload: Record<string, unknown> = {
    type: "block_actions",
    user: {
      id: args.userId,
      username: args.userName ?? args.userId.toLowerCase(),
      name: args.userName ?? args.userId.toLowerCase(),
      team_id: workspace.teamId,
    },
    api_app_id: workspace.apiAppId,
    token: "legacy-verification-token",
    container: {
      type: "message",
      message_ts: args.messageTs,
      channel_id: args.channelId,
      is_ephemeral: args.isEphemeral ?? false,
    },
    trigger_id: args.triggerId ?? triggerId(),
    team: { id: workspace.teamId, domain: workspace.teamDomain },
    enterprise:
      args.enterpriseId === undefined ? null : { id: args.enterpriseId, name: "Other org" },
    is_enterprise_install: false,
    channel: { id: args.channelId, name: args.channelName ?? "dkim-requests" },
    state: { values: {} },
    response_url: args.responseUrl,
    actions: [action],
  };
  if (!args.isEphemeral) {
    const message: Record<string, unknown> = {
      type: "message",
      subtype: "bot_message",
      user: args.message?.user ?? "U0FAKEBOT",
      bot_id: "B0FAKEBOT",
      app_id: workspace.apiAppId,
      team: workspace.teamId,
      ts: args.messageTs,
      text: args.message?.text ?? "",
      blocks: args.message?.blocks ?? [],
    };
    if (args.message?.threadTs !== undefined) message.thread_ts = args.message.threadTs;
    payload.message = message;
  }
  return payload;
}

export function sendBlockAction(
  baseUrl: string,
  secret: string,
  args: BlockActionArgs,
): Promise<SlackHttpResponse> {
  return sendPayload(baseUrl, secret, blockActionPayload(args), args);
}

/** `view.state.values[blockId][actionId]` in the shapes Slack uses for each element type. */
export function viewStateValues(
  values: Record<string, Record<string, ViewStateInput>>,
): Record<string, Record<string, Record<string, unknown>>> {
  const out: Record<string, Record<string, Record<string, unknown>>> = {};
  for (const [blockId, actions] of Object.entries(values)) {
    const block: Record<string, Record<string, unknown>> = {};
    for (const [actionId, input] of Object.entries(actions)) {
      block[actionId] = elementState(input);
    }
    out[blockId] = block;
  }
  return out;
}

function elementState(input: ViewStateInput): Record<string, unknown> {
  if (input === null || typeof input === "string") {
    return { type: "plain_text_input", value: input };
  }
  if ("raw" in input) return input.raw;
  if ("checked" in input) {
    return { type: "checkboxes", selected_options: input.checked.map((value) => option(value)) };
  }
  return {
    type: "static_select",
    selected_option: input.select === null ? null : option(input.select, input.text),
  };
}

function option(value: string, text: string = value): Record<string, unknown> {
  return { text: { type: "plain_text", text, emoji: true }, value };
}

export function viewSubmissionPayload(args: ViewSubmissionArgs): Record<string, unknown> {
  const workspace = { ...DEFAULTS, ...pickWorkspace(args) };
  const viewId = args.viewId ?? `V0${randomBytes(4).toString("hex").toUpperCase()}`;
  return {
    type: "view_submission",
    team: { id: workspace.teamId, domain: workspace.teamDomain },
    user: {
      id: args.userId,
      username: args.userName ?? args.userId.toLowerCase(),
      name: args.userName ?? args.userId.toLowerCase(),
      team_id: workspace.teamId,
    },
    api_app_id: workspace.apiAppId,
    token: "legacy-verification-token",
    trigger_id: args.triggerId ?? triggerId(),
    view: {
      id: viewId,
      team_id: workspace.teamId,
      type: "modal",
      blocks: args.blocks ?? [],
      private_metadata: args.privateMetadata ?? "",
      callback_id: args.callbackId,
      state: { values: viewStateValues(args.values) },
      hash: `${Math.floor(Date.now() / 1000)}.${randomBytes(4).toString("hex")}`,
      title: { type: "plain_text", text: "DKIM setup", emoji: true },
      clear_on_close: false,
      notify_on_close: false,
      close: { type: "plain_text", text: "Cancel", emoji: true },
      submit: { type: "plain_text", text: "Submit", emoji: true },
      previous_view_id: null,
      root_view_id: viewId,
      app_id: workspace.apiAppId,
      external_id: "",
      app_installed_team_id: workspace.teamId,
      bot_id: "B0FAKEBOT",
    },
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  };
}

export function sendViewSubmission(
  baseUrl: string,
  secret: string,
  args: ViewSubmissionArgs,
): Promise<SlackHttpResponse> {
  return sendPayload(baseUrl, secret, viewSubmissionPayload(args), args);
}

/** Interactive payloads (block_actions, view_submission, ...) travel as `payload=<json>`. */
export function sendPayload(
  baseUrl: string,
  secret: string,
  payload: Record<string, unknown>,
  options: SignOptions = {},
): Promise<SlackHttpResponse> {
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  return sendSignedRequest(baseUrl, secret, body, "application/x-www-form-urlencoded", options);
}

function eventsUrl(baseUrl: string): string {
  const trimmed = baseUrl.replace(/\/+$/, "");
  return trimmed.endsWith("/slack/events") ? trimmed : `${trimmed}/slack/events`;
}

function pickWorkspace(args: WorkspaceOptions): Partial<Workspace> {
  const out: Partial<Workspace> = {};
  if (args.teamId !== undefined) out.teamId = args.teamId;
  if (args.teamDomain !== undefined) out.teamDomain = args.teamDomain;
  if (args.apiAppId !== undefined) out.apiAppId = args.apiAppId;
  return out;
}

function triggerId(): string {
  return `${Date.now()}.${Math.floor(Math.random() * 1e12)}.${randomBytes(16).toString("hex")}`;
}

function slackTs(): string {
  return (Date.now() / 1000).toFixed(6);
}

/**
 * An interactive payload sent as Slack sends it (`payload=<text>`), but with any text at all as
 * the payload: `null`, a list, a number, broken JSON. Signed per `options`.
 */
export function sendRawPayload(
  baseUrl: string,
  secret: string,
  payloadText: string,
  options: SignOptions = {},
): Promise<SlackHttpResponse> {
  const body = new URLSearchParams({ payload: payloadText }).toString();
  return sendSignedRequest(baseUrl, secret, body, "application/x-www-form-urlencoded", options);
}

/** Any JSON value as an Events API body (`application/json`), signed per `options`. */
export function sendJsonBody(
  baseUrl: string,
  secret: string,
  value: unknown,
  options: SignOptions = {},
): Promise<SlackHttpResponse> {
  return sendSignedRequest(baseUrl, secret, JSON.stringify(value), "application/json", options);
}

export interface AppHomeOpenedArgs extends SignOptions, WorkspaceOptions {
  userId: string;
  /** "home" (default) or "messages". */
  tab?: "home" | "messages";
}

/** The Events API body of `app_home_opened`, as Slack sends it when someone opens the app's Home. */
export function appHomeOpenedBody(args: AppHomeOpenedArgs): Record<string, unknown> {
  const workspace = { ...DEFAULTS, ...pickWorkspace(args) };
  const eventTs = slackTs();
  return {
    token: "legacy-verification-token",
    team_id: workspace.teamId,
    api_app_id: workspace.apiAppId,
    event: {
      type: "app_home_opened",
      user: args.userId,
      channel: `D0${args.userId.slice(1)}`,
      tab: args.tab ?? "home",
      event_ts: eventTs,
    },
    type: "event_callback",
    event_id: `Ev${randomBytes(5).toString("hex").toUpperCase()}`,
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [
      {
        enterprise_id: null,
        team_id: workspace.teamId,
        user_id: "U0FAKEBOT",
        is_bot: true,
        is_enterprise_install: false,
      },
    ],
    is_ext_shared_channel: false,
  };
}

export function sendAppHomeOpened(
  baseUrl: string,
  secret: string,
  args: AppHomeOpenedArgs,
): Promise<SlackHttpResponse> {
  return sendJsonBody(baseUrl, secret, appHomeOpenedBody(args), args);
}

export interface HomeBlockActionArgs extends SignOptions, WorkspaceOptions {
  actionId: string;
  value?: string;
  userId: string;
  /** The published Home view the button is on (its id and blocks). */
  viewId: string;
  blocks?: unknown[];
  triggerId?: string;
}

/**
 * A click on a button of App Home, as Slack sends it: the container is the view, and there is
 * no channel, no message and no response_url.
 */
export function homeBlockActionPayload(args: HomeBlockActionArgs): Record<string, unknown> {
  const workspace = { ...DEFAULTS, ...pickWorkspace(args) };
  const action: Record<string, unknown> = {
    type: "button",
    action_id: args.actionId,
    block_id: "home_item",
    text: { type: "plain_text", text: args.actionId, emoji: true },
    action_ts: slackTs(),
  };
  if (args.value !== undefined) action.value = args.value;
  return {
    type: "block_actions",
    user: {
      id: args.userId,
      username: args.userId.toLowerCase(),
      name: args.userId.toLowerCase(),
      team_id: workspace.teamId,
    },
    api_app_id: workspace.apiAppId,
    token: "legacy-verification-token",
    container: { type: "view", view_id: args.viewId },
    trigger_id: args.triggerId ?? triggerId(),
    team: { id: workspace.teamId, domain: workspace.teamDomain },
    enterprise: null,
    is_enterprise_install: false,
    view: {
      id: args.viewId,
      team_id: workspace.teamId,
      type: "home",
      blocks: args.blocks ?? [],
      private_metadata: "",
      callback_id: "",
      state: { values: {} },
      hash: `${Math.floor(Date.now() / 1000)}.${randomBytes(4).toString("hex")}`,
      title: { type: "plain_text", text: "View Title", emoji: true },
      clear_on_close: false,
      notify_on_close: false,
      close: null,
      submit: null,
      previous_view_id: null,
      root_view_id: args.viewId,
      app_id: workspace.apiAppId,
      external_id: "",
      app_installed_team_id: workspace.teamId,
      bot_id: "B0FAKEBOT",
    },
    actions: [action],
    state: { values: {} },
  };
}

export function sendHomeBlockAction(
  baseUrl: string,
  secret: string,
  args: HomeBlockActionArgs,
): Promise<SlackHttpResponse> {
  return sendPayload(baseUrl, secret, homeBlockActionPayload(args), args);
}
