/**
 * `/dkim domains` below Slack (inventory.ts): the cluster's list from the fake cluster through
 * the real client and cache, joined with keys the real service made in a real store, as two
 * people see it (one not in the private channel), with its counts, filters and pages; the
 * cache and Refresh; a cluster that fails; and the dry run's list of the bot's own domains.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CodedError } from "../../src/errors.js";
import type { InventoryQuery, InventoryViewer } from "../../src/requests/service.js";
import { createSpamExpertsClient } from "../../src/spamexperts/client.js";
import { createDomainListCache } from "../../src/spamexperts/domain-list-cache.js";
import {
  SpamExpertsApiError,
  SpamExpertsAuthError,
  SpamExpertsTransientError,
} from "../../src/spamexperts/errors.js";
import type { SpamExpertsClient } from "../../src/spamexperts/types.js";
import { type FakeSpamExperts, faults, startFakeSpamExperts } from "../helpers/fake-spamexperts.js";
import { DIALECTS } from "../helpers/test-stores.js";
import { PASSWORD, USERNAME } from "../spamexperts/support.js";
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

const PRIVATE = "CPRIVATE";
const MINUTE = 60_000;

let api: FakeSpamExperts;
let client: SpamExpertsClient;

beforeAll(async () => {
  api = await startFakeSpamExperts({ username: USERNAME, password: PASSWORD });
  client = createSpamExpertsClient({
    baseUrl: api.url,
    username: USERNAME,
    password: PASSWORD,
    maxAttempts: 1,
    listTimeoutMs: 300,
  });
});

afterAll(async () => {
  await client.close();
  await api.close();
});

/** Sees CHANNEL; GROUP_MEMBER is in PRIVATE too. */
function viewer(actorId: string): InventoryViewer {
  return {
    actorId,
    canSee: async (channelId) => channelId === CHANNEL || actorId === GROUP_MEMBER,
  };
}

const CLUSTER = [
  "active.example",
  "broken.example",
  "failed.example",
  "pending.example",
  "plain1.example",
  "plain2.example",
  "plain3.example",
  "plain4.example",
  "rotating.example",
  "secret.example",
];

function query(overrides: Partial<InventoryQuery> = {}): InventoryQuery {
  return { page: 1, pageSize: 50, ...overrides };
}

function listCalls(): number {
  return api.requests.filter((request) => request.params.call === "api_list_domains").length;
}

