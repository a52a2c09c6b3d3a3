/**
 * `/dkim check`: what DNS publishes at a DKIM name and what is wrong with it, for any domain.
 * Published text comes from DNS, so it is shown escaped and cut to fit, never interpreted.
 */
import type { KnownBlock } from "@slack/types";
import type { DkimCheckResult } from "../../dkim/check.js";
import { DNS_STATUS_EMOJI } from "./dns-status.js";
import {
  clip,
  codeBlock,
  context,
  escapeText,
  LIMITS,
  type SlackMessage,
  section,
} from "./format.js";

const STATUS_LABELS: Readonly<Record<DkimCheckResult["status"], string>> = {
  live: "Live",
  missing: "Not published",
  wrong: "Published, but wrong",
  "lookup-failed": "Lookup failed",
};

/** Records shown at most; more TXT records at one DKIM name is a problem in itself. */
const MAX_RECORDS = 5;
/** Room for one record's strings inside a section. */
const MAX_RECORD_TEXT = 2400;
const MAX_PROBLEMS = 10;

export function checkResultMessage(result: DkimCheckResult): SlackMessage {
  const name = escapeText(clip(result.name, 260));
  const blocks: KnownBlock[] = [
    section(
      `${DNS_STATUS_EMOJI[result.status]} *${STATUS_LABELS[result.status]}* · \`${name}\`\n${escapeText(clip(result.summary, 500))}`,
    ),
  ];
  if (result.cnameTarget !== undefined) {
    blocks.push(
      context(
        `The name is a CNAME; the record was found at \`${escapeText(clip(result.cnameTarget, 260))}\`.`,
      ),
    );
  }

  const problems = result.problems.slice(0, MAX_PROBLEMS).map((problem) => {
    const emoji = problem.severity === "error" ? ":x:" : ":warning:";
    return `${emoji} ${escapeText(clip(problem.message, 600))}`;
  });
  if (problems.length > 0) blocks.push(section(`*Problems*\n${problems.join("\n")}`));

  if (result.published.length === 0) {
    blocks.push(context("Nothing is published at this name."));
  } else {
    const count = result.published.length;
    blocks.push(
      section(
        `*Published*: ${count === 1 ? "1 TXT record" : `${count} TXT records`}, each as its strings in the order DNS gave them`,
      ),
    );
    result.published.slice(0, MAX_RECORDS).forEach((strings, index) => {
      blocks.push(section(recordText(strings, index + 1, count)));
    });
    if (count > MAX_RECORDS) blocks.push(context(`${count - MAX_RECORDS} more not shown.`));
  }

  return {
    text: `DKIM check of ${escapeText(result.name)}: ${escapeText(result.summary)}`,
    blocks: blocks.slice(0, LIMITS.blocksPerMessage),
  };
}

/** One record: each string with its length, so a truncated or mis-split record shows. */
function recordText(strings: readonly string[], number: number, count: number): string {
  const lengths = strings.map((s) => s.length);
  const total = lengths.reduce((sum, length) => sum + length, 0);
  const heading = `${count > 1 ? `Record ${number}: ` : ""}${strings.length === 1 ? "1 string" : `${strings.length} strings`} (${lengths.join(" + ")}${strings.length > 1 ? ` = ${total}` : ""} characters)`;
  const room = Math.max(40, Math.floor(MAX_RECORD_TEXT / Math.max(1, strings.length)));
  const shown = strings
    .slice(0, 20)
    .map((s, i) => `${i + 1}. "${clip(s, room)}"`)
    .join("\n");
  const more = strings.length > 20 ? `\n…and ${strings.length - 20} more strings` : "";
  // Escaping can make text up to five times longer (`&` -> `&amp;`): cut harder when it does.
  let body = codeBlock(clip(shown, MAX_RECORD_TEXT));
  if (body.length > MAX_RECORD_TEXT) body = codeBlock(clip(shown, MAX_RECORD_TEXT / 5));
  return `${heading}\n${body}${more}`;
}
