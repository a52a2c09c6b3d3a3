/**
 * The small form behind Reject: a rejection always carries a reason, which goes into the
 * thread for the requester and the auditors.
 */
import type { InputBlock, ModalView } from "@slack/types";
import { z } from "zod";
import type { DkimRequest } from "../../requests/model.js";
import {
  FieldReader,
  type FormReadResult,
  NOT_STATE_VALUES,
  parseJson,
  plainTextInputState,
} from "./form-values.js";
import { clip, escapeText, inlineCode, plainText, section } from "./format.js";
import { CALLBACK_IDS, REJECT_FIELDS } from "./ids.js";

export interface RejectMetadata {
  requestId: string;
  /** Where the request message is, so it can be updated after the rejection. */
  channelId: string;
  messageTs: string | null;
}

const MAX_REASON = 500;

export function rejectModal(
  request: Pick<DkimRequest, "id" | "domain" | "selector" | "requesterId">,
  refs: { channelId: string; messageTs: string | null },
): ModalView {
  const metadata: RejectMetadata = {
    requestId: request.id,
    channelId: refs.channelId,
    messageTs: refs.messageTs,
  };
  return {
    type: "modal",
    callback_id: CALLBACK_IDS.rejectForm,
    private_metadata: JSON.stringify(metadata),
    title: plainText("Reject DKIM request", 24),
    submit: plainText("Reject", 24),
    close: plainText("Back", 24),
    blocks: [
      section(
        `Reject DKIM for *${escapeText(clip(request.domain, 253))}* (selector ${inlineCode(clip(request.selector, 63))})? The reason is posted in the request's thread.`,
      ),
      reasonInput("Wrong selector; use the one from ticket OPS-1234"),
    ],
  };
}

/** The reason field of a Reject form (a request's, or a batch's Reject all). */
export function reasonInput(placeholder: string): InputBlock {
  return {
    type: "input",
    block_id: REJECT_FIELDS.reason.blockId,
    label: plainText("Reason", 2000),
    element: {
      type: "plain_text_input",
      action_id: REJECT_FIELDS.reason.actionId,
      multiline: true,
      max_length: MAX_REASON,
      placeholder: plainText(placeholder, 150),
    },
  };
}

/** The reason as typed (trimmed); it may be empty, see `missingReasonErrors`. */
export function readRejectForm(values: unknown): FormReadResult<{ reason: string }> {
  const read = FieldReader.of(values);
  if (read === undefined) return { ok: false, problem: NOT_STATE_VALUES };
  const reason = read.element(REJECT_FIELDS.reason, plainTextInputState);
  if (reason === undefined) return { ok: false, problem: read.problems.join(" ") };
  return { ok: true, form: { reason: (reason.value ?? "").trim() } };
}

/** Slack lets spaces through a required field: the answer for a reason that is only blanks. */
export function missingReasonErrors(): Record<string, string> {
  return { [REJECT_FIELDS.reason.blockId]: "Give a reason: the requester reads it in the thread." };
}

export function readRejectMetadata(privateMetadata: unknown): RejectMetadata | undefined {
  const parsed = z
    .object({
      requestId: z.string().regex(/^[a-z0-9]{1,64}$/),
      channelId: z.string().regex(/^[A-Z0-9]{2,40}$/),
      messageTs: z
        .string()
        .regex(/^\d{1,12}\.\d{1,9}$/)
        .nullable(),
    })
    .safeParse(parseJson(privateMetadata));
  if (!parsed.success) return undefined;
  return {
    requestId: parsed.data.requestId,
    channelId: parsed.data.channelId,
    messageTs: parsed.data.messageTs,
  };
}
