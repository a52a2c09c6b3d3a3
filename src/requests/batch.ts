/**
 * A batch (design.md flow 8): several domains set up by one command, one card in the channel.
 * Each domain is a request of its own, made through the single case (create-request.ts) and
 * tied to the batch by `batchId`; the batch itself only remembers what was asked, what was left
 * out and why, where its card is, and the runs people started on it (approve all, retry
 * failed, reject all, cancel), so a restart finishes what was acked.
 */
import { createHash } from "node:crypto";
import type { DkimRequest } from "./model.js";

/**
 * - `queued`: recorded at the ack; nothing checked yet.
 * - `making`: every domain checked; the keys of those that go on are being made.
 * - `ready`: every key is made (or its domain was refused while making).
 * - `refused`: nothing went on (every domain was bad or skipped); the person was told.
 */
export type BatchState = "queued" | "making" | "ready" | "refused";

/** What was typed, as recorded at the ack. */
export interface BatchInput {
  /** As typed, in order (checked and normalised later). */
  domains: string[];
  selector?: string | undefined;
  bits?: number | undefined;
  testing?: boolean | undefined;
  reason?: string | undefined;
}

/** A domain that does not go on, and the sentence that says why. */
export interface LeftOut {
  domain: string;
  reason: string;
}

/** A domain that goes on, with the selector chosen for it when the batch was checked. */
export interface PlannedDomain {
  domain: string;
  selector: string;
}

export type BatchRunKind = "approve" | "retry" | "reject" | "cancel";

/** One request a run acts on, as the card showed it. */
export interface RunItem {
  requestId: string;
  domain: string;
  fingerprint: string;
}

/**
 * What a person started with one click: the requests it acts on (exactly those shown), what it
 * left out and why, and, once every item is settled, what was refused along the way. Recorded
 * before the click is answered, so a restart finishes it; told once in the thread.
 */
export interface BatchRun {
  id: string;
  kind: BatchRunKind;
  actorId: string;
  /** How the actor qualified as an approver (their id, or a group), for approve and retry. */
  via: string | null;
  /** Reject all: the reason the requester reads. */
  reason: string | null;
  at: string;
  items: RunItem[];
  leftOut: LeftOut[];
  /** Items the single case refused while the run went on (e.g. DNS no longer live). */
  refused: LeftOut[];
  finishedAt: string | null;
  /** The thread was told (its summary reply's ts), so a restart does not tell it again. */
  toldTs: string | null;
}

/**
 * Thread replies told once per batch, by name: the domains not set up and why, the records
 * (files), "every record is live", the expiry reminder.
 */
export type BatchNotice = "checked" | "records" | "all-live" | "expiry";

export interface Batch {
  id: string;
  requesterId: string;
  channelId: string;
  teamId: string | null;
  enterpriseId: string | null;
  input: BatchInput;
  /** The command's response_url (valid 30 minutes), for telling the requester early on. */
  responseUrl: string | null;
  state: BatchState;
  /** Set once checked: domains that are not valid, with the reason. */
  invalid: LeftOut[];
  /** Set once checked (and while making): domains left alone (an active key, an open request). */
  skipped: LeftOut[];
  /** Set once checked: the domains that go on, in the order given. */
  planned: PlannedDomain[];
  /** The batch card, once posted. */
  messageTs: string | null;
  runs: BatchRun[];
  /** Each once-only reply told, by name: its ts (or the records' first file id). */
  told: Partial<Record<BatchNotice, string>>;
  /** Grows with every write: a write names the version it read (optimistic concurrency). */
  version: number;
  createdAt: string;
  updatedAt: string;
}

/** The fields a write may change (the rest are fixed at the start). */
export type BatchChanges = Partial<
  Pick<Batch, "state" | "invalid" | "skipped" | "planned" | "messageTs" | "runs" | "told">
>;

/**
 * Whether the batch still has work a replica must do or finish: keys to make, a card to post,
 * the records to attach, a run to finish or to tell. The store keeps this as a flag, so a
 * restart (or another replica) finds unfinished batches by an index.
 */
export function hasWork(batch: Pick<Batch, "state" | "messageTs" | "runs" | "told">): boolean {
  if (batch.state === "refused") return false;
  if (batch.state !== "ready" || batch.messageTs === null) return true;
  if (batch.told.records === undefined) return true;
  return batch.runs.some((run) => run.finishedAt === null || run.toldTs === null);
}

