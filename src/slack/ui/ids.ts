/**
 * Every action id, block id and callback id the bot puts into Slack, in one place: the
 * listeners match on these and the UI builders emit them, so the two cannot drift apart.
 */
import { INVENTORY_FILTERS, type InventoryFilter, NAME_PART } from "../../requests/inventory.js";

export const ACTION_IDS = {
  checkDns: "dkim_check_dns",
  approve: "dkim_approve",
  reject: "dkim_reject",
  retry: "dkim_retry",
  cancel: "dkim_cancel",
  rotate: "dkim_rotate",
  markRetired: "dkim_mark_retired",
  /** `/dkim domains`: the pages of the answer, a fresh list, the CSV, a batch of domains. */
  domainsPrevious: "dkim_domains_previous",
  domainsNext: "dkim_domains_next",
  domainsRefresh: "dkim_domains_refresh",
  domainsCsv: "dkim_domains_csv",
  domainsSetupBatch: "dkim_domains_setup_batch",
  /** The batch card's buttons (and Retry failed on a run's summary reply). */
  batchCheckDns: "dkim_batch_check_dns",
  batchApproveLive: "dkim_batch_approve_live",
  batchRetryFailed: "dkim_batch_retry_failed",
  batchRejectAll: "dkim_batch_reject_all",
  batchCancel: "dkim_batch_cancel",
} as const;

export type ActionId = (typeof ACTION_IDS)[keyof typeof ACTION_IDS];

export const BLOCK_IDS = {
  /** The buttons under the request message. */
  requestActions: "dkim_request_actions",
  /** The Retry button on a failure reply in the thread. */
  failedActions: "dkim_failed_actions",
  /** Rotate on a reminder or a monitoring alert; Mark retired on the retire-due notice. */
  noticeActions: "dkim_notice_actions",
  /** The buttons under a `/dkim domains` answer. */
  domainsActions: "dkim_domains_actions",
  /** The buttons under a batch card. */
  batchActions: "dkim_batch_actions",
  /** Retry failed (N) on a batch run's summary reply. */
  batchRunActions: "dkim_batch_run_actions",
} as const;

export const CALLBACK_IDS = {
  setupForm: "dkim_setup_form",
  rejectForm: "dkim_reject_form",
  /** Reject all, on a batch card: asks the reason once for every request it ends. */
  batchRejectForm: "dkim_batch_reject_form",
  /** A view with nothing to submit (notice-modal.ts): only Close. */
  notice: "dkim_notice",
} as const;

/** Block id and action id of each input of the setup form. */
export const SETUP_FIELDS = {
  domain: { blockId: "dkim_setup_domain", actionId: "domain" },
  selector: { blockId: "dkim_setup_selector", actionId: "selector" },
  bits: { blockId: "dkim_setup_bits", actionId: "bits" },
  usernames: { blockId: "dkim_setup_users", actionId: "usernames" },
  testing: { blockId: "dkim_setup_testing", actionId: "testing" },
  reason: { blockId: "dkim_setup_reason", actionId: "reason" },
} as const;

/** The value of the testing checkbox when ticked. */
export const TESTING_OPTION_VALUE = "testing";

export const REJECT_FIELDS = {
  reason: { blockId: "dkim_reject_reason", actionId: "reason" },
} as const;

/** What a button click needs: which request, and for Approve the key the clicker was shown. */
export interface ActionValue {
  requestId: string;
  /** `SHA256:…` as shown on the message; the service refuses when the request's key differs. */
  fingerprint?: string;
}

const REQUEST_ID = /^[a-z0-9]{1,64}$/;
/** `SHA256:` and the unpadded base64 of a 32-byte digest (43 characters). */
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;
const SEPARATOR = "|";

/** `<request id>` or `<request id>|<fingerprint>`: short, and readable in a payload log. */
export function encodeActionValue(value: ActionValue): string {
  if (!REQUEST_ID.test(value.requestId)) {
    throw new Error(`Not a request id: ${JSON.stringify(value.requestId)}.`);
  }
  if (value.fingerprint === undefined) return value.requestId;
  if (!FINGERPRINT.test(value.fingerprint)) {
    throw new Error(`Not a key fingerprint: ${JSON.stringify(value.fingerprint)}.`);
  }
  return `${value.requestId}${SEPARATOR}${value.fingerprint}`;
}

