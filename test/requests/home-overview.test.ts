import { describe, expect, it } from "vitest";
import type { HomeViewer } from "../../src/requests/service.js";
import { DIALECTS } from "../helpers/test-stores.js";
import {
  APPROVER,
  CHANNEL,
  dnsResult,
  GROUP_MEMBER,
  type Harness,
  harnessesOn,
  REQUESTER,
  START,
  STRANGER,
} from "./support.js";

const DAY = 24 * 60 * 60 * 1000;
const PRIVATE = "CPRIVATE";

describe.each(DIALECTS)("App Home's overview on %s", (dialect) => {
  const harness = harnessesOn(dialect, () => ({
    lifecycle: { overlapDays: 7, rotateAfterDays: 180, remindEveryDays: 30 },
  }));
  /** Everyone sees CHANNEL; only GROUP_MEMBER is in PRIVATE. */
  const viewer = (actorId: string): HomeViewer => ({
    actorId,
    canSee: async (channelId) => channelId === CHANNEL || actorId === GROUP_MEMBER,
  });

  async function pending(h: Harness, domain: string, requesterId = REQUESTER, channelId = CHANNEL) {
    const { request } = await h.service.create({
      domain,
      bits: 1024,
      requesterId,
      channelId,
    });
    return request;
  }

  it("lists for an approver what waits for them, not their own, and for a requester their open ones", async () => {
    const h = await harness();
    h.dns.answer(dnsResult("live"));
    const live = await pending(h, "live.example");
    await h.service.recordDnsCheck(live.id);
    const own = await pending(h, "own.example", APPROVER);
    await h.service.recordDnsCheck(own.id);
    h.dns.answer(dnsResult("missing"));
    const notLive = await pending(h, "notlive.example");
    await h.service.recordDnsCheck(notLive.id);

    const approver = await h.service.homeOverview(viewer(APPROVER));
    expect(approver.approver).toBe(true);
    expect(approver.waiting?.items.map((each) => each.domain)).toEqual(["live.example"]);
    expect(approver.mine.items.map((each) => each.domain)).toEqual(["own.example"]);

    const requester = await h.service.homeOverview(viewer(REQUESTER));
    expect(requester.approver).toBe(false);
    expect(requester.waiting).toBeUndefined();
    expect(requester.mine.items.map((each) => each.domain)).toEqual([
      "notlive.example",
      "live.example",
    ]);
    expect(requester.counts).toMatchObject({
      waitingForApproval: 2,
      waitingForDns: 1,
      active: 0,
    });
    // A member of an approver group is an approver too.
    expect((await h.service.homeOverview(viewer(GROUP_MEMBER))).approver).toBe(true);
  });

  it("counts anew after every write of a request, made here or by another replica", async () => {
    const h = await harness();
    h.dns.answer(dnsResult("live"));
    const first = await pending(h, "one.example");
    await h.service.recordDnsCheck(first.id);
    const before = await h.service.homeOverview(viewer(APPROVER));
    expect(before.counts).toMatchObject({ waitingForApproval: 1, waitingForDns: 0, active: 0 });
    expect((await h.service.homeOverview(viewer(APPROVER))).counts).toEqual(before.counts);

    // Another replica approves it and makes a new one: both seen at the next drawing here.
    const replica = await h.replica();
    await replica.service.approve(first.id, {
      actorId: APPROVER,
      fingerprintShown: first.fingerprint,
    });
    const second = await replica.service.create({
      domain: "two.example",
      bits: 1024,
      requesterId: REQUESTER,
      channelId: CHANNEL,
    });
    const after = await h.service.homeOverview(viewer(APPROVER));
    expect(after.counts).toMatchObject({ waitingForApproval: 0, waitingForDns: 1, active: 1 });
    expect(after.waiting?.items).toEqual([]);
    expect(after.waiting?.more).toBe(0);
    await replica.service.cancel(second.request.id, { actorId: REQUESTER });
    expect((await h.service.homeOverview(viewer(APPROVER))).counts).toMatchObject({
      waitingForDns: 0,
      active: 1,
    });
  });

  it("leaves out requests of channels the person cannot read, and does not count them as more", async () => {
    const h = await harness();
    h.dns.answer(dnsResult("live"));
    const hidden = await pending(h, "secret.example", STRANGER, PRIVATE);
    await h.service.recordDnsCheck(hidden.id);
    const shown = await pending(h, "open.example", STRANGER);
    await h.service.recordDnsCheck(shown.id);
    const approver = await h.service.homeOverview(viewer(APPROVER));
    expect(approver.waiting).toEqual({
      items: [expect.objectContaining({ id: shown.id })],
      more: 0,
    });
    const member = await h.service.homeOverview(viewer(GROUP_MEMBER));
    expect(member.waiting?.items.map((each) => each.domain)).toEqual([
      "secret.example",
      "open.example",
    ]);
  });

  it("shows monitoring problems and keys due for rotation, not one whose rotation is under way", async () => {
    let now = Date.parse(START);
    const h = await harness({ clock: () => new Date(now) });
    const keys = [];
    for (const domain of ["old.example", "rotating.example", "broken.example"]) {
      const request = await pending(h, domain);
      keys.push(
        await h.service.approve(request.id, {
          actorId: APPROVER,
          fingerprintShown: request.fingerprint,
        }),
      );
    }
    now += 200 * DAY;
    h.dns.answerFor("broken.example", keys[2]?.selector ?? "", dnsResult("missing"));
    await h.service.lifecycle.monitor();
    await h.service.rotate({
      domain: "rotating.example",
      requesterId: REQUESTER,
      channelId: CHANNEL,
    });

    const overview = await h.service.homeOverview(viewer(REQUESTER));
    expect(overview.problems.items.map((each) => each.domain)).toEqual(["broken.example"]);
    expect(overview.rotationDue?.items.map((each) => each.domain)).toEqual([
      "old.example",
      "broken.example",
    ]);
    expect(overview.counts).toMatchObject({ active: 3, problems: 1, rotationDue: 2 });
    expect(overview.mine.items.map((each) => each.domain)).toEqual(["rotating.example"]);
  });

  it("shows a key as due within a minute of its time, and within seconds for a short period", async () => {
    for (const [rotateAfterDays, lateByMs] of [
      [180, 60_000],
      // About 1.7 s: due on Home two seconds after it turned active, not at the next minute.
      [0.00002, 1_000],
    ] as const) {
      let now = Date.parse(START);
      const h = await harness({
        clock: () => new Date(now),
        lifecycle: { overlapDays: 7, rotateAfterDays, remindEveryDays: 30 },
      });
      const request = await pending(h, `due${String(rotateAfterDays).replace(".", "")}.example`);
      await h.service.approve(request.id, {
        actorId: APPROVER,
        fingerprintShown: request.fingerprint,
      });
      const dueAt = now + rotateAfterDays * DAY;
      now = dueAt - 1;
      expect((await h.service.homeOverview(viewer(REQUESTER))).counts.rotationDue).toBe(0);
      now = dueAt + lateByMs + 1;
      const overview = await h.service.homeOverview(viewer(REQUESTER));
      expect(overview.counts.rotationDue).toBe(1);
      expect(overview.rotationDue?.items.map((each) => each.domain)).toEqual([request.domain]);
    }
  });

  it("says 'unknown' rather than 'not an approver' when a group lookup fails", async () => {
    const h = await harness({
      isMemberOfGroup: async () => {
        throw new Error("Slack is down");
      },
    });
    const overview = await h.service.homeOverview(viewer(STRANGER));
    expect(overview.approver).toBe("unknown");
    expect(overview.waiting).toBeUndefined();
  });

  it("pages a long list and says how many more", async () => {
    const h = await harness();
    h.dns.answer(dnsResult("live"));
    for (let index = 0; index < 18; index++) {
      const request = await pending(h, `d${index}.example`);
      await h.service.recordDnsCheck(request.id);
    }
    const overview = await h.service.homeOverview(viewer(APPROVER));
    expect(overview.waiting?.items).toHaveLength(15);
    expect(overview.waiting?.more).toBe(3);
    // Oldest first: the one waiting longest comes first.
    expect(overview.waiting?.items[0]?.domain).toBe("d0.example");
  });
});
