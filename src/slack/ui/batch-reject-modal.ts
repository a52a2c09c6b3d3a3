/**
 * The form behind a batch card's Reject all: one reason for every request it ends, posted in
 * the batch's thread. The reason field and its reading are Reject's (reject-modal.ts).
 */
import type { ModalView } from "@slack/types";
import { z } from "zod";
import { plural } from "./batch-card.js";
import { parseJson } from "./form-values.js";
import { plainText, section } from "./format.js";
import { CALLBACK_IDS } from "./ids.js";
import { reasonInput } from "./reject-modal.js";

export interface BatchRejectMetadata {
  batchId: string;
  /** The card's channel: where the answer goes. */
  channelId: string;
}

export function batchRejectModal(
  batch: { id: string; channelId: string },
  openRequests: number,
): ModalView {
  const metadata: BatchRejectMetadata = { batchId: batch.id, channelId: batch.channelId };
  return {
    type: "modal",
    callback_id: CALLBACK_IDS.batchRejectForm,
    private_metadata: JSON.stringify(metadata),
    title: plainText("Reject DKIM batch", 24),
    submit: plainText("Reject all", 24),
    close: plainText("Back", 24),
    blocks: [
      section(
        `Reject the ${plural(openRequests, "open request")} of this batch? Their keys are erased; requests already applied are not touched. The reason is posted in the batch's thread.`,
      ),
      reasonInput("These domains move to another cluster (OPS-1234)"),
    ],
  };
}

export function readBatchRejectMetadata(privateMetadata: unknown): BatchRejectMetadata | undefined {
  const parsed = z
    .object({
      batchId: z.string().regex(/^[a-z0-9]{1,64}$/),
      channelId: z.string().regex(/^[A-Z0-9]{2,40}$/),
    })
    .safeParse(parseJson(privateMetadata));
  return parsed.success
    ? { batchId: parsed.data.batchId, channelId: parsed.data.channelId }
    : undefined;
}
