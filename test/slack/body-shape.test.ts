import { describe, expect, it } from "vitest";
import { type BodyVerdict, inspectSlackBody } from "../../src/slack/body-shape.js";
import { blockActionPayload, viewSubmissionPayload } from "../helpers/slack-requests.js";

type Fields = Record<string, unknown>;

const click = (change: (payload: Fields) => void = () => {}): Fields => {
  const payload = blockActionPayload({
    actionId: "dkim_approve",
    value: "abc",
    userId: "U1",
    channelId: "C1",
    messageTs: "1.1",
    responseUrl: "https://hooks.slack.test/r/1",
  });
  change(payload);
  return payload;
};
const firstAction = (payload: Fields): Fields => (payload.actions as Fields[])[0] as Fields;

const submission = (change: (payload: Fields) => void = () => {}): Fields => {
  const payload = viewSubmissionPayload({
    callbackId: "dkim_setup_form",
    values: {},
    userId: "U1",
  });
  change(payload);
  return payload;
};

const command: Fields = {
  command: "/dkim",
  user_id: "U1",
  channel_id: "C1",
  text: "help",
  response_url: "https://hooks.slack.test/c/1",
  trigger_id: "1.2.3",
};

describe("inspectSlackBody: what Slack sends passes", () => {
  it.each<[string, unknown]>([
    ["a slash command", command],
    ["a slash command with empty text", { ...command, text: "" }],
    ["a button click", click()],
    ["a click on an ephemeral message (no message)", click((p) => delete p.message)],
    ["a click from App Home (no channel)", click((p) => delete p.channel)],
    ["a click with no value", click((p) => delete firstAction(p).value)],
    ["a form submission", submission()],
    ["ssl_check", { ssl_check: "1", token: "x" }],
    ["url_verification", { type: "url_verification", challenge: "c" }],
    [
      "an event",
      {
        type: "event_callback",
        team_id: "T1",
        event: { type: "app_home_opened", user: "U1", channel: "D1" },
        authorizations: [{ team_id: "T1" }],
      },
    ],
    ["a shortcut", { type: "shortcut", callback_id: "x", user: { id: "U1" }, trigger_id: "1.2.3" }],
    ["a view_closed", { type: "view_closed", user: { id: "U1" }, view: { callback_id: "x" } }],
  ])("%s", (_name, body) => {
    expect(inspectSlackBody(body)).toEqual({ kind: "pass" });
  });
});

describe("inspectSlackBody: no person to answer is a refusal", () => {
  it.each<[string, unknown, string]>([
    ["null", null, "the body is null, not an object"],
    ["a list", [], "the body is a list, not an object"],
    ["a number", 5, "the body is a number, not an object"],
    ["a string", "x", "the body is a string, not an object"],
    ["an empty object", {}, "neither a command, an event nor a typed payload"],
    ["a form field of our own", { foo: "bar" }, "neither a command, an event nor a typed payload"],
    [
      "a click without a user",
      click((p) => delete p.user),
      'a "block_actions" payload without user.id',
    ],
    [
      "a click whose user id is a number",
      click((p) => {
        (p.user as Fields).id = 5;
      }),
      'a "block_actions" payload without user.id',
    ],
    ["a command without text", { ...command, text: undefined }, "a slash command without text"],
    [
      "a command without user",
      { ...command, user_id: undefined },
      "a slash command without user_id",
    ],
    [
      "a command with a list for a response_url",
      { ...command, response_url: [] },
      "a slash command whose response_url is a list",
    ],
    [
      "an event that is a number",
      { type: "event_callback", event: 5 },
      "an event without an event object and type",
    ],
    [
      "an event whose channel is null",
      { type: "event_callback", event: { type: "message", channel: null } },
      "an event whose channel is null",
    ],
    [
      "an event with authorizations of null",
      { type: "event_callback", event: { type: "message" }, authorizations: [null] },
      "an event whose authorizations are not a list of objects",
    ],
  ])("%s", (_name, body, problem) => {
    expect(inspectSlackBody(body)).toEqual({ kind: "refuse", problem });
  });
});

describe("inspectSlackBody: a person's unreadable click or form is acked and answered", () => {
  const unreadableClick = (problem: string, channel = true): BodyVerdict => ({
    kind: "unreadable-click",
    problem,
    userId: "U1",
    responseUrl: "https://hooks.slack.test/r/1",
    ...(channel ? { channelId: "C1" } : {}),
  });

  it.each<[string, Fields, string]>([
    ["no actions", click((p) => delete p.actions), "it has no actions"],
    [
      "actions empty",
      click((p) => {
        p.actions = [];
      }),
      "it has no actions",
    ],
    [
      "actions an object",
      click((p) => {
        p.actions = {};
      }),
      "it has no actions",
    ],
    [
      "actions [null]",
      click((p) => {
        p.actions = [null];
      }),
      "its action has no action_id",
    ],
    ["no action_id", click((p) => delete firstAction(p).action_id), "its action has no action_id"],
    [
      "action_id a number",
      click((p) => {
        firstAction(p).action_id = 7;
      }),
      "its action has no action_id",
    ],
    [
      "block_id a number",
      click((p) => {
        firstAction(p).block_id = 7;
      }),
      "its block_id is a number",
    ],
    [
      "a legacy name field",
      click((p) => {
        p.name = "x";
      }),
      "it has a legacy name field",
    ],
  ])("%s", (_name, body, problem) => {
    expect(inspectSlackBody(body)).toEqual(unreadableClick(problem));
  });

  it("answers a click with a broken channel where the response_url says", () => {
    const nullChannel = click((p) => {
      p.channel = null;
    });
    expect(inspectSlackBody(nullChannel)).toEqual(unreadableClick("its channel is null", false));
    const textChannel = click((p) => {
      p.channel = "C1";
    });
    expect(inspectSlackBody(textChannel)).toEqual(
      unreadableClick("its channel is a string", false),
    );
  });

  it("answers a click with a broken response_url without one", () => {
    expect(
      inspectSlackBody(
        click((p) => {
          p.response_url = 5;
        }),
      ),
    ).toEqual({
      kind: "unreadable-click",
      problem: "its response_url is a number",
      userId: "U1",
      channelId: "C1",
    });
  });

  it.each<[string, Fields, string]>([
    ["no view", submission((p) => delete p.view), "it has no view with a callback_id"],
    [
      "view null",
      submission((p) => {
        p.view = null;
      }),
      "it has no view with a callback_id",
    ],
    [
      "no state",
      submission((p) => delete (p.view as Fields).state),
      "its view has no state values",
    ],
    [
      "response_urls null",
      submission((p) => {
        p.response_urls = null;
      }),
      "its response_urls are not a list of response URLs",
    ],
  ])("a form submission with %s", (_name, body, problem) => {
    expect(inspectSlackBody(body)).toEqual({ kind: "unreadable-form", problem, userId: "U1" });
  });

  it("acks interactions the bot never asks for", () => {
    expect(inspectSlackBody({ type: "dialog_submission", user: { id: "U1" } })).toEqual({
      kind: "ignore",
      problem: 'a "dialog_submission" payload, which this bot never asks for',
      userId: "U1",
    });
    expect(
      inspectSlackBody({ type: "shortcut", callback_id: "x", user: { id: "U1" }, actions: [] }),
    ).toEqual({ kind: "ignore", problem: "it has actions", userId: "U1" });
  });
});
