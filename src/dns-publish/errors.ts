/**
 * What can go wrong when the bot writes a DKIM record into a zone, as one error class with a
 * `reason` a caller can branch on and a message that is already the sentence to show: what
 * happened and what to fix. Nothing secret is ever put on these errors: no TSIG secret, no API
 * key, no URL with credentials (the network layer's own errors are reduced to their code).
 */
import { CodedError } from "../errors.js";

export type DnsPublishReason =
  /** The server refused the TSIG signature: wrong secret or algorithm (BADSIG), unknown key (BADKEY), clocks apart (BADTIME). */
  | "tsig-refused"
  /** The server is not authoritative for the zone (NOTAUTH, or a read answered without AA). */
  | "not-authoritative"
  /** The server refused the update: its policy does not let the key write this name (REFUSED). */
  | "refused"
  /** The name is outside the zone (NOTZONE), the zone is unknown to the server, or not a managed zone at all. */
  | "not-zone"
  /** The name holds a record the bot did not write; it is left alone. */
  | "foreign-record"
  /** PowerDNS refused the API key (HTTP 401/403). */
  | "api-key-refused"
  /** PowerDNS refused the change with another 4xx status. */
  | "http-status"
  /** SERVFAIL, or HTTP 5xx: the server failed; may pass by itself. */
  | "server-failure"
  /** No answer in time. */
  | "timeout"
  /** The server could not be reached (refused, reset, unreachable). */
  | "network"
  /** An answer the bot cannot trust or read: unsigned, forged, malformed, unexpected code. */
  | "bad-answer";

const TRANSIENT_REASONS: ReadonlySet<DnsPublishReason> = new Set([
  "server-failure",
  "timeout",
  "network",
]);

export function isTransientReason(reason: DnsPublishReason): boolean {
  return TRANSIENT_REASONS.has(reason);
}

export interface DnsPublishErrorDetails {
  reason: DnsPublishReason;
  provider: "rfc2136" | "powerdns";
  /** What happened, e.g. "BIND refused the TSIG signature of key dkim-bot." (no full stop). */
  happened: string;
  /** What to do about it, e.g. "check DKIM_DNS_PUBLISH_TSIG_SECRET ..." (no full stop). */
  fix: string;
  /** The record name the operation was about, when there was one. */
  recordName?: string;
  /** Attempts made before giving up (transient failures are retried). */
  attempts?: number;
}

/** `message` is "<what happened>: <what to fix>." in one sentence. */
export class DnsPublishError extends CodedError {
  readonly reason: DnsPublishReason;
  /** True when trying again later may succeed (timeouts, SERVFAIL, 5xx, network). */
  readonly transient: boolean;
  readonly provider: "rfc2136" | "powerdns";
  readonly recordName?: string;
  readonly attempts: number;
  private readonly details: DnsPublishErrorDetails;

  constructor(details: DnsPublishErrorDetails) {
    const attempts = details.attempts ?? 1;
    const tries = attempts > 1 ? ` (${attempts} attempts)` : "";
    super("DNS_PUBLISH_FAILED", `${details.happened}${tries}: ${details.fix}.`);
    this.details = details;
    this.reason = details.reason;
    this.transient = isTransientReason(details.reason);
    this.provider = details.provider;
    if (details.recordName !== undefined) this.recordName = details.recordName;
    this.attempts = attempts;
  }

  /** The same failure after `attempts` attempts (the message says how many). */
  afterAttempts(attempts: number): DnsPublishError {
    return new DnsPublishError({ ...this.details, attempts });
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      reason: this.reason,
      transient: this.transient,
      provider: this.provider,
      message: this.message,
      attempts: this.attempts,
      ...(this.recordName === undefined ? {} : { recordName: this.recordName }),
    };
  }
}

export function isDnsPublishError(error: unknown): error is DnsPublishError {
  return error instanceof DnsPublishError;
}
