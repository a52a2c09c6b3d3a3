import type { InputBlock, ModalView } from "@slack/types";
import { describe, expect, it } from "vitest";
import { CALLBACK_IDS, SETUP_FIELDS, TESTING_OPTION_VALUE } from "../../../src/slack/ui/ids.js";
import {
  formErrors,
  readSetupForm,
  readSetupMetadata,
  setupModal,
} from "../../../src/slack/ui/setup-modal.js";

function inputs(view: ModalView): Map<string, InputBlock> {
  const map = new Map<string, InputBlock>();
  for (const block of view.blocks) {
    if (block.type === "input" && "element" in block && block.block_id !== undefined) {
      map.set(block.block_id, block as InputBlock);
    }
  }
  return map;
}

function modal(initial?: Parameters<typeof setupModal>[0]["initial"]) {
  const view = setupModal({
    channelId: "C0CHANNEL",
    defaultSelector: "s202611",
    defaultBits: 2048,
    ...(initial === undefined ? {} : { initial }),
  });
  if (view.type !== "modal") throw new Error("not a modal");
  return view;
}

/** `view.state.values` as Slack sends it on submit. */
function slackValues(overrides: {
  domain?: string | null;
  selector?: string | null;
  bits?: string | null;
  usernames?: string | null;
  testing?: boolean;
  reason?: string | null;
}) {
  const bits = overrides.bits === undefined ? "2048" : overrides.bits;
  return {
    [SETUP_FIELDS.domain.blockId]: {
      domain: { type: "plain_text_input", value: overrides.domain ?? "example.com" },
    },
    [SETUP_FIELDS.selector.blockId]: {
      selector: {
        type: "plain_text_input",
        value: overrides.selector === undefined ? "s202611" : overrides.selector,
      },
    },
    [SETUP_FIELDS.bits.blockId]: {
      bits: {
        type: "static_select",
        selected_option:
          bits === null
            ? null
            : { text: { type: "plain_text", text: `${bits}-bit RSA`, emoji: true }, value: bits },
      },
    },
    [SETUP_FIELDS.usernames.blockId]: {
      usernames: {
        type: "plain_text_input",
        value: overrides.usernames === undefined ? null : overrides.usernames,
      },
    },
    [SETUP_FIELDS.testing.blockId]: {
      testing: {
        type: "checkboxes",
        selected_options: overrides.testing
          ? [
              {
                text: { type: "plain_text", text: "Publish with t=y (testing)", emoji: true },
                value: TESTING_OPTION_VALUE,
              },
            ]
          : [],
      },
    },
    [SETUP_FIELDS.reason.blockId]: {
      reason: {
        type: "plain_text_input",
        value: overrides.reason === undefined ? null : overrides.reason,
      },
    },
  };
}

describe("setupModal", () => {
  it("is the setup form, remembering the channel it came from", () => {
    const view = modal();
    expect(view.callback_id).toBe(CALLBACK_IDS.setupForm);
    expect(readSetupMetadata(view.private_metadata)).toEqual({ channelId: "C0CHANNEL" });
    expect(view.title.text.length).toBeLessThanOrEqual(24);
    expect(view.submit?.text.length).toBeLessThanOrEqual(24);
  });

  it("has every field, the domain required and the extras optional", () => {
    const fields = inputs(modal());
    expect([...fields.keys()]).toEqual(Object.values(SETUP_FIELDS).map((f) => f.blockId));
    expect(fields.get(SETUP_FIELDS.domain.blockId)?.optional).not.toBe(true);
    for (const optional of [SETUP_FIELDS.usernames, SETUP_FIELDS.testing, SETUP_FIELDS.reason]) {
      expect(fields.get(optional.blockId)?.optional).toBe(true);
    }
    const users = fields.get(SETUP_FIELDS.usernames.blockId);
    expect(users?.hint?.text).toContain("Leave empty to sign for the domain itself");
    expect(users?.element.type === "plain_text_input" && users.element.multiline).toBe(true);
  });

  it("prefills the selector and preselects the default key size", () => {
    const fields = inputs(modal());
    const selector = fields.get(SETUP_FIELDS.selector.blockId)?.element;
    expect(selector?.type === "plain_text_input" && selector.initial_value).toBe("s202611");
    const bits = fields.get(SETUP_FIELDS.bits.blockId)?.element;
    if (bits?.type !== "static_select") throw new Error("bits is not a static select");
    expect(bits.options?.map((o) => o.value)).toEqual(["1024", "2048", "4096"]);
    expect(bits.options?.find((o) => o.value === "2048")?.text.text).toContain("(recommended)");
    expect(bits.initial_option).toEqual(bits.options?.find((o) => o.value === "2048"));
    const testing = fields.get(SETUP_FIELDS.testing.blockId)?.element;
    expect(testing?.type === "checkboxes" && testing.options[0]?.text.text).toBe(
      "Publish with t=y (testing)",
    );
  });

  it("fills in what was typed before", () => {
    const fields = inputs(
      modal({
        domain: "example.org",
        bits: 4096,
        usernames: ["a@example.org", "b@example.org"],
        testing: true,
        reason: "OPS-1",
      }),
    );
    const domain = fields.get(SETUP_FIELDS.domain.blockId)?.element;
    expect(domain?.type === "plain_text_input" && domain.initial_value).toBe("example.org");
    const bits = fields.get(SETUP_FIELDS.bits.blockId)?.element;
    expect(bits?.type === "static_select" && bits.initial_option?.value).toBe("4096");
    const users = fields.get(SETUP_FIELDS.usernames.blockId)?.element;
    expect(users?.type === "plain_text_input" && users.initial_value).toBe(
      "a@example.org\nb@example.org",
    );
    const testing = fields.get(SETUP_FIELDS.testing.blockId)?.element;
    expect(testing?.type === "checkboxes" && testing.initial_options?.[0]?.value).toBe(
      TESTING_OPTION_VALUE,
    );
  });

  it("sends no empty initial values (Slack refuses them)", () => {
    expect(JSON.stringify(modal({ domain: "" }))).not.toContain('"initial_value":""');
  });
});

