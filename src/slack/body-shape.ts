/**
 * What a request to `POST /slack/events` must look like before Bolt and the listeners read it.
 * Bolt reads `body.ssl_check`, `body.user.id`, `body.channel.id`, `[payload] = body.actions`,
 * `body.view.callback_id` and more without checking them, so a signed body of `null`, an array,
 * `channel: null` or `actions: {}` throws inside its receiver: a 500, a request never acked, or
 * (for `null`) an unhandled rejection that stops the process. This module decides, without
 * side effects, what to do with a parsed body instead.
 */

export type BodyVerdict =
  /** Slack's own shape: Bolt and the listeners take it. */
  | { kind: "pass" }
  /** Not a Slack request this bot can read, and no person to answer: 400. */
  | { kind: "refuse"; problem: string }
  /** A click by `userId` that cannot be read: ack it and tell them, through `responseUrl` if any. */
  | {
      kind: "unreadable-click";
      problem: string;
      userId: string;
      responseUrl?: string;
      channelId?: string;
    }
  /** A form submission by `userId` that cannot be read: ack it with a view that says so. */
  | { kind: "unreadable-form"; problem: string; userId: string }
  /** An interaction from a person that this bot never asks for (legacy dialogs, …): ack it, do nothing. */
  | { kind: "ignore"; problem: string; userId: string };

type Fields = Record<string, unknown>;

const PASS: BodyVerdict = { kind: "pass" };

/** Interaction types for which Bolt has a listener kind (see getTypeAndConversation). */
const BOLT_INTERACTIONS = new Set([
  "block_actions",
  "block_suggestion",
  "view_submission",
  "view_closed",
  "shortcut",
  "message_action",
]);

export function inspectSlackBody(body: unknown): BodyVerdict {
  if (!isFields(body)) return refuse(`the body is ${describe(body)}, not an object`);
  // Bolt answers these two itself (ssl_check is the one request Slack does not sign).
  if (body.ssl_check === "1" || body.type === "url_verification") return PASS;
  // In Bolt's own order: an event, a command, then an interaction by its type.
  if (body.event !== undefined) return inspectEvent(body);
  if (body.command !== undefined) return inspectCommand(body);
  return inspectInteraction(body);
}

function inspectEvent(body: Fields): BodyVerdict {
  const { event } = body;
  if (!isFields(event) || typeof event.type !== "string") {
    return refuse("an event without an event object and type");
  }
  // Bolt uses `'x' in event.channel`, `event.user.id` and `event.item.channel` on these.
  for (const key of ["channel", "user"] as const) {
    const value = event[key];
    if (value !== undefined && typeof value !== "string" && !isFields(value)) {
      return refuse(`an event whose ${key} is ${describe(value)}`);
    }
  }
  for (const key of ["item", "subteam"] as const) {
    if (event[key] !== undefined && !isFields(event[key])) {
      return refuse(`an event whose ${key} is ${describe(event[key])}`);
    }
  }
  const { authorizations } = body;
  if (
    authorizations !== undefined &&
    !(Array.isArray(authorizations) && authorizations.every(isFields))
  ) {
    return refuse("an event whose authorizations are not a list of objects");
  }
  return PASS;
}

function inspectCommand(body: Fields): BodyVerdict {
  for (const key of ["command", "user_id", "channel_id", "text"] as const) {
    if (typeof body[key] !== "string") return refuse(`a slash command without ${key}`);
  }
  for (const key of ["response_url", "trigger_id"] as const) {
    if (body[key] !== undefined && typeof body[key] !== "string") {
      return refuse(`a slash command whose ${key} is ${describe(body[key])}`);
    }
  }
  return PASS;
}

function inspectInteraction(body: Fields): BodyVerdict {
  const { type, user } = body;
  if (typeof type !== "string") return refuse("neither a command, an event nor a typed payload");
  const userId = isFields(user) && typeof user.id === "string" ? user.id : undefined;
  if (userId === undefined) return refuse(`a ${clip(type)} payload without user.id`);
  if (!BOLT_INTERACTIONS.has(type)) {
    return {
      kind: "ignore",
      problem: `a ${clip(type)} payload, which this bot never asks for`,
      userId,
    };
  }
  // From here on a person acted: they are answered, never left with Slack's error.
  const responseUrl = typeof body.response_url === "string" ? body.response_url : undefined;
  const channelId =
    isFields(body.channel) && typeof body.channel.id === "string" ? body.channel.id : undefined;
  const problem = sharedProblem(body) ?? typeProblem(type, body);
  if (problem === undefined) return PASS;
  switch (type) {
    case "block_actions":
      return {
        kind: "unreadable-click",
        problem,
        userId,
        ...(responseUrl === undefined ? {} : { responseUrl }),
        ...(channelId === undefined ? {} : { channelId }),
      };
    case "view_submission":
      return { kind: "unreadable-form", problem, userId };
    default:
      return { kind: "ignore", problem, userId };
  }
}

/** What Bolt reads on every interaction. */
function sharedProblem(body: Fields): string | undefined {
  const { channel, response_url: responseUrl, response_urls: responseUrls } = body;
  // Bolt sorts by these fields before it looks at `type`: a stray one sends the payload to
  // listeners of another kind, where nothing acks it.
  if (body.type !== "block_actions" && body.actions !== undefined) return "it has actions";
  if (body.name !== undefined) return "it has a legacy name field";
  if (channel !== undefined && !(isFields(channel) && typeof channel.id === "string")) {
    return `its channel is ${describe(channel)}`;
  }
  if (responseUrl !== undefined && typeof responseUrl !== "string") {
    return `its response_url is ${describe(responseUrl)}`;
  }
  if (
    responseUrls !== undefined &&
    !(
      Array.isArray(responseUrls) &&
      responseUrls.every((entry) => isFields(entry) && typeof entry.response_url === "string")
    )
  ) {
    return "its response_urls are not a list of response URLs";
  }
  return undefined;
}

function typeProblem(type: string, body: Fields): string | undefined {
  switch (type) {
    case "block_actions": {
      const { actions } = body;
      if (!Array.isArray(actions) || actions.length === 0) return "it has no actions";
      const [first] = actions;
      if (!isFields(first) || typeof first.action_id !== "string") {
        return "its action has no action_id";
      }
      if (first.block_id !== undefined && typeof first.block_id !== "string") {
        return `its block_id is ${describe(first.block_id)}`;
      }
      return undefined;
    }
    case "view_submission":
    case "view_closed": {
      const { view } = body;
      if (!isFields(view) || typeof view.callback_id !== "string") {
        return "it has no view with a callback_id";
      }
      if (type === "view_submission" && !(isFields(view.state) && isFields(view.state.values))) {
        return "its view has no state values";
      }
      return undefined;
    }
    case "block_suggestion":
      return typeof body.action_id === "string" ? undefined : "it has no action_id";
    default:
      return undefined;
  }
}

function refuse(problem: string): BodyVerdict {
  return { kind: "refuse", problem };
}

function isFields(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** What a value is, for a log line: never the value itself, which may be long or odd. */
function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

function clip(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 39)}…` : text);
}
