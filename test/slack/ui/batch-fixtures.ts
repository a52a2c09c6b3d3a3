/** Batches and their requests for the batch UI tests: the builders draw what they are given. */
import type { Batch } from "../../../src/requests/batch.js";
import type { DkimRequest } from "../../../src/requests/model.js";
import { sampleRequest } from "../../helpers/sample-request.js";

export function sampleBatch(
  count: number,
  overrides: Partial<Batch> = {},
  domainOf: (index: number) => string = (index) => `a${index}.batch.example`,
): Batch {
  const domains = Array.from({ length: count }, (_, index) => domainOf(index));
  const invalid = overrides.invalid ?? [];
  return {
    id: "b7k2m9q4x8zz",
    requesterId: "UREQUESTER",
    channelId: "CDKIMOPS",
    teamId: "T1",
    enterpriseId: null,
    input: { domains: [...domains, ...invalid.map((each) => each.domain)] },
    responseUrl: null,
    state: "ready",
    invalid,
    skipped: [],
    planned: domains.map((domain) => ({ domain, selector: "s202612" })),
    messageTs: "1796140000.000100",
    runs: [],
    told: {},
    version: 1,
    createdAt: "2026-12-07T09:00:00.000Z",
    updatedAt: "2026-12-07T09:00:00.000Z",
    ...overrides,
  };
}

export function sampleMembers(
  batch: Batch,
  each: (index: number) => Partial<DkimRequest>,
): DkimRequest[] {
  return batch.planned.map((planned, index) =>
    sampleRequest({
      id: `m${String(index).padStart(11, "0")}`,
      domain: planned.domain,
      selector: planned.selector,
      batchId: batch.id,
      channelId: batch.channelId,
      messageTs: batch.messageTs,
      fingerprint: `SHA256:${String(index).padStart(43, "A")}`,
      ...each(index),
    }),
  );
}
