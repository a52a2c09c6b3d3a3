/**
 * The client used when SPAMEXPERTS_URL is unset: it makes no call, records what it would have
 * sent (the certificate replaced by a description of the key), and lets the Slack thread show
 * those calls to people.
 */
import { publicKeyOf } from "../dkim/keys.js";
import { isCodedError } from "../errors.js";
import type { DkimApi, DkimApiCall, DkimApiResult } from "./types.js";

export interface RecordedCall {
  call: DkimApiCall;
  /** The parameters as they would have been sent, except `certificate`, which is described. */
  params: Record<string, string>;
}

export interface DryRunClient extends DkimApi {
  readonly dryRun: true;
  readonly calls: ReadonlyArray<RecordedCall>;
  /**
   * No cluster, so no list of its domains: the dry run is not a DomainInventory, and the
   * inventory falls back to the bot's own domains (marked DRY RUN). `never` makes that a
   * compile-time fact, so nothing can pass a dry-run client where a list is expected.
   */
  readonly listDomains?: never;
}

export function createDryRunClient(): DryRunClient {
  const calls: RecordedCall[] = [];

  function record(call: DkimApiCall, params: Record<string, string>): Promise<DkimApiResult> {
    calls.push({ call, params });
    return Promise.resolve({ call, text: "", attempts: 0, dryRun: true });
  }

  return {
    dryRun: true,
    calls,
    setDkimCertificate(domain, selector, privateKeyPem) {
      return record("api_set_dkim_certificate", {
        domain,
        certificate: describePrivateKey(privateKeyPem),
        selector,
      });
    },
    setDkimSelector(domain, selector, username) {
      return record("api_set_dkim_selector", { domain, selector, username });
    },
    close() {
      return Promise.resolve();
    },
  };
}

const REDACTED_PREFIX = "[redacted";
/** What describePrivateKey produces: one short line, no room for a key. */
const DESCRIBED_KEY = /^\[redacted: [\w ,:+/=.-]{1,120}\]$/;

/** `[redacted: 2048-bit RSA private key, SHA256:…]`: enough to tell keys apart, nothing of the key. */
export function describePrivateKey(privateKeyPem: string): string {
  try {
    const { bits, fingerprint } = publicKeyOf(privateKeyPem);
    return `${REDACTED_PREFIX}: ${bits}-bit RSA private key, ${fingerprint}]`;
  } catch (error) {
    if (!isCodedError(error)) throw error;
    return `${REDACTED_PREFIX}: unreadable private key, ${privateKeyPem.length} characters]`;
  }
}

/**
 * A call as people may read it, e.g.
 * `api_set_dkim_selector(domain=example.com, selector=s202611, username=example.com)`.
 * A certificate that is not already described is described here, so a caller cannot leak a key
 * by passing raw parameters.
 */
export function describeCall(call: DkimApiCall, params: Readonly<Record<string, string>>): string {
  const shown = Object.entries(params).map(([name, value]) => {
    const safe =
      name === "certificate" && !DESCRIBED_KEY.test(value) ? describePrivateKey(value) : value;
    return `${name}=${safe}`;
  });
  return `${call}(${shown.join(", ")})`;
}
