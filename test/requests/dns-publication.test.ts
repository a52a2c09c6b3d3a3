/**
 * DNS publishing's one rule (requests/dns-publication.ts, issue 15): what DNS should hold for a
 * request in each state, the store's "publication due" query agreeing with it on both dialects,
 * and a DNS round (reconcileAll) making DNS say it, once, for every state. The publisher is a
 * recording double of the RecordPublisher interface (the edge of requests/; the real BIND and
 * PowerDNS publishers are tested in test/dns-publish and end to end in e2e/dns-publishing).
 */
import { describe, expect, it } from "vitest";
import { generateKeyPair } from "../../src/dkim/keys.js";
import {
  REVOKED_RSA_VALUE,
  type RecordPublisher,
  type WantedRecord,
  wantedRecord,
} from "../../src/requests/dns-publication.js";
import { REQUEST_STATES, type RequestState, recordNameOf } from "../../src/requests/model.js";
import type { KyselyRequestStore } from "../../src/requests/store/kysely-store.js";
import { DIALECTS } from "../helpers/test-stores.js";
import { seed } from "./store/seed-requests.js";
import { harnessesOn, START } from "./support.js";

const NOW = new Date(START);
const BEFORE = new Date(NOW.getTime() - 60_000).toISOString();
const AFTER = new Date(NOW.getTime() + 60_000).toISOString();

/** Every state, with what DNS should hold (a Record: a new state fails to compile here). */
const RULE: Readonly<Record<RequestState, WantedRecord>> = {
  pending: "published",
  applying: "published",
  failed: "published",
  active: "published",
  retiring: "revoked", // once its overlap is over; published before (below)
  retired: "revoked",
  rejected: "removed",
  cancelled: "removed",
  expired: "removed",
};

describe("wantedRecord", () => {
  it.each(REQUEST_STATES.map((state) => [state, RULE[state]] as const))(
    "%s -> %s",
    (state, wanted) => {
      expect(wantedRecord({ state, retireAfter: BEFORE }, NOW)).toBe(wanted);
    },
  );

  it("keeps a retiring key's record published until its overlap is over, then revokes it", () => {
    expect(wantedRecord({ state: "retiring", retireAfter: AFTER }, NOW)).toBe("published");
    expect(wantedRecord({ state: "retiring", retireAfter: NOW.toISOString() }, NOW)).toBe(
      "revoked",
    );
    expect(wantedRecord({ state: "retiring", retireAfter: BEFORE }, NOW)).toBe("revoked");
    // No end of overlap recorded: never revoked on a guess.
    expect(wantedRecord({ state: "retiring", retireAfter: null }, NOW)).toBe("published");
  });

  it("never revokes or removes an open or active key's record, whatever its dates", () => {
    for (const state of ["pending", "applying", "failed", "active"] as const) {
      expect(wantedRecord({ state, retireAfter: BEFORE }, NOW)).toBe("published");
      expect(wantedRecord({ state, retireAfter: null }, NOW)).toBe("published");
    }
  });
});

type Call = { op: "publish" | "remove" | "revoke"; name: string; value: string };

/** Records what the bot asked of DNS; answers as a server holding exactly the asked state. */
class RecordingPublisher implements RecordPublisher {
  readonly provider = "recording";
  readonly calls: Call[] = [];
  zoneFor(recordName: string): string | undefined {
    return recordName.endsWith(".example.test") ? "example.test" : undefined;
  }
  async publish(record: { name: string; value: string }) {
    this.calls.push({ op: "publish", ...record });
    return "published" as const;
  }
  async remove(record: { name: string; value: string }) {
    this.calls.push({ op: "remove", ...record });
    return "removed" as const;
  }
  async revoke(record: { name: string; value: string; revokedValue: string }) {
    expect(record.revokedValue).toBe(REVOKED_RSA_VALUE);
    this.calls.push({ op: "revoke", name: record.name, value: record.value });
    return "revoked" as const;
  }
}

const keyPair = await generateKeyPair(1024);
/** As stored: to-publish (made, nothing tried yet), an outcome, or a failure told. */
const PUBLISH_STATES = [
  "to-publish",
  "published",
  "removed",
  "revoked",
  "failed:foreign-record",
] as const;