describe.each(DIALECTS)("the inventory on %s", (dialect) => {
  let now = Date.parse("2026-11-26T10:00:00.000Z");
  const harness = harnessesOn(dialect, () => ({
    clock: () => new Date(now),
    batchMax: 3,
    domainList: createDomainListCache({
      inventory: client,
      ttlMs: 60 * MINUTE,
      clock: () => new Date(now),
    }),
  }));

  async function activeKey(h: Harness, domain: string, channelId = CHANNEL) {
    const { request } = await h.service.create({ domain, requesterId: REQUESTER, channelId });
    return h.service.approve(request.id, {
      actorId: APPROVER,
      fingerprintShown: request.fingerprint,
    });
  }

  /** The fleet above: every state once, a key in a private channel, keys off the cluster. */
  async function fleet(h: Harness): Promise<void> {
    api.reset();
    api.setDomains([...CLUSTER, "not a domain!"]);
    await activeKey(h, "active.example");
    const broken = await activeKey(h, "broken.example");
    await activeKey(h, "rotating.example");
    await activeKey(h, "secret.example", PRIVATE);
    await activeKey(h, "gone.example");
    h.api.behaviour = (call) => {
      if (call.domain === "failed.example") throw new CodedError("SPAMEXPERTS_API_ERROR", "no");
      return "";
    };
    await activeKey(h, "failed.example").catch(() => undefined);
    h.dns.answerFor("broken.example", broken.selector, dnsResult("missing"));
    await h.service.lifecycle.monitor();
    await h.service.rotate({
      domain: "rotating.example",
      requesterId: REQUESTER,
      channelId: CHANNEL,
    });
    await h.service.create({
      domain: "pending.example",
      requesterId: REQUESTER,
      channelId: CHANNEL,
    });
    await h.service.create({
      domain: "hidden-gone.example",
      requesterId: REQUESTER,
      channelId: PRIVATE,
    });
  }

  it("counts, states and filters what a person may see, keys of private channels left out", async () => {
    const h = await harness();
    await fleet(h);
    const outsider = await h.service.inventory.page(viewer(STRANGER), query());
    expect(outsider.counts).toEqual({
      onCluster: 10,
      active: 3,
      rotating: 1,
      pending: 1,
      failed: 1,
      problems: 1,
      none: 4,
      private: 1,
      gone: 1,
    });
    expect(outsider.entries.map((entry) => [entry.domain, entry.state])).toEqual([
      ["active.example", "active"],
      ["broken.example", "problem"],
      ["failed.example", "failed"],
      ["gone.example", "gone"],
      ["pending.example", "pending"],
      ["plain1.example", "none"],
      ["plain2.example", "none"],
      ["plain3.example", "none"],
      ["plain4.example", "none"],
      ["rotating.example", "rotating"],
      ["secret.example", "private"],
    ]);
    const secret = outsider.entries.find((entry) => entry.domain === "secret.example");
    expect(secret).toMatchObject({ active: undefined, open: undefined });
    const rotating = outsider.entries.find((entry) => entry.domain === "rotating.example");
    expect(rotating?.active?.state).toBe("active");
    expect(rotating?.open).toMatchObject({ state: "pending", rotation: true });
    expect(outsider.source).toMatchObject({ kind: "cluster", ignored: 1 });
    // The first DKIM_BATCH_MAX without DKIM, in name order; a private one is never offered.
    expect(outsider.nextBatch).toEqual(["plain1.example", "plain2.example", "plain3.example"]);

    const member = await h.service.inventory.page(viewer(GROUP_MEMBER), query());
    expect(member.counts).toMatchObject({ active: 4, private: 0, gone: 2 });
    expect(member.entries.find((entry) => entry.domain === "secret.example")?.state).toBe("active");
    expect(member.entries.map((entry) => entry.domain)).toContain("hidden-gone.example");

    const byState = async (filter: InventoryQuery["filter"]) =>
      (await h.service.inventory.page(viewer(STRANGER), query({ filter }))).entries.map(
        (entry) => entry.domain,
      );
    expect(await byState("active")).toEqual([
      "active.example",
      "broken.example",
      "rotating.example",
    ]);
    expect(await byState("rotating")).toEqual(["rotating.example"]);
    expect(await byState("problems")).toEqual(["broken.example"]);
    expect(await byState("failed")).toEqual(["failed.example"]);
    expect(await byState("pending")).toEqual(["pending.example"]);
    expect(await byState("private")).toEqual(["secret.example"]);
    expect(await byState("gone")).toEqual(["gone.example"]);
    // The counts are the sizes of the filters.
    for (const filter of ["active", "none", "failed", "gone"] as const) {
      expect((await byState(filter)).length).toBe(outsider.counts[filter]);
    }
  });

  it("sees every write of a request at once, made here or by another replica", async () => {
    const h = await harness();
    await fleet(h);
    const before = await h.service.inventory.page(viewer(STRANGER), query({ filter: "pending" }));
    expect(before.entries.map((entry) => entry.domain)).toEqual(["pending.example"]);
    const [pending] = await h.service.list({ domain: "pending.example" });
    await h.service.cancel(pending?.id ?? "", { actorId: REQUESTER });
    const after = await h.service.inventory.page(viewer(STRANGER), query({ filter: "pending" }));
    expect(after.entries).toEqual([]);
    expect(after.counts.none).toBe(before.counts.none + 1);

    const replica = await h.replica();
    await replica.service.create({
      domain: "plain1.example",
      requesterId: REQUESTER,
      channelId: CHANNEL,
    });
    const seen = await h.service.inventory.page(viewer(STRANGER), query({ namePart: "plain1" }));
    expect(seen.entries.map((entry) => [entry.domain, entry.state])).toEqual([
      ["plain1.example", "pending"],
    ]);
  });

  it("after writes, reads their domains again and answers as a fresh read of the whole fleet", async () => {
    const h = await harness();
    await fleet(h);
    // Read (and kept) here; then written here and on another replica.
    await h.service.inventory.page(viewer(STRANGER), query());
    const replica = await h.replica();
    const [pending] = await h.service.list({ domain: "pending.example" });
    await h.service.cancel(pending?.id ?? "", { actorId: REQUESTER });
    await replica.service.create({
      domain: "plain2.example",
      requesterId: REQUESTER,
      channelId: PRIVATE,
    });
    await activeKey(h, "plain3.example");
    const same = async () => {
      const fresh = await h.replica();
      for (const who of [STRANGER, GROUP_MEMBER]) {
        const kept = await h.service.inventory.page(viewer(who), query());
        const whole = await fresh.service.inventory.page(viewer(who), query());
        expect(kept.counts, who).toEqual(whole.counts);
        expect(kept.entries, who).toEqual(whole.entries);
      }
    };
    // Domains of the list only: their lines joined again, the others kept.
    await same();
    // Monitoring writes every key, gone.example's too (off the list): all joined again.
    const [broken] = await h.service.list({ domain: "broken.example" });
    h.dns.answerFor("broken.example", broken?.selector ?? "", dnsResult("live"));
    await replica.service.lifecycle.monitor();
    await same();
    const seen = await h.service.inventory.page(viewer(STRANGER), query());
    const stateOf = (domain: string) =>
      seen.entries.find((entry) => entry.domain === domain)?.state;
    expect(stateOf("pending.example")).toBe("none");
    expect(stateOf("plain2.example")).toBe("private");
    expect(stateOf("plain3.example")).toBe("active");
    expect(stateOf("broken.example")).toBe("active");
  });

  it("answers a person anew once they may read another channel, or no longer may", async () => {
    const h = await harness();
    await fleet(h);
    let member = false;
    const person: InventoryViewer = {
      actorId: STRANGER,
      canSee: async (channelId) => channelId === CHANNEL || member,
    };
    const stateOf = async (domain: string) =>
      (await h.service.inventory.page(person, query())).entries.find(
        (entry) => entry.domain === domain,
      )?.state;
    expect(await stateOf("secret.example")).toBe("private");
    member = true;
    expect(await stateOf("secret.example")).toBe("active");
    member = false;
    expect(await stateOf("secret.example")).toBe("private");
  });

  it("pages by part of the name, and keeps to the last page", async () => {
    const h = await harness();
    await fleet(h);
    const first = await h.service.inventory.page(
      viewer(STRANGER),
      query({ namePart: "plain", pageSize: 3 }),
    );
    expect(first).toMatchObject({ matching: 4, page: 1, pages: 2 });
    expect(first.entries.map((entry) => entry.domain)).toEqual([
      "plain1.example",
      "plain2.example",
      "plain3.example",
    ]);
    const past = await h.service.inventory.page(
      viewer(STRANGER),
      query({ namePart: "plain", pageSize: 3, page: 9 }),
    );
    expect(past.page).toBe(2);
    expect(past.entries.map((entry) => entry.domain)).toEqual(["plain4.example"]);
    const both = await h.service.inventory.page(
      viewer(STRANGER),
      query({ namePart: "o", filter: "active" }),
    );
    expect(both.entries.map((entry) => entry.domain)).toEqual([
      "broken.example",
      "rotating.example",
    ]);
  });

  it("asks the cluster once within DKIM_INVENTORY_MINUTES, again on Refresh or after", async () => {
    const h = await harness();
    await fleet(h);
    await h.service.inventory.page(viewer(STRANGER), query());
    await h.service.inventory.everything(viewer(STRANGER));
    expect(listCalls()).toBe(1);
    api.setDomains([...CLUSTER, "new.example"]);
    const refreshed = await h.service.inventory.page(viewer(STRANGER), query({ refresh: true }));
    expect(listCalls()).toBe(2);
    expect(refreshed.counts.onCluster).toBe(11);
    now += 61 * MINUTE;
    await h.service.inventory.page(viewer(STRANGER), query());
    expect(listCalls()).toBe(3);
  });

  it("shows the last list with the cluster's error when asking again fails", async () => {
    const h = await harness();
    await fleet(h);
    await h.service.inventory.page(viewer(STRANGER), query());
    api.failNext("api_list_domains", faults.apiError("Maintenance mode"));
    const stale = await h.service.inventory.page(viewer(STRANGER), query({ refresh: true }));
    expect(stale.counts.onCluster).toBe(10);
    expect(stale.source).toMatchObject({ kind: "cluster" });
    const error = stale.source.kind === "cluster" ? stale.source.stale : undefined;
    expect(error).toBeInstanceOf(SpamExpertsApiError);
    expect(error?.message).toContain("Maintenance mode");
  });
});

