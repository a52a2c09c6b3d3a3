/**
 * What a person types: the setup form (opened by `/dkim setup` alone, inline errors on submit,
 * the request posted where the form came from) and bad command input. Bad input is answered to
 * that person only; nothing is posted, no key is made, SpamExperts is never called.
 */
import { describe, expect, it } from "vitest";
import { CALLBACK_IDS, SETUP_FIELDS, TESTING_OPTION_VALUE } from "../../src/slack/ui/ids.js";
import type { ViewStateInput } from "../helpers/slack-requests.js";
import {
  apiCallsFor,
  commandAnswer,
  newTriggerId,
  openedView,
  postsMentioning,
  requestMessagesFor,
  statusLines,
} from "./flows.js";
import { CHANNEL, REQUESTER, useBot } from "./harness.js";
import { buttonsOf, recordValueShown, textsOf } from "./support.js";

const harness = useBot();

interface FormFields {
  domain: string;
  selector: string;
  bits?: string;
  /** The outgoing users box as typed, lines and all; null leaves it empty. */
  users?: string | null;
  testing?: boolean;
  reason?: string | null;
}

/** `view.state.values` of the setup form, as Slack sends it on submit. */
function setupFormValues(fields: FormFields): Record<string, Record<string, ViewStateInput>> {
  const input = (ids: { blockId: string; actionId: string }, value: ViewStateInput) => ({
    [ids.blockId]: { [ids.actionId]: value },
  });
  return {
    ...input(SETUP_FIELDS.domain, fields.domain),
    ...input(SETUP_FIELDS.selector, fields.selector),
    ...input(SETUP_FIELDS.bits, { select: fields.bits ?? "1024" }),
    ...input(SETUP_FIELDS.usernames, fields.users ?? null),
    ...input(SETUP_FIELDS.testing, { checked: fields.testing ? [TESTING_OPTION_VALUE] : [] }),
    ...input(SETUP_FIELDS.reason, fields.reason ?? null),
  };
}

/** `/dkim setup` alone in `channelId`: the form Slack was asked to open. */
async function openSetupForm(channelId: string): Promise<Record<string, unknown>> {
  const triggerId = newTriggerId();
  const ack = await harness.command("setup", { channelId, triggerId });
  expect(ack.status).toBe(200);
  return openedView(harness, triggerId);
}

function submitSetupForm(view: Record<string, unknown>, fields: FormFields) {
  return harness.submit({
    callbackId: CALLBACK_IDS.setupForm,
    privateMetadata: String(view.private_metadata),
    values: setupFormValues(fields),
    userId: REQUESTER,
  });
}

