/**
 * Bulk setup in requests/, on both store dialects: a batch is recorded before anything else,
 * its domains sorted with the single case's rules, its keys made as requests of their own, and
 * its card's buttons are loops over the single case: exactly the requests the card showed,
 * each under its own rules, each applied once however many clicks.
 */
import { describe, expect, it } from "vitest";
import type { Batch } from "../../src/requests/batch.js";
import { digestOf, failedMembers, liveMembers } from "../../src/requests/batch.js";
import { ActionRefusedError } from "../../src/requests/errors.js";
import type { RequestService } from "../../src/requests/service.js";
import { DIALECTS } from "../helpers/test-stores.js";
import {
  APPROVER,
  CHANNEL,
  dnsResult,
  GROUP_MEMBER,
  type Harness,
  harnessesOn,
  REQUESTER,
  STRANGER,
} from "./support.js";

const requester = { actorId: REQUESTER, teamId: "T1" };

async function startBatch(
  service: RequestService,
  domains: string[],
  options: { selector?: string; bits?: number } = {},
  actor: { actorId: string; teamId?: string } = requester,
): Promise<Batch> {
  const batch = await service.batches.start({
    domains,
    actor,
    channelId: CHANNEL,
    options: { bits: 1024, ...options },
  });
  await service.batches.check(batch.id);
  return service.batches.make(batch.id);
}

/** The batch's requests, by domain (they are made a few at a time, in any order). */
async function membersOf(service: RequestService, batch: Batch) {
  const members = await service.batches.members(batch.id);
  return members.sort((a, b) => a.domain.localeCompare(b.domain));
}

/** Every member's DNS checked now (the harness answers live unless told otherwise). */
async function checkDns(h: Harness, batch: Batch) {
  for (const member of await h.service.batches.members(batch.id)) {
    await h.service.recordDnsCheck(member.id);
  }
  return membersOf(h.service, batch);
}

async function refusal(promise: Promise<unknown>): Promise<ActionRefusedError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ActionRefusedError) return error;
    throw error;
  }
  throw new Error("expected a refusal");
}

