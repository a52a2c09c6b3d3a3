/**
 * Reading what the bot posted, as a person (or Slack) would see it: the texts and buttons of a
 * Block Kit message, the TXT value it shows, and the text of an answer. Plain functions of what
 * was sent; the steps that make the bot send it are in flows.ts.
 */
import type { StoredMessage } from "../helpers/fake-slack.js";

/** All strings inside a Block Kit structure, in order. */
export function textsOf(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(textsOf);
  if (value !== null && typeof value === "object") return Object.values(value).flatMap(textsOf);
  return [];
}

interface ButtonElement {
  type: "button";
  action_id: string;
  value?: string;
}

export function buttonsOf(blocks: unknown): ButtonElement[] {
  const found: ButtonElement[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) {
      value.forEach(walk);
    } else if (value !== null && typeof value === "object") {
      const record = value as Record<string, unknown>;
      if (record.type === "button" && typeof record.action_id === "string") {
        found.push(record as unknown as ButtonElement);
      }
      Object.values(record).forEach(walk);
    }
  };
  walk(blocks);
  return found;
}

export function buttonValue(message: Pick<StoredMessage, "blocks">, actionId: string): string {
  const button = buttonsOf(message.blocks).find((b) => b.action_id === actionId);
  if (button?.value === undefined) throw new Error(`no ${actionId} button on the message`);
  return button.value;
}

/** Whether the message has no buttons left. */
export function hasNoButtons(message: Pick<StoredMessage, "blocks">): boolean {
  return buttonsOf(message.blocks).length === 0;
}

/** An active card: only Check DNS and Rotate are left of its buttons. */
export function hasActiveButtonsOnly(message: Pick<StoredMessage, "blocks">): boolean {
  return (
    buttonsOf(message.blocks)
      .map((button) => button.action_id)
      .join(",") === "dkim_check_dns,dkim_rotate"
  );
}

/** The TXT value shown in the request message's code block. */
export function recordValueShown(message: Pick<StoredMessage, "blocks">): string {
  for (const text of textsOf(message.blocks)) {
    const match = /```(v=DKIM1;[^`]*)```/.exec(text);
    if (match?.[1] !== undefined) return match[1].trim();
  }
  throw new Error("no TXT value shown on the request message");
}

/** What a person reads in an answer (ack body or response_url post): its text and block texts. */
export function answerText(body: unknown): string {
  if (body === null || typeof body !== "object") return typeof body === "string" ? body : "";
  const record = body as Record<string, unknown>;
  const parts = [typeof record.text === "string" ? record.text : "", ...textsOf(record.blocks)];
  return parts.filter((part) => part !== "").join("\n");
}

/** The lines of a `/dkim status` answer about `domain`, one per request. */
export function statusLinesIn(text: string, domain: string): string[] {
  return text.split("\n").filter((line) => line.startsWith(`• *${domain}*`));
}

/** Slack mrkdwn as a person reads it: `&lt;`, `&gt;` and `&amp;` shown as the characters. */
export function readable(text: string): string {
  return text.replace(/&(lt|gt|amp);/g, (_match, entity: string) =>
    entity === "lt" ? "<" : entity === "gt" ? ">" : "&",
  );
}
