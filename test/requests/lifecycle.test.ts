import { afterEach, describe, expect, it } from "vitest";
import { type DkimKeyPair, generateKeyPair } from "../../src/dkim/keys.js";
import type { CodedError } from "../../src/errors.js";
import { ActionRefusedError } from "../../src/requests/errors.js";
import type { AuditEventKind, DkimRequest } from "../../src/requests/model.js";
import { READ_PAGE } from "../../src/requests/paged-reads.js";
import { DIALECTS } from "../helpers/test-stores.js";
import { type Seed, seed } from "./store/seed-requests.js";
import {
  APPROVER,
  CHANNEL,
  createHarness,
  dnsResult,
  type Harness,
  type HarnessOptions,
  REQUESTER,
  STRANGER,
} from "./support.js";

const DAY = 24 * 60 * 60 * 1000;

describe.each(DIALECTS)("a key's whole life on %s", (dialect) => {
  const harnesses: Harness[] = [];
  afterEach(async () => {
    for (const h of harnesses.splice(0)) await h.close();
  });
  let now = Date.parse("2026-12-01T10:00:00.000Z");
  async function harness(options: HarnessOptions = {}): Promise<Harness> {
    now = Date.parse("2026-12-01T10:00:00.000Z");
    const h = await createHarness({
      dialect,
      clock: () => new Date(now),
      lifecycle: { overlapDays: 7, rotateAfterDays: 180, remindEveryDays: 30 },
      ...options,
    });
    harnesses.push(h);
    return h;
  }
  const later = (days: number) => {
    now += days * DAY;
  };
  const kinds = async (h: Harness, id: string): Promise<AuditEventKind[]> =>
    (await h.store.listEvents(id)).map((event) => event.kind);

  async function activeKey(h: Harness, domain = "acme-shop.nl", users?: string[]) {
    const { request } = await h.service.create({
      domain,
      bits: 1024,
      requesterId: REQUESTER,
      channelId: CHANNEL,
      ...(users === undefined ? {} : { usernames: users }),
    });
    return h.service.approve(request.id, {
      actorId: APPROVER,
      fingerprintShown: request.fingerprint,
    });
  }

  async function rotated(h: Harness, old: DkimRequest) {
    const { request } = await h.service.rotate({
      domain: old.domain,
      requesterId: REQUESTER,
      channelId: CHANNEL,
    });
    return request;
  }

  /** More requests than one page of the store holds (READ_PAGE + 7), each as `seedOf` says. */
  async function seedMoreThanAPage(
    h: Harness,
    keyPair: DkimKeyPair,
    seedOf: (i: number) => Seed,
  ): Promise<number> {
    const count = READ_PAGE + 7;
    for (let i = 0; i < count; i++) await seed(h.store, keyPair, seedOf(i));
    return count;
  }

  it("monitors a fleet larger than one page of the store: every active and retiring key once", async () => {
    const h = await harness();
    const keyPair = await generateKeyPair(1024);
    const count = await seedMoreThanAPage(h, keyPair, (i) => ({
      id: `fleet${String(i).padStart(4, "0")}`,
      state: i % 50 === 0 ? "retiring" : "active",
      day: i % 3,
      dns: "live",
    }));
    // Not monitored: the DNS watch checks pending requests.
    await seed(h.store, keyPair, { id: "waiting", state: "pending", day: 1 });
    h.dns.answer(dnsResult("live"));
    const report = await h.service.lifecycle.monitor();
    expect(report).toMatchObject({ checked: count, problems: 0, skipped: 0 });
    const asked = h.dns.calls.map((call) => call.domain);
    expect(new Set(asked).size).toBe(count);
    expect(asked).not.toContain("waiting.example");
    // Every verdict stored (in batches), the generation counting each batch.
    const checkedAt = new Date(now).toISOString();
    const keys = (await h.store.list({ states: ["active", "retiring"] })).filter(
      (each) => each.lastDnsCheck?.checkedAt === checkedAt && each.lastDnsCheck.status === "live",
    );
    expect(keys).toHaveLength(count);

    // No resolver answers: the round gives up, and says how many keys wait for the next one.
    h.dns.answer(dnsResult("lookup-failed"));
    const dead = await h.service.lifecycle.monitor();
    expect(dead.checked).toBeLessThan(count);
    expect(dead.checked + dead.skipped).toBe(count);
  });

  it("the DNS watch checks pending requests of more than one page of the store, each once", async () => {
    const h = await harness();
    const keyPair = await generateKeyPair(1024);
    const count = await seedMoreThanAPage(h, keyPair, (i) => ({
      id: `pend${String(i).padStart(4, "0")}`,
      state: "pending",
      day: i % 3,
    }));
    // Not watched: monitoring checks active keys.
    await seed(h.store, keyPair, { id: "signing", state: "active", day: 1, dns: "live" });
    h.dns.answer(dnsResult("live"));
    const outcomes = await h.service.checkPending();
    expect(outcomes).toHaveLength(count);
    const asked = h.dns.calls.map((call) => call.domain);
    expect(new Set(asked).size).toBe(count);
    expect(asked).toHaveLength(count);
    expect(asked).not.toContain("signing.example");
  });

  it("refuses a second setup of an active domain, naming its selector and age, and points to rotate", async () => {
    const h = await harness();
    const active = await activeKey(h);
    later(12);
    const error = (await h.service
      .create({ domain: "acme-shop.nl", bits: 1024, requesterId: REQUESTER, channelId: CHANNEL })
      .catch((caught: unknown) => caught)) as CodedError;
    expect(error.code).toBe("REQUEST_CONFLICT");
    expect(error.message).toBe(
      `acme-shop.nl already has an active DKIM key (selector ${active.selector}, active for 12 days): to replace it, use /dkim rotate acme-shop.nl.`,
    );
    const problems = await h.service.findInputProblems({
      domain: "acme-shop.nl",
      requesterId: REQUESTER,
      channelId: CHANNEL,
    });
    expect(problems).toEqual([{ field: "domain", message: error.message }]);
    expect(h.generated).toHaveLength(1);
  });

  it("rotates with a new selector, the same outgoing users, and retires the old key after the overlap", async () => {
    const h = await harness();
    const old = await activeKey(h, "acme-shop.nl", ["mailer@acme-shop.nl", "news@acme-shop.nl"]);
    expect(old.selector).toBe("s202612");
    const sameMonth = await rotated(h, old);
    // The default never reuses a selector the domain had: s202612 is taken, so s202612-2.
    expect(sameMonth.selector).toBe("s202612-2");
    await h.service.cancel(sameMonth.id, { actorId: REQUESTER });
    later(31);
    const next = await rotated(h, old);
    expect(next.selector).toBe("s202701");
    expect(next.usernames).toEqual(["mailer@acme-shop.nl", "news@acme-shop.nl"]);
    expect(next.rotationOf).toEqual({ id: old.id, selector: old.selector });
    expect(await kinds(h, old.id)).toContain("rotation-started");

    const active = await h.service.approve(next.id, {
      actorId: APPROVER,
      fingerprintShown: next.fingerprint,
    });
    expect(active.state).toBe("active");
    const retiring = await h.service.get(old.id);
    expect(retiring?.state).toBe("retiring");
    expect(retiring?.replacedBy).toEqual({ id: next.id, selector: next.selector });
    expect(retiring?.retireAfter).toBe(new Date(now + 7 * DAY).toISOString());
    expect((await kinds(h, old.id)).at(-1)).toBe("retiring");

    // During the overlap the old record must stay: monitoring watches it like an active one.
    h.dns.answerFor("acme-shop.nl", old.selector, dnsResult("live"));
    h.dns.answerFor("acme-shop.nl", next.selector, dnsResult("live"));
    await h.service.lifecycle.monitor();
    expect((await h.service.get(old.id))?.state).toBe("retiring");

    // Overlap over: told once to remove or revoke; retired as soon as DNS shows it gone.
    later(8);
    await h.service.lifecycle.monitor();
    await h.service.lifecycle.monitor();
    expect((await kinds(h, old.id)).filter((kind) => kind === "retire-due")).toHaveLength(1);
    expect((await h.service.get(old.id))?.state).toBe("retiring");
    h.dns.answerFor(
      "acme-shop.nl",
      old.selector,
      dnsResult("wrong", { problem: "revoked", summary: "The key is revoked." }),
    );
    const report = await h.service.lifecycle.monitor();
    expect(report.retired).toBe(1);
    const retired = await h.service.get(old.id);
    expect(retired?.state).toBe("retired");
    expect(retired?.retiredBy).toBe("system");
    expect((await kinds(h, old.id)).filter((kind) => kind === "monitor-problem")).toEqual([]);
  });

  it("keeps the old key active and signing when the rotation's apply fails", async () => {
    const h = await harness();
    const old = await activeKey(h);
    const next = await rotated(h, old);
    h.api.behaviour = () => {
      throw new Error("ERROR: no permissions");
    };
    const failed = await h.service.approve(next.id, {
      actorId: APPROVER,
      fingerprintShown: next.fingerprint,
    });
    expect(failed.state).toBe("failed");
    expect((await h.service.get(old.id))?.state).toBe("active");
    // A failed rotation holds its place: a second one is refused until it is ended.
    await expect(rotated(h, old)).rejects.toThrow(
      "A rotation of acme-shop.nl is under way already",
    );
    await h.service.reject(next.id, { actorId: APPROVER, reason: "try later" });
    expect((await h.service.get(next.id))?.state).toBe("rejected");
    expect(await h.store.readPrivateKey(next.id)).toBeUndefined();
    const again = await rotated(h, old);
    expect(again.selector).not.toBe(next.selector);
  });

  it("refuses a rotation without an active key, and a typed selector in use", async () => {
    const h = await harness();
    await expect(
      h.service.rotate({ domain: "nothing.example", requesterId: REQUESTER, channelId: CHANNEL }),
    ).rejects.toThrow("nothing.example has no active DKIM key of the bot to rotate");
    const old = await activeKey(h);
    await expect(
      h.service.rotate({
        domain: old.domain,
        selector: old.selector,
        requesterId: REQUESTER,
        channelId: CHANNEL,
      }),
    ).rejects.toThrow(`Selector ${old.selector} is in use for acme-shop.nl (active key`);
  });

  it("tells a record that vanished after Active once, and once when it is back", async () => {
    const h = await harness();
    const key = await activeKey(h);
    h.dns.answerFor(key.domain, key.selector, dnsResult("missing", { problem: "missing" }));
    await h.service.lifecycle.monitor();
    await h.service.lifecycle.monitor();
    // A resolver that does not answer says nothing about the record: no alert, no change.
    h.dns.answerFor(key.domain, key.selector, new Error("timeout"));
    await h.service.lifecycle.monitor();
    h.dns.answerFor(key.domain, key.selector, dnsResult("live"));
    await h.service.lifecycle.monitor();
    await h.service.lifecycle.monitor();
    const told = (await kinds(h, key.id)).filter((kind) => kind.startsWith("monitor-"));
    expect(told).toEqual(["monitor-problem", "monitor-recovered"]);
    expect((await h.service.get(key.id))?.lastDnsCheck?.status).toBe("live");
  });

  it("reminds of an old key once, again 30 days later, and not while a rotation is under way", async () => {
    const h = await harness();
    const key = await activeKey(h);
    later(179);
    expect(await h.service.lifecycle.remindRotations()).toEqual([]);
    later(2);
    expect((await h.service.lifecycle.remindRotations()).map((each) => each.id)).toEqual([key.id]);
    later(10);
    expect(await h.service.lifecycle.remindRotations()).toEqual([]);
    later(21);
    expect(await h.service.lifecycle.remindRotations()).toHaveLength(1);
    await rotated(h, key);
    later(31);
    expect(await h.service.lifecycle.remindRotations()).toEqual([]);
    const reminders = (await h.store.listEvents(key.id)).filter(
      (event) => event.kind === "rotation-due",
    );
    expect(reminders.map((event) => event.details.ageDays)).toEqual([181, 212]);
  });

  it("reminds every old key of a fleet larger than one page once, and none of them again at once", async () => {
    const h = await harness();
    const keyPair = await generateKeyPair(1024);
    // Seeded in 2026 (day 0 is January 1st): older than 180 days at `now`, but the last few.
    const count = await seedMoreThanAPage(h, keyPair, (i) => ({
      id: `old${String(i).padStart(4, "0")}`,
      state: "active",
      day: 1,
      activatedDay: i < READ_PAGE + 4 ? 10 : 300,
    }));
    const reminded = await h.service.lifecycle.remindRotations();
    expect(reminded).toHaveLength(count - 3);
    expect(new Set(reminded.map((each) => each.id)).size).toBe(count - 3);
    expect(await h.service.lifecycle.remindRotations()).toEqual([]);
    later(31);
    expect(await h.service.lifecycle.remindRotations()).toHaveLength(count - 3);
  });

  it("lets an approver mark a retiring key retired, and nobody else", async () => {
    const h = await harness();
    const old = await activeKey(h);
    const next = await rotated(h, old);
    await h.service.approve(next.id, { actorId: APPROVER, fingerprintShown: next.fingerprint });
    const refusal = await h.service.lifecycle
      .markRetired(old.id, { actorId: STRANGER })
      .catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(ActionRefusedError);
    const retired = await h.service.lifecycle.markRetired(old.id, { actorId: APPROVER });
    expect(retired.state).toBe("retired");
    expect(retired.retiredBy).toBe(APPROVER);
  });

  it("ends a failed request: rejected, cancelled by its requester, or expired after the TTL", async () => {
    const h = await harness();
    h.api.behaviour = () => {
      throw new Error("ERROR: No such domain");
    };
    const make = async (domain: string) => {
      const { request } = await h.service.create({
        domain,
        bits: 1024,
        requesterId: REQUESTER,
        channelId: CHANNEL,
      });
      return h.service.approve(request.id, {
        actorId: APPROVER,
        fingerprintShown: request.fingerprint,
      });
    };
    const a = await make("a.example");
    const b = await make("b.example");
    const c = await make("c.example");
    expect([a.state, b.state, c.state]).toEqual(["failed", "failed", "failed"]);
    expect(
      (await h.service.reject(a.id, { actorId: APPROVER, reason: "wrong domain" })).state,
    ).toBe("rejected");
    expect((await h.service.cancel(b.id, { actorId: REQUESTER })).state).toBe("cancelled");
    later(15);
    expect((await h.service.expire()).map((each) => each.id)).toEqual([c.id]);
    for (const id of [a.id, b.id, c.id]) expect(await h.store.readPrivateKey(id)).toBeUndefined();
  });
});
