/**
 * A form that cannot go on is replaced by this (response_action "update"): one sentence saying
 * why nothing was done and what to do, and only a Close button. Used where an inline field
 * error cannot say it: the form is not one this bot knows, or its channel is refused.
 */
import type { ModalView } from "@slack/types";
import { plainText, section } from "./format.js";
import { CALLBACK_IDS } from "./ids.js";

export function noticeModal(text: string, title = "dkim-bot"): ModalView {
  return {
    type: "modal",
    callback_id: CALLBACK_IDS.notice,
    title: plainText(title, 24),
    close: plainText("Close", 24),
    blocks: [section(text)],
  };
}
