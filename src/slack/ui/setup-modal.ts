/**
 * The `/dkim setup` form: the same fields as the command, for people who prefer a form. The
 * reader hands back what was typed; whether it is acceptable is the service's call, and its
 * field errors come back into the form through `formErrors`.
 */
import type { InputBlock, ModalView, PlainTextOption } from "@slack/types";
import { z } from "zod";
import type { KeyBits } from "../../dkim/keys.js";
import { KEY_SIZES } from "../../dkim/keys.js";
import { RECOMMENDED_BITS, RECOMMENDED_WORD } from "../../dkim/names.js";
import {
  FieldReader,
  type FormReadResult,
  NOT_STATE_VALUES,
  parseJson,
  plainTextInputState,
} from "./form-values.js";
import { clip, keySizeText, plainText } from "./format.js";
import { CALLBACK_IDS, SETUP_FIELDS, TESTING_OPTION_VALUE } from "./ids.js";

export interface SetupModalInitial {
  domain?: string;
  selector?: string;
  bits?: KeyBits;
  usernames?: readonly string[];
  testing?: boolean;
  reason?: string;
}

export interface SetupModalOptions {
  /** Where the form was opened: the request is posted there. */
  channelId: string;
  defaultSelector: string;
  defaultBits: KeyBits;
  /** DKIM_BATCH_MAX: the domain field takes several domains, one batch, up to this many. */
  batchMax?: number;
  initial?: SetupModalInitial;
}

/** What the form holds, as typed (trimmed); empty optional fields are left out. */
export interface SetupForm {
  domain: string;
  selector?: string;
  bits?: number;
  /** One per line, blank lines dropped; empty means "the domain itself". */
  usernames: string[];
  testing: boolean;
  reason?: string;
}

export interface SetupMetadata {
  channelId: string;
}

const MAX_REASON = 500;

export function setupModal(options: SetupModalOptions): ModalView {
  const initial = options.initial ?? {};
  const bits = initial.bits ?? options.defaultBits;
  const bitOptions = KEY_SIZES.map(bitsOption);
  const testingOption: PlainTextOption = {
    text: plainText("Publish with t=y (testing)", 75),
    value: TESTING_OPTION_VALUE,
  };
  const selector = initial.selector ?? options.defaultSelector;
  const usernames = (initial.usernames ?? []).join("\n");

  const blocks: InputBlock[] = [
    {
      type: "input",
      block_id: SETUP_FIELDS.domain.blockId,
      label: plainText("Domain", 2000),
      hint: plainText(
        `Several domains (one per line) make one batch with one card${options.batchMax === undefined ? "" : `, up to ${options.batchMax}`}; outgoing users then stay empty (each domain signs for itself).`,
        2000,
      ),
      element: {
        type: "plain_text_input",
        action_id: SETUP_FIELDS.domain.actionId,
        multiline: true,
        placeholder: plainText("example.com", 150),
        ...initialValue(initial.domain),
      },
    },
    {
      type: "input",
      block_id: SETUP_FIELDS.selector.blockId,
      label: plainText("Selector", 2000),
      hint: plainText(
        `Default: s + the year and month (UTC), e.g. ${options.defaultSelector}. Use a new selector for each new key.`,
        2000,
      ),
      element: {
        type: "plain_text_input",
        action_id: SETUP_FIELDS.selector.actionId,
        ...initialValue(selector),
      },
    },
    {
      type: "input",
      block_id: SETUP_FIELDS.bits.blockId,
      label: plainText("Key size", 2000),
      element: {
        type: "static_select",
        action_id: SETUP_FIELDS.bits.actionId,
        options: bitOptions,
        initial_option: bitsOption(bits),
      },
    },
    {
      type: "input",
      block_id: SETUP_FIELDS.usernames.blockId,
      optional: true,
      label: plainText("Outgoing users", 2000),
      hint: plainText(
        "One per line, as SpamExperts knows them. Leave empty to sign for the domain itself.",
        2000,
      ),
      element: {
        type: "plain_text_input",
        action_id: SETUP_FIELDS.usernames.actionId,
        multiline: true,
        placeholder: plainText("mailer@example.com", 150),
        ...initialValue(usernames),
      },
    },
    {
      type: "input",
      block_id: SETUP_FIELDS.testing.blockId,
      optional: true,
      label: plainText("Testing", 2000),
      hint: plainText(
        "Verifiers may treat failed signatures like unsigned mail while t=y is on.",
        2000,
      ),
      element: {
        type: "checkboxes",
        action_id: SETUP_FIELDS.testing.actionId,
        options: [testingOption],
        ...(initial.testing === true ? { initial_options: [testingOption] } : {}),
      },
    },
    {
      type: "input",
      block_id: SETUP_FIELDS.reason.blockId,
      optional: true,
      label: plainText("Ticket or reason", 2000),
      element: {
        type: "plain_text_input",
        action_id: SETUP_FIELDS.reason.actionId,
        max_length: MAX_REASON,
        placeholder: plainText("OPS-1234, new mail platform", 150),
        ...initialValue(
          initial.reason === undefined ? undefined : clip(initial.reason, MAX_REASON),
        ),
      },
    },
  ];

  const metadata: SetupMetadata = { channelId: options.channelId };
  return {
    type: "modal",
    callback_id: CALLBACK_IDS.setupForm,
    private_metadata: JSON.stringify(metadata),
    title: plainText("Set up DKIM", 24),
    submit: plainText("Create request", 24),
    close: plainText("Cancel", 24),
    blocks,
  };
}

