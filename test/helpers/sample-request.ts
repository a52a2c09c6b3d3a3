/**
 * A complete DkimRequest for tests that need one without going through the service: the
 * store, the race between processes, the Block Kit builders. Override what the test is about.
 */
import type { DkimRequest } from "../../src/requests/model.js";

export const SAMPLE_AT = "2026-11-03T10:00:00.000Z";

export function sampleRequest(overrides: Partial<DkimRequest> = {}): DkimRequest {
  return {
    id: "r7k2m9",
    domain: "example.com",
    selector: "s202611",
    bits: 2048,
    usernames: ["example.com"],
    testing: false,
    reason: null,
    ticket: null,
    requesterId: "U0REQUESTER",
    teamId: null,
    enterpriseId: null,
    channelId: "C0CHANNEL",
    messageTs: "1762165200.000100",
    publicKeyBase64: "",
    fingerprint: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
    recordValue: "v=DKIM1; k=rsa; p=",
    state: "pending",
    progress: { certificateInstalled: false, enabledUsernames: [] },
    lastDnsCheck: null,
    decidedBy: null,
    decidedAt: null,
    rejectReason: null,
    rotationOf: null,
    replacedBy: null,
    activatedAt: null,
    retireAfter: null,
    retiredAt: null,
    retiredBy: null,
    publication: null,
    lastError: null,
    batchId: null,
    createdAt: SAMPLE_AT,
    updatedAt: SAMPLE_AT,
    ...overrides,
  };
}

/** The fields that tie a sample request to a real key pair. */
export function withKey(keyPair: {
  publicKeyBase64: string;
  fingerprint: string;
}): Partial<DkimRequest> {
  return {
    publicKeyBase64: keyPair.publicKeyBase64,
    fingerprint: keyPair.fingerprint,
    recordValue: `v=DKIM1; k=rsa; p=${keyPair.publicKeyBase64}`,
  };
}