describe.each(DIALECTS)("batches on %s", (dialect) => {
  const harness = harnessesOn(dialect);

  describe("start, check and make", () => {
    it("refuses more than DKIM_BATCH_MAX domains with the count, and options no domain takes", async () => {
      const h = await harness({ batchMax: 3 });
      const domains = ["a.example", "b.example", "c.example", "d.example"];
      await expect(
        h.service.batches.start({ domains, actor: requester, channelId: CHANNEL }),
      ).rejects.toThrow(
        "That is 4 domains, and one batch takes at most 3 (DKIM_BATCH_MAX): split them over several commands.",
      );
      await expect(
        h.service.batches.start({
          domains: ["a.example", "b.example"],
          actor: requester,
          channelId: CHANNEL,
          options: { bits: 512 },
        }),
      ).rejects.toThrow(/512-bit keys are too weak/);
      expect(await h.store.claimBatchesWithWork({ owner: "x", until: "9" }, "1", 10)).toEqual([]);
    });

    it("lists bad and skipped domains with their reasons; the rest become requests of their own", async () => {
      const h = await harness();
      // An active key, and an open request on another selector.
      const active = await h.service.create({
        domain: "active.example",
        selector: "old",
        bits: 1024,
        requesterId: REQUESTER,
        channelId: CHANNEL,
      });
      await h.service.approve(active.request.id, {
        actorId: APPROVER,
        fingerprintShown: active.request.fingerprint,
      });
      await h.service.create({
        domain: "open.example",
        selector: "other",
        bits: 1024,
        requesterId: REQUESTER,
        channelId: CHANNEL,
      });

      const batch = await startBatch(h.service, [
        "a.example",
        "Bad_Name!",
        "active.example",
        "open.example",
        "A.example.",
        "bücher.example",
      ]);
      expect(batch.state).toBe("ready");
      expect(batch.invalid.map((each) => each.domain)).toEqual(["Bad_Name!"]);
      expect(batch.invalid[0]?.reason).toMatch(/^domain "Bad_Name!": /);
      expect(batch.skipped).toEqual([
        {
          domain: "active.example",
          reason: expect.stringMatching(
            /already has an active DKIM key .*\/dkim rotate active\.example/,
          ),
        },
        {
          domain: "open.example",
          reason: expect.stringMatching(/has an open request \(selector other, pending/),
        },
        { domain: "A.example.", reason: "a.example is listed twice: it is set up once." },
      ]);
      const members = await membersOf(h.service, batch);
      expect(members.map((member) => [member.domain, member.batchId, member.messageTs])).toEqual([
        ["a.example", batch.id, null],
        ["xn--bcher-kva.example", batch.id, null],
      ]);
      expect(members.every((member) => member.selector === batch.planned[0]?.selector)).toBe(true);
      // The single case made them: one "created" event each, nothing else.
      for (const member of members) {
        expect((await h.store.listEvents(member.id)).map((event) => event.kind)).toEqual([
          "created",
        ]);
      }
      // Making again (a restart) makes nothing twice.
      await h.service.batches.make(batch.id);
      expect(await h.service.batches.members(batch.id)).toHaveLength(2);
    });

    it("refuses the batch when nothing goes on, and points every request at the card once posted", async () => {
      const h = await harness();
      const nothing = await startBatch(h.service, ["x!", "y!"]);
      expect(nothing.state).toBe("refused");

      const batch = await h.service.batches.start({
        domains: ["a.example", "b.example"],
        actor: requester,
        channelId: CHANNEL,
      });
      await h.service.batches.check(batch.id);
      // The card is posted while the keys are being made: made before or after, all point at it.
      const making = h.service.batches.make(batch.id);
      await h.service.batches.attachCard(batch.id, CHANNEL, "1700000000.000100");
      await making;
      const members = await h.service.batches.members(batch.id);
      expect(members.map((member) => member.messageTs)).toEqual([
        "1700000000.000100",
        "1700000000.000100",
      ]);
    });
  });

  describe("Approve all live (N)", () => {
    it("approves exactly the live requests the card showed, and says what it left out", async () => {
      const h = await harness();
      const batch = await startBatch(h.service, ["a.example", "b.example", "c.example"]);
      const [a, b, c] = await membersOf(h.service, batch);
      if (a === undefined || b === undefined || c === undefined) throw new Error("3 members");
      h.dns.answerFor(c.domain, c.selector, dnsResult("missing"));
      const members = await checkDns(h, batch);
      const live = liveMembers(members);
      expect(live.map((member) => member.domain)).toEqual(["a.example", "b.example"]);

      const started = await h.service.batches.approveAllLive(
        batch.id,
        { actorId: APPROVER },
        digestOf(batch, live),
      );
      expect(started.run.items.map((item) => item.domain)).toEqual(["a.example", "b.example"]);
      expect(started.run.leftOut).toEqual([
        { domain: "c.example", reason: "record not live yet: Not live: missing." },
      ]);
      await h.service.batches.idle();
      const after = await membersOf(h.service, batch);
      expect(after.map((member) => member.state)).toEqual(["active", "active", "pending"]);
      expect(
        h.api
          .certificateCalls()
          .map((call) => call.domain)
          .sort(),
      ).toEqual(["a.example", "b.example"]);
      const finished = await h.service.batches.get(batch.id);
      expect(finished?.runs[0]).toMatchObject({ kind: "approve", via: APPROVER, refused: [] });
      expect(finished?.runs[0]?.finishedAt).not.toBeNull();
      // Each approval is the single case's, by the approver.
      const approved = (await h.store.listEvents(a.id)).find((event) => event.kind === "approved");
      expect(approved).toMatchObject({ actorId: APPROVER, details: { via: APPROVER } });
    });

    it("refuses a card that changed, the requester, and someone who is not an approver", async () => {
      const h = await harness();
      const batch = await startBatch(h.service, ["a.example", "b.example"]);
      const members = await checkDns(h, batch);
      const shownBefore = digestOf(batch, liveMembers(members).slice(0, 1));
      const changed = await refusal(
        h.service.batches.approveAllLive(batch.id, { actorId: APPROVER }, shownBefore),
      );
      expect(changed.reason).toBe("batch-changed");
      expect(changed.message).toContain(
        "the card changed since you looked (2 live and matching now)",
      );

      const digest = digestOf(batch, liveMembers(members));
      // An approver who asked for the batch may not approve it (DKIM_ALLOW_SELF_APPROVAL is off).
      const own = await startBatch(h.service, ["own.example"], {}, { actorId: APPROVER });
      const ownDigest = digestOf(own, liveMembers(await checkDns(h, own)));
      const self = await refusal(
        h.service.batches.approveAllLive(own.id, { actorId: APPROVER }, ownDigest),
      );
      expect([self.reason, self.message]).toEqual([
        "self-approval",
        "You asked for this batch, so another approver must approve it (DKIM_ALLOW_SELF_APPROVAL is off).",
      ]);
      expect(
        (await refusal(h.service.batches.approveAllLive(batch.id, { actorId: STRANGER }, digest)))
          .reason,
      ).toBe("not-approver");
      expect(
        (
          await refusal(
            h.service.batches.approveAllLive(
              batch.id,
              { actorId: APPROVER, teamId: "TOTHER" },
              digest,
            ),
          )
        ).reason,
      ).toBe("other-workspace");
      expect(h.api.calls).toEqual([]);
      // A group member qualifies through the group, asked once for the whole batch.
      const started = await h.service.batches.approveAllLive(
        batch.id,
        { actorId: GROUP_MEMBER },
        digest,
      );
      expect(started.run.via).toBe("SMAILOPS");
      await h.service.batches.idle();
    });

    it("re-checks DNS per request and leaves out, with the reason, one that is no longer live", async () => {
      const h = await harness();
      const batch = await startBatch(h.service, ["a.example", "b.example"]);
      const members = await checkDns(h, batch);
      const b = members[1];
      if (b === undefined) throw new Error("2 members");
      // Shown live on the card, gone by the time the approval checks it.
      h.dns.answerFor(b.domain, b.selector, dnsResult("missing"));
      await h.service.batches.approveAllLive(
        batch.id,
        { actorId: APPROVER },
        digestOf(batch, liveMembers(members)),
      );
      await h.service.batches.idle();
      const run = (await h.service.batches.get(batch.id))?.runs[0];
      expect(run?.refused).toEqual([
        { domain: "b.example", reason: expect.stringMatching(/is not ready: Not live: missing\./) },
      ]);
      expect((await membersOf(h.service, batch)).map((m) => m.state)).toEqual([
        "active",
        "pending",
      ]);
    });

    it("applies each request once when the button is clicked twice, here or on another replica", async () => {
      const h = await harness();
      const batch = await startBatch(h.service, ["a.example", "b.example", "c.example"]);
      const digest = digestOf(batch, liveMembers(await checkDns(h, batch)));
      const replica = await h.replica();
      const clicks = await Promise.allSettled([
        h.service.batches.approveAllLive(batch.id, { actorId: APPROVER }, digest),
        replica.service.batches.approveAllLive(batch.id, { actorId: APPROVER }, digest),
      ]);
      await Promise.all([h.service.batches.idle(), replica.service.batches.idle()]);
      const refused = clicks.filter((click) => click.status === "rejected");
      expect(refused).toHaveLength(1);
      // Refused as busy (the first still runs) or as changed (it ran already): nothing twice.
      expect(["batch-busy", "batch-changed"]).toContain(
        ((refused[0] as PromiseRejectedResult).reason as ActionRefusedError).reason,
      );
      expect(
        h.api
          .certificateCalls()
          .map((call) => call.domain)
          .sort(),
      ).toEqual(["a.example", "b.example", "c.example"]);
      // A third click, once done: nothing live is left to approve.
      expect(
        (await refusal(h.service.batches.approveAllLive(batch.id, { actorId: APPROVER }, digest)))
          .reason,
      ).toBe("batch-changed");
    });

    it("keeps at most DKIM_APPLY_CONCURRENCY applies in flight", async () => {
      const h = await harness({ applyConcurrency: 2 });
      const domains = ["a.example", "b.example", "c.example", "d.example", "e.example"];
      const batch = await startBatch(h.service, domains);
      const digest = digestOf(batch, liveMembers(await checkDns(h, batch)));
      let inFlight = 0;
      let peak = 0;
      h.api.behaviour = async () => {
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 20));
        inFlight -= 1;
        return "";
      };
      await h.service.batches.approveAllLive(batch.id, { actorId: APPROVER }, digest);
      await h.service.batches.idle();
      expect(peak).toBe(2);
      expect(h.api.certificateCalls()).toHaveLength(5);
    });
  });

  describe("Retry failed (N), Reject all, Cancel", () => {
    it("retries exactly the failed requests, from the step that failed", async () => {
      const h = await harness();
      const batch = await startBatch(h.service, ["a.example", "b.example", "c.example"]);
      const digest = digestOf(batch, liveMembers(await checkDns(h, batch)));
      h.api.behaviour = (call) => {
        if (call.call === "api_set_dkim_selector" && call.domain !== "a.example") {
          throw new Error("ERROR: No such domain");
        }
        return "";
      };
      await h.service.batches.approveAllLive(batch.id, { actorId: APPROVER }, digest);
      await h.service.batches.idle();
      const failed = failedMembers(await membersOf(h.service, batch));
      expect(failed.map((member) => member.domain)).toEqual(["b.example", "c.example"]);
      expect(failed[0]?.lastError).toContain("No such domain");

      h.api.behaviour = () => "";
      const before = h.api.certificateCalls().length;
      await h.service.batches.retryFailed(
        batch.id,
        { actorId: APPROVER },
        digestOf((await h.service.batches.get(batch.id)) ?? batch, failed),
      );
      await h.service.batches.idle();
      expect((await h.service.batches.members(batch.id)).map((m) => m.state)).toEqual([
        "active",
        "active",
        "active",
      ]);
      // The certificates were installed before: only the selectors are sent again.
      expect(h.api.certificateCalls()).toHaveLength(before);
      expect((await h.service.batches.get(batch.id))?.runs.map((run) => run.kind)).toEqual([
        "approve",
        "retry",
      ]);
    });

    it("lets approvers reject all, the requester cancel, and nobody else", async () => {
      const h = await harness();
      const first = await startBatch(h.service, ["a.example", "b.example"]);
      expect(
        (await refusal(h.service.batches.rejectAll(first.id, { actorId: STRANGER }))).reason,
      ).toBe("not-approver");
      const own = await refusal(h.service.batches.mayRejectAll(first.id, requester));
      expect(own.message).toContain("click Cancel on its card");
      expect(
        (await refusal(h.service.batches.cancelAll(first.id, { actorId: APPROVER }))).message,
      ).toBe(
        `Only <@${REQUESTER}>, who asked for this batch, can cancel it; an approver can reject it instead (Reject all).`,
      );
      await h.service.batches.rejectAll(first.id, { actorId: APPROVER, reason: "not now" });
      await h.service.batches.idle();
      const rejected = await h.service.batches.members(first.id);
      expect(rejected.map((member) => [member.state, member.rejectReason])).toEqual([
        ["rejected", "not now"],
        ["rejected", "not now"],
      ]);
      expect(await h.store.readPrivateKey(rejected[0]?.id ?? "")).toBeUndefined();

      const second = await startBatch(h.service, ["c.example", "d.example"]);
      await h.service.batches.cancelAll(second.id, requester);
      await h.service.batches.idle();
      expect((await h.service.batches.members(second.id)).map((m) => m.state)).toEqual([
        "cancelled",
        "cancelled",
      ]);
      expect((await refusal(h.service.batches.cancelAll(second.id, requester))).message).toContain(
        "Nothing to cancel",
      );
    });
  });

  it("finishes a run a stop cut short, on the next start", async () => {
    const h = await harness();
    const batch = await startBatch(h.service, ["a.example", "b.example", "c.example"]);
    const digest = digestOf(batch, liveMembers(await checkDns(h, batch)));
    // The first certificate call never answers; the bot stops meanwhile.
    let hang = true;
    h.api.behaviour = () => (hang ? new Promise<string>(() => {}) : "");
    const first = await h.replica({ applyConcurrency: 1 });
    await first.service.batches.approveAllLive(batch.id, { actorId: APPROVER }, digest);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(h.api.calls).toHaveLength(1);
    // The process dies: its holds are forgotten (SQLite's start does this; a replica waits).
    await h.store.forgetHolds();
    hang = false;
    const [claimed] = await h.service.batches.claimUnfinished();
    expect(claimed?.id).toBe(batch.id);
    h.service.batches.resume(claimed as Batch);
    await h.service.resumeInterrupted();
    await h.service.batches.idle();
    expect((await h.service.batches.members(batch.id)).map((m) => m.state)).toEqual([
      "active",
      "active",
      "active",
    ]);
    const run = (await h.service.batches.get(batch.id))?.runs[0];
    expect(run?.finishedAt).not.toBeNull();
    expect(run?.refused).toEqual([]);
  });
});
