/**
 * The words of a DNS verdict, shared by the lookup (check.ts) and the diagnosis of what was
 * found (record.ts): in a module of their own so that neither imports the other.
 */

/**
 * The verdict on a DKIM record as published in DNS, for people and for the approval policy:
 * `checkDkimRecord` looks the name up and diagnoses what it finds.
 */
export type DkimCheckStatus =
  /** One DKIM record at the name, well formed, not revoked (and matching, when a key was expected). */
  | "live"
  /** Nothing published yet: NXDOMAIN or no TXT record at the name. */
  | "missing"
  /** Something is published but it is wrong (different key, truncated, mis-ordered, several, ...). */
  | "wrong"
  /** The lookup itself failed (timeout, SERVFAIL, ...): nothing can be said about the record. */
  | "lookup-failed";

export interface DkimCheckProblem {
  /** Stable identifier, e.g. "different-key", "truncated", "testing-flag". */
  code: string;
  /** Errors keep the record from being live; warnings do not (e.g. `t=y` left on). */
  severity: "error" | "warning";
  /** One plain sentence: what is wrong and what to do. */
  message: string;
}

export interface DkimCheckResult {
  /** `<selector>._domainkey.<domain>` */
  name: string;
  status: DkimCheckStatus;
  /** Whether the published key is the expected one; null when no key was expected or none is published. */
  matches: boolean | null;
  problems: DkimCheckProblem[];
  /** The TXT records found, each as its character-strings in the order DNS gave them. */
  published: string[][];
  /** Set when the name is a CNAME (delegated DKIM): the name the record was found at. */
  cnameTarget?: string;
  /** One sentence for people, e.g. "Live and matches the key." */
  summary: string;
}

export interface ExpectedKey {
  publicKeyBase64: string;
  /** The request asked for `t=y`: then a testing flag is expected, not a problem. */
  testing?: boolean;
}
