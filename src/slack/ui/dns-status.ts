import type { DkimCheckStatus } from "../../dkim/check.js";
import type { StoredDnsCheck } from "../../requests/model.js";
import { clip, escapeText, slackTime } from "./format.js";

export const DNS_STATUS_EMOJI: Readonly<Record<DkimCheckStatus, string>> = {
  live: ":white_check_mark:",
  missing: ":hourglass:",
  wrong: ":warning:",
  "lookup-failed": ":grey_question:",
};

/** A verdict in a word or two, for one-line listings (`/dkim status`, `/dkim domains`). */
export const DNS_WORDS: Readonly<Record<DkimCheckStatus, string>> = {
  live: "live",
  missing: "not published",
  wrong: "wrong",
  "lookup-failed": "lookup failed",
};

const MAX_SUMMARY = 300;

/** The DNS line of a request: not checked yet, or the last verdict and when it was reached. */
export function dnsStatusText(check: StoredDnsCheck | null): string {
  if (check === null) return ":hourglass: No record seen yet";
  const summary = escapeText(clip(check.summary, MAX_SUMMARY));
  return `${DNS_STATUS_EMOJI[check.status]} ${summary} (checked ${slackTime(check.checkedAt)})`;
}