/**
 * Reads a button value back. It comes from Slack's payload, so anything else than what
 * `encodeActionValue` makes (extra parts, a bad id, a bad fingerprint) is refused: undefined.
 */
export function decodeActionValue(value: unknown): ActionValue | undefined {
  if (typeof value !== "string" || value.length > 200) return undefined;
  const parts = value.split(SEPARATOR);
  const [requestId, fingerprint, ...rest] = parts;
  if (requestId === undefined || rest.length > 0 || !REQUEST_ID.test(requestId)) return undefined;
  if (fingerprint === undefined) return { requestId };
  if (!FINGERPRINT.test(fingerprint)) return undefined;
  return { requestId, fingerprint };
}

/** What a `/dkim domains` button needs: which list (filter, part of a name) and which page. */
export interface DomainsValue {
  filter?: InventoryFilter | undefined;
  namePart?: string | undefined;
  page: number;
}

/** Pages people may ask for: far past any cluster's (10,000 domains are 200 pages of 50). */
export const MAX_DOMAINS_PAGE = 100_000;

/** `p=2;f=failed;n=shop`: the characters of a name part never include `;` or `=`. */
export function encodeDomainsValue(value: DomainsValue): string {
  const parts = [`p=${Math.max(1, Math.trunc(value.page))}`];
  if (value.filter !== undefined) parts.push(`f=${value.filter}`);
  if (value.namePart !== undefined) {
    if (!NAME_PART.test(value.namePart)) {
      throw new Error(`Not a part of a name: ${JSON.stringify(value.namePart)}.`);
    }
    parts.push(`n=${value.namePart}`);
  }
  return parts.join(";");
}

/** Reads a `/dkim domains` button's value back; anything encodeDomainsValue does not make: undefined. */
export function decodeDomainsValue(value: unknown): DomainsValue | undefined {
  if (typeof value !== "string" || value.length > 400) return undefined;
  const fields = new Map<string, string>();
  for (const part of value.split(";")) {
    const match = /^([pfn])=(.+)$/u.exec(part);
    if (match === null || fields.has(match[1] ?? "")) return undefined;
    fields.set(match[1] ?? "", match[2] ?? "");
  }
  const pageText = fields.get("p") ?? "";
  const page = Number(pageText);
  if (!/^\d{1,6}$/.test(pageText) || page < 1 || page > MAX_DOMAINS_PAGE) return undefined;
  const filterText = fields.get("f");
  const filter = INVENTORY_FILTERS.find((each) => each === filterText);
  if (filterText !== undefined && filter === undefined) return undefined;
  const namePart = fields.get("n");
  if (namePart !== undefined && !NAME_PART.test(namePart)) return undefined;
  return {
    page,
    ...(filter === undefined ? {} : { filter }),
    ...(namePart === undefined ? {} : { namePart }),
  };
}

/**
 * What a batch card's button needs: which batch, and for Approve all live and Retry failed
 * the digest of the requests and keys the card showed (requests/batch.ts digestOf).
 */
export interface BatchActionValue {
  batchId: string;
  digest?: string;
}

/** 22 characters of base64url: the first 132 bits of a SHA-256. */
const DIGEST = /^[A-Za-z0-9_-]{22}$/;

export function encodeBatchValue(value: BatchActionValue): string {
  if (!REQUEST_ID.test(value.batchId)) {
    throw new Error(`Not a batch id: ${JSON.stringify(value.batchId)}.`);
  }
  if (value.digest === undefined) return value.batchId;
  if (!DIGEST.test(value.digest)) throw new Error(`Not a digest: ${JSON.stringify(value.digest)}.`);
  return `${value.batchId}${SEPARATOR}${value.digest}`;
}

/** A batch button's value back from Slack's payload; anything else: undefined. */
export function decodeBatchValue(value: unknown): BatchActionValue | undefined {
  if (typeof value !== "string" || value.length > 200) return undefined;
  const [batchId, digest, ...rest] = value.split(SEPARATOR);
  if (batchId === undefined || rest.length > 0 || !REQUEST_ID.test(batchId)) return undefined;
  if (digest === undefined) return { batchId };
  return DIGEST.test(digest) ? { batchId, digest } : undefined;
}
