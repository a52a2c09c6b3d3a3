/**
 * The small set of errors a person can cause or meet. Each carries a `code` that the
 * outer layers (Slack listeners, the CLI) turn into a sentence for the person who acted;
 * `message` is already that sentence: what was wrong and what to do.
 */
export type ErrorCode =
  | "INVALID_INPUT"
  | "CONFIG_INVALID"
  | "DNS_LOOKUP_FAILED"
  | "KEY_GENERATION_FAILED"
  | "KEY_UNREADABLE"
  | "FILE_EXISTS"
  | "SEALING_FAILED"
  | "SPAMEXPERTS_AUTH"
  | "SPAMEXPERTS_UNKNOWN_DOMAIN"
  | "SPAMEXPERTS_API_ERROR"
  | "SPAMEXPERTS_TRANSIENT"
  | "DNS_PUBLISH_FAILED"
  | "REQUEST_NOT_FOUND"
  | "REQUEST_CONFLICT"
  | "APPROVAL_REFUSED"
  | "NOT_ALLOWED"
  | "STORE_BUSY"
  | "STORE_UNAVAILABLE";

export class CodedError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Input a person typed is not acceptable; `field` names which input (domain, selector, ...). */
export class InputError extends CodedError {
  readonly field: string;

  constructor(field: string, message: string) {
    super("INVALID_INPUT", message);
    this.field = field;
  }
}

export function isCodedError(error: unknown): error is CodedError {
  return error instanceof CodedError;
}