/**
 * The domains typed in the form's domain field: one per line, or separated by spaces or
 * commas, blanks dropped. One domain is a single setup; several, a batch.
 */
export function domainsOf(field: string): string[] {
  return field.split(/[\s,]+/u).filter((domain) => domain !== "");
}

function bitsOption(bits: KeyBits): PlainTextOption {
  const label = `${keySizeText(bits)}${bits === RECOMMENDED_BITS ? ` (${RECOMMENDED_WORD})` : ""}`;
  return { text: plainText(label, 75), value: String(bits) };
}

/** Slack refuses an empty `initial_value`, so an empty one is left out. */
function initialValue(value: string | undefined): { initial_value?: string } {
  return value === undefined || value === "" ? {} : { initial_value: value };
}

const option = z.object({ value: z.string() });

const staticSelect = z.object({
  type: z.literal("static_select"),
  selected_option: option.nullish(),
});

const checkboxes = z.object({
  type: z.literal("checkboxes"),
  selected_options: z.array(option).nullish(),
});

/**
 * Reads `view.state.values` of a setup form submission. It comes from Slack, so the shape is
 * checked; a form this module did not build (a missing block, a wrong element type, a key
 * size that is not digits) is refused with a sentence for the log.
 */
export function readSetupForm(values: unknown): FormReadResult<SetupForm> {
  const read = FieldReader.of(values);
  if (read === undefined) return { ok: false, problem: NOT_STATE_VALUES };

  const domain = read.element(SETUP_FIELDS.domain, plainTextInputState);
  const selector = read.element(SETUP_FIELDS.selector, plainTextInputState);
  const bits = read.element(SETUP_FIELDS.bits, staticSelect);
  const usernames = read.element(SETUP_FIELDS.usernames, plainTextInputState);
  const testing = read.element(SETUP_FIELDS.testing, checkboxes);
  const reason = read.element(SETUP_FIELDS.reason, plainTextInputState);
  if (
    domain === undefined ||
    selector === undefined ||
    bits === undefined ||
    usernames === undefined ||
    testing === undefined ||
    reason === undefined
  ) {
    return { ok: false, problem: read.problems.join(" ") };
  }

  const bitsText = bits.selected_option?.value;
  if (bitsText !== undefined && !/^\d{1,5}$/.test(bitsText)) {
    return { ok: false, problem: `The key size option "${clip(bitsText, 20)}" is not a number.` };
  }

  const form: SetupForm = {
    domain: (domain.value ?? "").trim(),
    usernames: (usernames.value ?? "")
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== ""),
    testing: (testing.selected_options ?? []).some((o) => o.value === TESTING_OPTION_VALUE),
  };
  const selectorText = (selector.value ?? "").trim();
  if (selectorText !== "") form.selector = selectorText;
  if (bitsText !== undefined) form.bits = Number(bitsText);
  const reasonText = (reason.value ?? "").trim();
  if (reasonText !== "") form.reason = reasonText;
  return { ok: true, form };
}

/**
 * Reads the setup form's private_metadata (Slack echoes it back, so it is checked like any
 * other outside data).
 */
export function readSetupMetadata(privateMetadata: unknown): SetupMetadata | undefined {
  const parsed = z
    .object({ channelId: z.string().regex(/^[A-Z0-9]{2,40}$/) })
    .safeParse(parseJson(privateMetadata));
  return parsed.success ? { channelId: parsed.data.channelId } : undefined;
}

/** The service's field names (InputError.field) and the form block that shows each error. */
const FIELD_BLOCKS: Readonly<Record<string, string>> = {
  domain: SETUP_FIELDS.domain.blockId,
  selector: SETUP_FIELDS.selector.blockId,
  bits: SETUP_FIELDS.bits.blockId,
  user: SETUP_FIELDS.usernames.blockId,
  usernames: SETUP_FIELDS.usernames.blockId,
  testing: SETUP_FIELDS.testing.blockId,
  reason: SETUP_FIELDS.reason.blockId,
};

/**
 * The `errors` of a `response_action: "errors"` answer. Several errors on one field are shown
 * together; an error on a field the form does not have goes under the domain, so it is seen.
 */
export function formErrors(
  errors: ReadonlyArray<{ field: string; message: string }>,
): Record<string, string> {
  const result: Record<string, string> = {};
  for (const { field, message } of errors) {
    const blockId = FIELD_BLOCKS[field] ?? SETUP_FIELDS.domain.blockId;
    const previous = result[blockId];
    result[blockId] = clip(previous === undefined ? message : `${previous} ${message}`, 2000);
  }
  return result;
}