describe("readSetupForm", () => {
  it("reads a filled form", () => {
    const result = readSetupForm(
      slackValues({
        domain: "  example.com ",
        selector: "s1",
        bits: "4096",
        usernames: "a@example.com\r\n\n  b@example.com  \n",
        testing: true,
        reason: " OPS-1234 ",
      }),
    );
    expect(result).toEqual({
      ok: true,
      form: {
        domain: "example.com",
        selector: "s1",
        bits: 4096,
        usernames: ["a@example.com", "b@example.com"],
        testing: true,
        reason: "OPS-1234",
      },
    });
  });

  it("leaves empty optional fields out (Slack sends null for them)", () => {
    const result = readSetupForm(slackValues({ selector: null, bits: null }));
    expect(result).toEqual({
      ok: true,
      form: { domain: "example.com", usernames: [], testing: false },
    });
  });

  it("returns raw strings: judging names is the service's job", () => {
    const result = readSetupForm(slackValues({ domain: "not a domain!", bits: "512" }));
    expect(result.ok && result.form.domain).toBe("not a domain!");
    expect(result.ok && result.form.bits).toBe(512);
  });

  it.each([
    ["not an object", "values"],
    ["null", null],
    ["a block that is not an object", { [SETUP_FIELDS.domain.blockId]: "x" }],
    [
      "a missing block",
      (() => {
        const values: Record<string, unknown> = slackValues({});
        delete values[SETUP_FIELDS.reason.blockId];
        return values;
      })(),
    ],
    [
      "a wrong element type",
      {
        ...slackValues({}),
        [SETUP_FIELDS.domain.blockId]: { domain: { type: "static_select", selected_option: null } },
      },
    ],
    [
      "a value that is not text",
      {
        ...slackValues({}),
        [SETUP_FIELDS.domain.blockId]: { domain: { type: "plain_text_input", value: 42 } },
      },
    ],
    ["a key size that is not digits", slackValues({ bits: "2048; drop" })],
  ])("rejects a malformed submission: %s", (_label, values) => {
    const result = readSetupForm(values);
    expect(result.ok).toBe(false);
    expect(result.ok ? "" : result.problem).not.toBe("");
  });
});

describe("formErrors", () => {
  it("maps the service's field names to the form's blocks", () => {
    expect(
      formErrors([
        { field: "domain", message: "domain is empty" },
        { field: "selector", message: "selector is too long" },
        { field: "bits", message: "bits must be 1024, 2048 or 4096" },
        { field: "user", message: "user has a space" },
      ]),
    ).toEqual({
      [SETUP_FIELDS.domain.blockId]: "domain is empty",
      [SETUP_FIELDS.selector.blockId]: "selector is too long",
      [SETUP_FIELDS.bits.blockId]: "bits must be 1024, 2048 or 4096",
      [SETUP_FIELDS.usernames.blockId]: "user has a space",
    });
  });

  it("joins several errors on one field and keeps unknown fields visible", () => {
    const errors = formErrors([
      { field: "user", message: "first." },
      { field: "user", message: "second." },
      { field: "publicKey", message: "odd." },
    ]);
    expect(errors[SETUP_FIELDS.usernames.blockId]).toBe("first. second.");
    expect(errors[SETUP_FIELDS.domain.blockId]).toBe("odd.");
  });

  it("every block it names exists in the form", () => {
    const blockIds = new Set(modal().blocks.map((block) => block.block_id));
    const errors = formErrors(
      ["domain", "selector", "bits", "user", "testing", "reason", "other"].map((field) => ({
        field,
        message: "x",
      })),
    );
    for (const blockId of Object.keys(errors)) expect(blockIds.has(blockId)).toBe(true);
  });
});

describe("readSetupMetadata", () => {
  it("refuses what this form did not write", () => {
    expect(readSetupMetadata("not json")).toBeUndefined();
    expect(readSetupMetadata(JSON.stringify({ channelId: "<#C1>" }))).toBeUndefined();
    expect(readSetupMetadata(undefined)).toBeUndefined();
  });
});