describe("the setup form", () => {
  it("opens on `/dkim setup` alone, with the trigger_id and every field", async () => {
    const triggerId = "1700000000.42.open-the-form";
    const ack = await harness.command("setup", { triggerId });
    expect(ack.status).toBe(200);
    expect(ack.body).toBe("");

    const view = await openedView(harness, triggerId);
    expect(view.callback_id).toBe(CALLBACK_IDS.setupForm);
    expect(JSON.parse(String(view.private_metadata))).toEqual({ channelId: CHANNEL });
    const blocks = view.blocks as Array<Record<string, unknown>>;
    expect(blocks.map((block) => block.block_id)).toEqual(
      Object.values(SETUP_FIELDS).map((field) => field.blockId),
    );
    const byId = (id: string) => blocks.find((block) => block.block_id === id)?.element;
    // The selector comes prefilled with the dated default; the key size with DKIM_DEFAULT_BITS.
    expect(byId(SETUP_FIELDS.selector.blockId)).toMatchObject({
      initial_value: expect.stringMatching(/^s\d{6}$/),
    });
    expect(byId(SETUP_FIELDS.bits.blockId)).toMatchObject({
      initial_option: { value: "1024" },
    });
    expect(harness.slack.calls("chat.postMessage")).toHaveLength(0);
  });

  it("sends every bad field back inline, and posts nothing and makes no key", async () => {
    const { slack, spamExperts } = harness;
    const view = await openSetupForm(CHANNEL);
    const postsBefore = slack.calls("chat.postMessage").length;

    const allBad = await submitSetupForm(view, {
      domain: "exa_mple.com",
      selector: "bad_sel",
      users: "mailer@form-bad.example\nbulk mailer@form-bad.example",
    });
    expect(allBad.status).toBe(200);
    expect(allBad.json).toMatchObject({ response_action: "errors" });
    const errors = (allBad.json as { errors: Record<string, string> }).errors;
    expect(Object.keys(errors).sort()).toEqual(
      [
        SETUP_FIELDS.domain.blockId,
        SETUP_FIELDS.selector.blockId,
        SETUP_FIELDS.usernames.blockId,
      ].sort(),
    );
    expect(errors[SETUP_FIELDS.domain.blockId]).toContain("exa_mple.com");
    expect(errors[SETUP_FIELDS.selector.blockId]).toContain("bad_sel");
    expect(errors[SETUP_FIELDS.usernames.blockId]).toContain("bulk mailer@form-bad.example");

    // One bad field on an otherwise valid form: the error is on that field only.
    const oneBad = await submitSetupForm(view, {
      domain: "form-bad.example",
      selector: "f1",
      users: "mailer@form-bad.example\nbulk mailer@form-bad.example",
    });
    expect(oneBad.json).toEqual({
      response_action: "errors",
      errors: { [SETUP_FIELDS.usernames.blockId]: expect.stringContaining("bulk mailer") },
    });

    // A later answer from the bot, then: nothing was stored, posted or called.
    expect(await statusLines(harness, "form-bad.example")).toEqual([]);
    expect(slack.calls("chat.postMessage")).toHaveLength(postsBefore);
    expect(slack.calls("chat.postEphemeral")).toHaveLength(0);
    expect(spamExperts.requests).toHaveLength(0);
  });

  it("posts the request in the form's channel with the form's users and t=y", async () => {
    const { slack } = harness;
    const formChannel = "CFORMS";
    const view = await openSetupForm(formChannel);
    expect(JSON.parse(String(view.private_metadata))).toEqual({ channelId: formChannel });

    const ack = await submitSetupForm(view, {
      domain: "Form-Valid.example",
      selector: "f1",
      users: "  mailer@form-valid.example\n\nbulk@form-valid.example  ",
      testing: true,
      reason: "OPS-42 new mail platform",
    });
    expect(ack.status).toBe(200);
    expect(ack.body).toBe("");

    const message = await slack.waitUntil(
      () => requestMessagesFor(harness, formChannel, "form-valid.example")[0],
      "the request message in the form's channel",
    );
    const shown = textsOf(message.blocks).join("\n");
    expect(shown).toContain(`<@${REQUESTER}>`);
    expect(shown).toContain("f1._domainkey.form-valid.example");
    expect(shown).toContain("`mailer@form-valid.example`");
    expect(shown).toContain("`bulk@form-valid.example`");
    expect(shown).toContain("t=y (testing)");
    expect(shown).toContain("OPS-42 new mail platform");
    expect(recordValueShown(message)).toMatch(/^v=DKIM1;.*\bt=y\b/);
    expect(buttonsOf(message.blocks)).toHaveLength(4);
    expect(requestMessagesFor(harness, CHANNEL, "form-valid.example")).toEqual([]);
    expect(apiCallsFor(harness, "form-valid.example")).toEqual([]);
  });

  it("puts a clash with an open request on the selector, and posts nothing", async () => {
    const { slack } = harness;
    await slack.waitUntil(
      () => requestMessagesFor(harness, "CFORMS", "form-valid.example")[0],
      "the open request from the previous test",
    );
    const view = await openSetupForm("CFORMS");
    const ephemeralBefore = slack.calls("chat.postEphemeral").length;
    const ack = await submitSetupForm(view, { domain: "form-valid.example", selector: "F1" });
    expect(ack.json).toEqual({
      response_action: "errors",
      errors: { [SETUP_FIELDS.selector.blockId]: expect.stringMatching(/still open/) },
    });

    expect(await statusLines(harness, "form-valid.example")).toHaveLength(1);
    expect(requestMessagesFor(harness, "CFORMS", "form-valid.example")).toHaveLength(1);
    // The form said it all: no second answer in the channel.
    expect(slack.calls("chat.postEphemeral")).toHaveLength(ephemeralBefore);
  });
});

describe("bad command input", () => {
  const cases = [
    {
      name: "a domain with an underscore",
      text: "setup exa_mple.com",
      domain: "exa_mple.com",
      says: /exa_mple\.com/,
    },
    {
      name: "a key size the bot does not make",
      text: "setup cmd-bits.example bits=3072",
      domain: "cmd-bits.example",
      says: /3072.*1024, 2048.*4096/,
    },
    {
      name: "an unknown option",
      text: "setup cmd-option.example colour=blue",
      domain: "cmd-option.example",
      says: /Unknown option "colour"/,
    },
    {
      name: "an unknown subcommand",
      text: "frobnicate cmd-sub.example",
      domain: "cmd-sub.example",
      says: /Unknown subcommand "frobnicate"/,
    },
  ];

  for (const testCase of cases) {
    it(`answers ${testCase.name} to the person only, and does nothing else`, async () => {
      const { slack, spamExperts } = harness;
      const ephemeralBefore = slack.calls("chat.postEphemeral").length;
      const answer = await commandAnswer(harness, testCase.text);
      expect(answer.body).toMatchObject({ response_type: "ephemeral" });
      expect(answer.text).toMatch(testCase.says);

      // `/dkim status` answers after it: by then nothing was stored, posted or called.
      if (testCase.domain !== "exa_mple.com") {
        expect(await statusLines(harness, testCase.domain)).toEqual([]);
      } else {
        await commandAnswer(harness, "status");
      }
      expect(postsMentioning(harness, testCase.domain)).toEqual([]);
      expect(slack.calls("chat.postEphemeral")).toHaveLength(ephemeralBefore);
      expect(spamExperts.requests).toHaveLength(0);
    });
  }
});
