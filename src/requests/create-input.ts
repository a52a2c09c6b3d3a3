/**
 * What a person typed for a new request (command, form or CLI), checked before any key
 * exists. Every field is checked, so a form can show all of its problems at once.
 */
import type { KeyBits } from "../dkim/keys.js";
import {
  checkedDkimRecordName,
  defaultSelector,
  normaliseDomain,
  normaliseSelector,
  validateKeyBits,
  validateUsername,
} from "../dkim/names.js";
import { InputError } from "../errors.js";

export interface CreateRequestInput {
  domain: string;
  selector?: string | undefined;
  bits?: number | undefined;
  /** Outgoing usernames; none means the domain itself (domain-level authentication). */
  usernames?: readonly string[] | undefined;
  testing?: boolean | undefined;
  reason?: string | undefined;
  ticket?: string | undefined;
  requesterId: string;
  channelId: string;
  /** The workspace (and Enterprise Grid org) the command came from. */
  teamId?: string | undefined;
  enterpriseId?: string | undefined;
}

/** One problem with what a person typed: `field` names the input (domain, selector, bits, user, ...). */
export interface InputProblem {
  field: string;
  message: string;
}

export interface ValidCreateInput {
  domain: string;
  selector: string;
  bits: KeyBits;
  usernames: string[];
  reason: string | null;
  ticket: string | null;
  testing: boolean;
}

const MAX_REASON = 500;
const MAX_TICKET = 100;

/** `valid` is set only when there are no problems. */
export function checkCreateInput(
  input: CreateRequestInput,
  options: {
    now: Date;
    defaultBits: KeyBits;
    /** The selector when none is typed (the date-based default, free for the domain). */
    defaultSelector?: string;
  },
): { valid: ValidCreateInput | undefined; problems: InputError[] } {
  const problems: InputError[] = [];
  const attempt = <T>(check: () => T): T | undefined => {
    try {
      return check();
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      problems.push(error);
      return undefined;
    }
  };
  const domain = attempt(() => normaliseDomain(input.domain));
  const selector = attempt(() =>
    input.selector === undefined || input.selector.trim() === ""
      ? (options.defaultSelector ?? defaultSelector(options.now))
      : normaliseSelector(input.selector),
  );
  if (domain !== undefined && selector !== undefined) {
    attempt(() => checkedDkimRecordName(selector, domain));
  }
  const bits = attempt(() => validateKeyBits(input.bits ?? options.defaultBits));
  const typedUsers = (input.usernames ?? []).map((user) => attempt(() => validateUsername(user)));
  const reason = attempt(() => optionalText("reason", input.reason, MAX_REASON));
  const ticket = attempt(() => optionalText("ticket", input.ticket, MAX_TICKET));
  if (input.requesterId.trim() === "") {
    problems.push(new InputError("requester", "the request has no requester"));
  }
  if (input.channelId.trim() === "") {
    problems.push(new InputError("channel", "the request has no channel"));
  }
  if (
    problems.length > 0 ||
    domain === undefined ||
    selector === undefined ||
    bits === undefined ||
    reason === undefined ||
    ticket === undefined
  ) {
    return { valid: undefined, problems };
  }
  const users = typedUsers.filter((user): user is string => user !== undefined);
  const usernames = users.length === 0 ? [domain] : [...new Set(users)];
  return {
    valid: { domain, selector, bits, usernames, reason, ticket, testing: input.testing === true },
    problems,
  };
}

export function optionalText(field: string, value: string | undefined, max: number): string | null {
  const text = value?.trim() ?? "";
  if (text === "") return null;
  if (text.length > max) {
    throw new InputError(field, `${field} is ${text.length} characters long; keep it to ${max}`);
  }
  return text;
}

export const MAX_REJECT_REASON = MAX_REASON;