interface Case {
  id: string;
  state: RequestState;
  domain: string;
  retireAfter: string | null;
  publication: { zone: string; state: string };
}

/** One request per state and stored publication state, each on a domain of its own. */
function casesInEveryState(): Case[] {
  let n = 0;
  return REQUEST_STATES.flatMap((state) =>
    PUBLISH_STATES.map((publishState) => {
      n++;
      return {
        id: `pub${String(n).padStart(9, "0")}`,
        state,
        domain: `d${n}.example.test`,
        retireAfter: state === "retiring" || state === "retired" ? BEFORE : null,
        publication: { zone: "example.test", state: publishState },
      };
    }),
  );
}

const recordOf = (each: Case) => ({
  name: recordNameOf({ domain: each.domain, selector: "s1" }),
  value: `v=DKIM1; k=rsa; p=${keyPair.publicKeyBase64}`,
});

/** Each case in the real store, moved to its state as the service would (seed-requests.ts). */
async function stored(store: KyselyRequestStore, cases: readonly Case[]): Promise<void> {
  for (const each of cases) {
    await seed(store, keyPair, { id: each.id, state: each.state, domain: each.domain, day: 0 });
    const change = await store.update({
      id: each.id,
      whileState: each.state,
      at: START,
      changes: { retireAfter: each.retireAfter, publication: each.publication },
    });
    if (change === undefined) throw new Error(`could not set up ${each.id}`);
  }
}

for (const dialect of DIALECTS) {
  describe(`DNS publication rounds (${dialect})`, () => {
    const harness = harnessesOn(dialect);

    it("the store's due list holds exactly the requests whose DNS is not as the rule asks", async () => {
      const publisher = new RecordingPublisher();
      const h = await harness({ dnsPublisher: publisher });
      const cases = casesInEveryState();
      await stored(h.store, cases);
      const due = new Set((await h.store.list({ publicationDue: true })).map((r) => r.id));
      const expected = cases
        .filter((each) => each.publication.state !== wantedRecord(each, NOW))
        .map((each) => each.id);
      expect([...due].sort()).toEqual(expected.sort());
    });

    it("a round makes DNS say what each state asks, and the next round has nothing to do", async () => {
      const publisher = new RecordingPublisher();
      const h = await harness({ dnsPublisher: publisher });
      const cases = casesInEveryState();
      await stored(h.store, cases);
      await h.service.publication.reconcileAll();
      const op = { published: "publish", removed: "remove", revoked: "revoke" } as const;
      const expected = cases
        .filter((each) => each.publication.state !== wantedRecord(each, NOW))
        .map((each) => ({ op: op[wantedRecord(each, NOW)], ...recordOf(each) }));
      const byName = (a: Call, b: Call) => a.name.localeCompare(b.name);
      expect([...publisher.calls].sort(byName)).toEqual(expected.sort(byName));
      for (const each of cases) {
        expect((await h.store.get(each.id))?.publication).toEqual({
          zone: "example.test",
          state: wantedRecord(each, NOW),
        });
      }
      publisher.calls.length = 0;
      await h.service.publication.reconcileAll();
      expect(publisher.calls).toEqual([]);
      expect(await h.store.list({ publicationDue: true })).toEqual([]);
    });

    it("keeps a retiring key's record until its overlap is over, then revokes it", async () => {
      const publisher = new RecordingPublisher();
      const h = await harness({ dnsPublisher: publisher });
      const old: Case = {
        id: "pubretiring1",
        state: "retiring",
        domain: "old.example.test",
        retireAfter: AFTER,
        publication: { zone: "example.test", state: "published" },
      };
      await stored(h.store, [old]);
      await h.service.publication.reconcileAll();
      expect(publisher.calls).toEqual([]);
      h.setNow(AFTER);
      await h.service.publication.reconcileAll();
      expect(publisher.calls).toEqual([{ op: "revoke", ...recordOf(old) }]);
      expect((await h.store.get(old.id))?.publication?.state).toBe("revoked");
    });
  });
}
