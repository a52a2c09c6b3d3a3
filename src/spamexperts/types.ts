/** What the request workflow needs from a SpamExperts cluster (or from the dry run). */
export type DkimApiCall = "api_set_dkim_certificate" | "api_set_dkim_selector";

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