/** The run that acts now (unfinished), if any. */
export function runningRun(batch: Pick<Batch, "runs">): BatchRun | undefined {
  return batch.runs.find((run) => run.finishedAt === null);
}

/** Pending and live and matching: what "Approve all live (N)" approves. */
export function isLive(request: Pick<DkimRequest, "state" | "lastDnsCheck">): boolean {
  return request.state === "pending" && request.lastDnsCheck?.status === "live";
}

/**
 * A short digest of requests and their keys, in any order, and of the runs the batch had: the
 * card puts it in its "Approve all live (N)" (and "Retry failed (N)") button, and a click acts
 * only when the requests it would act on are exactly those, with those keys, and no run was
 * started since the card was drawn (a second click on the same card does nothing twice).
 */
export function digestOf(
  batch: Pick<Batch, "runs">,
  requests: ReadonlyArray<Pick<DkimRequest, "id" | "fingerprint">>,
): string {
  const lines = requests.map((request) => `${request.id}:${request.fingerprint}`).sort();
  return createHash("sha256")
    .update(`runs:${batch.runs.length}\n${lines.join("\n")}`)
    .digest("base64url")
    .slice(0, 22);
}

/** The members a click of Approve all live acts on, and those of Retry failed. */
export function liveMembers(members: readonly DkimRequest[]): DkimRequest[] {
  return members.filter(isLive);
}

export function failedMembers(members: readonly DkimRequest[]): DkimRequest[] {
  return members.filter((member) => member.state === "failed");
}

/** Members a decision can still end (Reject all, Cancel). */
export function endableMembers(members: readonly DkimRequest[]): DkimRequest[] {
  return members.filter((member) => member.state === "pending" || member.state === "failed");
}

/** Where a batch's requests stand, counted for its card and its replies. */
export interface BatchTally {
  /** Domains that go on (planned); those not made yet are counted in `making`. */
  planned: number;
  making: number;
  /** Pending, by their last DNS verdict: live and matching, wrong, not published (or unknown). */
  pending: number;
  live: number;
  wrong: number;
  applying: number;
  /** Active, or past it (retiring, retired): SpamExperts signs (or signed) with the key. */
  active: number;
  failed: number;
  /** Rejected, cancelled or expired. */
  ended: number;
}

export function tallyOf(
  batch: Pick<Batch, "planned">,
  members: readonly DkimRequest[],
): BatchTally {
  const tally: BatchTally = {
    planned: batch.planned.length,
    making: Math.max(0, batch.planned.length - members.length),
    pending: 0,
    live: 0,
    wrong: 0,
    applying: 0,
    active: 0,
    failed: 0,
    ended: 0,
  };
  for (const member of members) {
    switch (member.state) {
      case "pending":
        tally.pending += 1;
        if (member.lastDnsCheck?.status === "live") tally.live += 1;
        if (member.lastDnsCheck?.status === "wrong") tally.wrong += 1;
        break;
      case "applying":
        tally.applying += 1;
        break;
      case "active":
      case "retiring":
      case "retired":
        tally.active += 1;
        break;
      case "failed":
        tally.failed += 1;
        break;
      default:
        tally.ended += 1;
    }
  }
  return tally;
}

/** A run's items as they stand: done (the step happened), failed, still to go. */
export function runProgressOf(
  run: Pick<BatchRun, "kind" | "items">,
  members: readonly DkimRequest[],
): { done: number; failed: number; toGo: number } {
  const byId = new Map(members.map((member) => [member.id, member]));
  let done = 0;
  let failed = 0;
  for (const item of run.items) {
    const state = byId.get(item.requestId)?.state;
    if (state === "failed" && (run.kind === "approve" || run.kind === "retry")) failed += 1;
    else if (state !== undefined && settledBy(run.kind, state)) done += 1;
  }
  return { done, failed, toGo: run.items.length - done - failed };
}

/** Whether a request in `state` needs nothing more from a run of `kind`. */
function settledBy(kind: BatchRunKind, state: DkimRequest["state"]): boolean {
  switch (kind) {
    case "approve":
    case "retry":
      return state !== "pending" && state !== "applying" && state !== "failed";
    case "reject":
    case "cancel":
      return state !== "pending" && state !== "failed";
  }
}