describe("the inventory when the cluster cannot list", () => {
  const harness = harnessesOn("sqlite", () => ({
    domainList: createDomainListCache({ inventory: client, ttlMs: 60 * MINUTE }),
  }));

  it("rejects with the client's error: an ERROR answer, refused credentials, a timeout", async () => {
    const cases = [
      [faults.apiError("Incorrect usage of API"), SpamExpertsApiError, "Incorrect usage of API"],
      [faults.unauthorized(), SpamExpertsAuthError, "SPAMEXPERTS_USERNAME"],
      [faults.slow(2000), SpamExpertsTransientError, "no answer within 300 ms"],
    ] as const;
    for (const [fault, kind, words] of cases) {
      const h = await harness();
      api.failNext("api_list_domains", fault);
      const failure = h.service.inventory.page(viewer(STRANGER), query());
      await expect(failure).rejects.toBeInstanceOf(kind);
      await expect(failure).rejects.toThrow(words);
    }
  });
});

describe("the inventory in a dry run", () => {
  // No domainList: no cluster to list.
  const harness = harnessesOn("sqlite");

  it("lists the bot's own domains, those whose requests ended as without DKIM", async () => {
    const h = await harness();
    const calls = listCalls();
    const { request } = await h.service.create({
      domain: "ended.example",
      requesterId: REQUESTER,
      channelId: CHANNEL,
    });
    await h.service.cancel(request.id, { actorId: REQUESTER });
    await h.service.create({ domain: "open.example", requesterId: REQUESTER, channelId: CHANNEL });
    const page = await h.service.inventory.page(viewer(STRANGER), query());
    expect(page.source).toEqual({ kind: "dry-run" });
    expect(page.entries.map((entry) => [entry.domain, entry.state])).toEqual([
      ["ended.example", "none"],
      ["open.example", "pending"],
    ]);
    expect(page.counts).toMatchObject({ onCluster: 2, none: 1, pending: 1, gone: 0 });
    expect(listCalls()).toBe(calls);
  });
});
