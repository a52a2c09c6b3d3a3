/** What the request workflow needs from a SpamExperts cluster (or from the dry run). */
export type DkimApiCall = "api_set_dkim_certificate" | "api_set_dkim_selector";

/** Every Software API call the bot makes: the two DKIM calls and the read-only listing. */
export type SpamExpertsCall = DkimApiCall | "api_list_domains";

export interface DkimApiResult {
  call: DkimApiCall;
  /** The API's own response text, trimmed; often empty on success. Never contains the key. */
  text: string;
  /** How many HTTP attempts it took (transient faults are retried). */
  attempts: number;
  /** True when no cluster is configured and the call was only recorded. */
  dryRun: boolean;
}

export interface DkimApi {
  readonly dryRun: boolean;
  setDkimCertificate(
    domain: string,
    selector: string,
    privateKeyPem: string,
  ): Promise<DkimApiResult>;
  setDkimSelector(domain: string, selector: string, username: string): Promise<DkimApiResult>;
  close(): Promise<void>;
}

/** The cluster's domains as `api_list_domains` gave them, cleaned up (see domain-list.ts). */
export interface DomainList {
  /** Normalised (lower case, punycode, no trailing dot), each once, in name order. */
  domains: string[];
  /** Non-empty lines (or JSON items) that were not a domain name and were left out. */
  ignored: number;
  /** A few of the ignored entries, redacted and cut short, so people can see what they were. */
  ignoredExamples: string[];
  /** Entries that named a domain already listed (after normalising) and were left out. */
  duplicates: number;
  /** How many HTTP attempts it took. */
  attempts: number;
}

/**
 * The cluster's inventory: read only, and only a real cluster has one. The dry-run client does
 * not implement it (there is no cluster to list); the inventory then uses the bot's own domains.
 */
export interface DomainInventory {
  /** Throws a SpamExpertsError, as the DKIM calls do, when the list cannot be had whole. */
  listDomains(): Promise<DomainList>;
}

/** The real client: the DKIM calls and the inventory over one set of connections. */
export interface SpamExpertsClient extends DkimApi, DomainInventory {
  readonly dryRun: false;
}
