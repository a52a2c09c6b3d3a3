import { describe, expect, it } from "vitest";
import { reminderLeadMs } from "../../src/requests/expiry-reminder.js";
import type { CreateRequestInput } from "../../src/requests/service.js";
import { DIALECTS } from "../helpers/test-stores.js";
import { APPROVER, CHANNEL, type Harness, harnessesOn, REQUESTER, START } from "./support.js";

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

describe("when the reminder comes", () => {
  it("48 hours before expiry, or halfway through a TTL shorter than 4 days", () => {
    expect(reminderLeadMs(14)).toBe(48 * HOUR);
    expect(reminderLeadMs(4)).toBe(48 * HOUR);
    expect(reminderLeadMs(3)).toBe(36 * HOUR);
    expect(reminderLeadMs(1)).toBe(12 * HOUR);
    expect(reminderLeadMs(0.001)).toBe(0.0005 * DAY);
  });
});

describe.each(DIALECTS)("the expiry reminder on %s", (dialect) => {
  const harness = harnessesOn(dialect);
  const at = (ms: number) => new Date(Date.parse(START) + ms).toISOString();
  const input = (domain: string): CreateRequestInput => ({
    domain,
    selector: "s1",
    bits: 1024,
    requesterId: REQUESTER,
    channelId: CHANNEL,
  });
  const reminders = async (h: Harness, id: string) =>
    (await h.store.listEvents(id)).filter((event) => event.kind === "expiry-reminder");

  it("reminds a pending request once, 48 hours before its TTL ends, and never after a restart", async () => {
    const h = await harness();
    const { request } = await h.service.create(input("example.com"));

    h.setNow(at(12 * DAY - 60_000));
    expect(await h.service.remindExpiring()).toEqual([]);

    h.setNow(at(12 * DAY + 60_000));
    const reminded = await h.service.remindExpiring();
    expect(reminded.map((each) => each.id)).toEqual([request.id]);
    const [event, ...more] = await reminders(h, request.id);
    expect(more).toEqual([]);
    expect(event).toMatchObject({
      actorId: "system",
      details: { expiresAt: at(14 * DAY), ttlDays: 14 },
    });
    expect(h.emitted.map((each) => each.event.kind)).toContain("expiry-reminder");

    // The next cycle, and another replica (or this one after a restart), do not repeat it.
    h.setNow(at(13 * DAY));
    expect(await h.service.remindExpiring()).toEqual([]);
    const { service: restarted } = await h.replica();
    expect(await restarted.remindExpiring()).toEqual([]);
    expect(await reminders(h, request.id)).toHaveLength(1);

    // At expiry, as before.
    h.setNow(at(14 * DAY + 1000));
    expect((await h.service.expire()).map((each) => each.id)).toEqual([request.id]);
    expect(await h.service.remindExpiring()).toEqual([]);
  });

  it("a reminder missed while the bot was down is told at the next cycle, before expiry only", async () => {
    const h = await harness();
    const { request: late } = await h.service.create(input("late.example"));
    h.setNow(at(DAY));
    const { request: gone } = await h.service.create(input("gone.example"));
    // Down from day 1 to day 14.5: the first is past its expiry (expiry handles it), the second
    // is within its last two days.
    h.setNow(at(14.5 * DAY));
    const reminded = await h.service.remindExpiring();
    expect(reminded.map((each) => each.id)).toEqual([gone.id]);
    expect(await reminders(h, late.id)).toEqual([]);
  });

  it("does not remind a request that was approved, rejected or cancelled", async () => {
    const h = await harness();
    const { request: approved } = await h.service.create(input("approved.example"));
    const { request: cancelled } = await h.service.create(input("cancelled.example"));
    await h.service.approve(approved.id, {
      actorId: APPROVER,
      fingerprintShown: approved.fingerprint,
    });
    await h.service.cancel(cancelled.id, { actorId: REQUESTER });
    h.setNow(at(13 * DAY));
    expect(await h.service.remindExpiring()).toEqual([]);
  });

  it("scales with a TTL of a fraction of a day: halfway through it", async () => {
    const h = await harness({
      policy: { approvers: [APPROVER], allowSelfApproval: false, requireDns: true, ttlDays: 0.5 },
    });
    const { request } = await h.service.create(input("short.example"));
    h.setNow(at(6 * HOUR - 1000));
    expect(await h.service.remindExpiring()).toEqual([]);
    h.setNow(at(6 * HOUR + 1000));
    expect((await h.service.remindExpiring()).map((each) => each.id)).toEqual([request.id]);
    expect((await reminders(h, request.id))[0]?.details).toEqual({
      expiresAt: at(12 * HOUR),
      ttlDays: 0.5,
    });
  });
});
