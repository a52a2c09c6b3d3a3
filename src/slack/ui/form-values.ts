/**
 * Reading what Slack sends back from a form: `view.state.values` and `private_metadata` are
 * outside data, so every shape is checked before use.
 */
import { z } from "zod";

export type FormReadResult<T> = { ok: true; form: T } | { ok: false; problem: string };

export const NOT_STATE_VALUES = "view.state.values is not an object of blocks.";

/** A plain_text_input's state: Slack sends `value: null` for an empty optional field. */
export const plainTextInputState = z.object({
  type: z.literal("plain_text_input"),
  value: z.string().nullish(),
});

const stateValues = z.record(z.string(), z.record(z.string(), z.unknown()));

/** Reads one input's element from state values, noting what is missing or misshapen. */
export class FieldReader {
  readonly problems: string[] = [];

  private constructor(private readonly values: Record<string, Record<string, unknown>>) {}

  /** Undefined when `values` is not `{ [blockId]: { [actionId]: element } }`. */
  static of(values: unknown): FieldReader | undefined {
    const parsed = stateValues.safeParse(values);
    return parsed.success ? new FieldReader(parsed.data) : undefined;
  }

  element<T>(ids: { blockId: string; actionId: string }, schema: z.ZodType<T>): T | undefined {
    const raw = this.values[ids.blockId]?.[ids.actionId];
    if (raw === undefined) {
      this.problems.push(`The form has no ${ids.blockId}/${ids.actionId} input.`);
      return undefined;
    }
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      this.problems.push(`The ${ids.blockId}/${ids.actionId} input has an unexpected shape.`);
      return undefined;
    }
    return parsed.data;
  }
}

/** JSON.parse that answers undefined instead of throwing on anything that is not JSON text. */
export function parseJson(text: unknown): unknown {
  if (typeof text !== "string") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
