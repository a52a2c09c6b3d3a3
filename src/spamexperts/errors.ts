/**
 * What can go wrong when calling the SpamExperts Software API, as a few named errors a
 * listener can turn into a reply. Every field is safe to show and to log: no URL, query
 * string, credential or key material is ever stored on these errors (the HTTP layer's own
 * error is replaced by a `NetworkFailure` that keeps only its code).
 */
import { CodedError, type ErrorCode } from "../errors.js";
import { networkCodeOf } from "../net/network-code.js";
import type { SpamExpertsCall } from "./types.js";

export type SpamExpertsErrorCode = Extract<
  ErrorCode,
  | "SPAMEXPERTS_AUTH"
  | "SPAMEXPERTS_UNKNOWN_DOMAIN"
  | "SPAMEXPERTS_API_ERROR"
  | "SPAMEXPERTS_TRANSIENT"
>;

export interface SpamExpertsErrorDetails {
  call: SpamExpertsCall;
  /** HTTP status of the last attempt, when a response arrived. */
  status?: number;
  /** The API's own text (trimmed, redacted), for people to read; absent when there was none. */
  apiText?: string;
  /** How many HTTP attempts were made before giving up. */
  attempts: number;
  /** The sanitised network failure behind a transient error. */
  cause?: NetworkFailure;
}

/** The JSON form of a SpamExperts error: what logs and the audit trail may keep. */
export interface SpamExpertsErrorJson {
  name: string;
  code: SpamExpertsErrorCode;
  message: string;
  call: SpamExpertsCall;
  status?: number;
  apiText?: string;
  attempts: number;
  retryable: boolean;
  causeCode?: string;
}

export abstract class SpamExpertsError extends CodedError {
  declare readonly code: SpamExpertsErrorCode;
  readonly call: SpamExpertsCall;
  readonly status?: number;
  readonly apiText?: string;
  readonly attempts: number;
  /** True for faults that may pass by themselves (network, timeout, 5xx, 429). */
  abstract readonly retryable: boolean;

  protected constructor(
    code: SpamExpertsErrorCode,
    message: string,
    details: SpamExpertsErrorDetails,
  ) {
    super(code, message, details.cause === undefined ? undefined : { cause: details.cause });
    this.call = details.call;
    if (details.status !== undefined) this.status = details.status;
    if (details.apiText !== undefined && details.apiText !== "") this.apiText = details.apiText;
    this.attempts = details.attempts;
  }

  toJSON(): SpamExpertsErrorJson {
    const json: SpamExpertsErrorJson = {
      name: this.name,
      code: this.code,
      message: this.message,
      call: this.call,
      attempts: this.attempts,
      retryable: this.retryable,
    };
    if (this.status !== undefined) json.status = this.status;
    if (this.apiText !== undefined) json.apiText = this.apiText;
    if (this.cause instanceof NetworkFailure) json.causeCode = this.cause.code;
    return json;
  }
}

/** The credentials were refused, or the API user may not make this call from here. */
export class SpamExpertsAuthError extends SpamExpertsError {
  readonly retryable = false;

  constructor(message: string, details: SpamExpertsErrorDetails) {
    super("SPAMEXPERTS_AUTH", message, details);
  }
}

/** The cluster does not know the domain. */
export class SpamExpertsUnknownDomainError extends SpamExpertsError {
  readonly retryable = false;

  constructor(message: string, details: SpamExpertsErrorDetails) {
    super("SPAMEXPERTS_UNKNOWN_DOMAIN", message, details);
  }
}

/** Any other refusal: an `ERROR:` text or a 4xx/3xx status. */
export class SpamExpertsApiError extends SpamExpertsError {
  readonly retryable = false;

  constructor(message: string, details: SpamExpertsErrorDetails) {
    super("SPAMEXPERTS_API_ERROR", message, details);
  }
}

/** Network failure, timeout, 5xx or 429, still failing after every attempt. */
export class SpamExpertsTransientError extends SpamExpertsError {
  readonly retryable = true;

  constructor(message: string, details: SpamExpertsErrorDetails) {
    super("SPAMEXPERTS_TRANSIENT", message, details);
  }
}

/**
 * Stands in for the HTTP layer's error as the `cause` of a transient error. undici's errors
 * are dropped because their messages and properties may carry the request (and so the key);
 * only a code such as UND_ERR_CONNECT_TIMEOUT or ECONNREFUSED, and the error's class name,
 * survive. Its stack is reduced to its one line for the same reason.
 */
export class NetworkFailure extends Error {
  readonly code: string;

  constructor(code: string, originalName?: string) {
    super(originalName === undefined ? code : `${originalName} (${code})`);
    this.name = "NetworkFailure";
    this.code = code;
    this.stack = `${this.name}: ${this.message}`;
  }

  /** Keeps only a safe code and class name from whatever the HTTP layer threw. */
  static from(error: unknown): NetworkFailure {
    return new NetworkFailure(networkCodeOf(error), safeNameOf(error));
  }
}

const SAFE_NAME = /^[A-Za-z][A-Za-z0-9]{0,63}$/;

function safeNameOf(error: unknown): string | undefined {
  if (!(error instanceof Object)) return undefined;
  const name: unknown = Reflect.get(error, "name");
  return typeof name === "string" && SAFE_NAME.test(name) && name !== "Error" ? name : undefined;
}
