/** Reading what the bot posted, as a person (or Slack) would see it. */
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

/** The TXT value shown in the request message's code block. */
export function recordValueShown(message: Pick<StoredMessage, "blocks">): string {
  for (const text of textsOf(message.blocks)) {
    const match = /```(v=DKIM1;[^`]*)```/.exec(text);
    if (match?.[1] !== undefined) return match[1].trim();
  }
  throw new Error("no TXT value shown on the request message");
}
