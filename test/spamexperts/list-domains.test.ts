/** `api_list_domains` through the real client against the fake cluster (issue 13, inventory). */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_MAX_LIST_BYTES } from "../../src/spamexperts/client.js";
import {
  type FakeSpamExperts,
  faults,
  type ListFormat,
  listBody,
  startFakeSpamExperts,
} from "../helpers/fake-spamexperts.js";
import { clientMaker, failure, PASSWORD, USERNAME } from "./support.js";

const FORMATS: ListFormat[] = ["lines", "colon", "json"];

let api: FakeSpamExperts;
const maker = clientMaker(() => api, { timeoutMs: 5_000 });
const client = maker.client;
const sleeps = maker.sleeps;

beforeAll(async () => {
  api = await startFakeSpamExperts({ username: USERNAME, password: PASSWORD });
});

afterEach(async () => {
  await maker.closeAll();
  api.reset();
  api.setDomains(undefined);
  api.setListFormat("lines");
  api.setLatency(0);
});

afterAll(async () => {
  await api.close();
});

function clusterOf(size: number): string[] {
  // Mixed case and a trailing dot now and then, as a cluster may store names.
  return Array.from({ length: size }, (_, index) =>
    index % 7 === 0 ? `Shop-${index}.Example.ORG.` : `customer-${index}.example.net`,
  );
}

function normalised(domains: readonly string[]): string[] {
  return domains.map((domain) => domain.toLowerCase().replace(/\.$/, "")).sort();
}

describe("listDomains", () => {
  for (const size of [2_000, 10_000]) {
    for (const format of FORMATS) {
      it(`lists ${size} domains served as ${format}`, async () => {
        const cluster = clusterOf(size);
        api.setDomains(cluster);
        api.setListFormat(format);
        const list = await client().listDomains();
        expect(list.domains).toEqual(normalised(cluster));
        expect(list).toMatchObject({ ignored: 0, ignoredExamples: [], duplicates: 0, attempts: 1 });
      });
    }
  }

  it("sends GET with the Basic header and no parameter but the call", async () => {
    api.setDomains(["a.example"]);
    await client().listDomains();
    expect(api.requests).toMatchObject([
      {
        method: "GET",
        path: "/cgi-bin/api",
        paramList: [["call", "api_list_domains"]],
        authorization: `Basic ${Buffer.from(`${USERNAME}:${PASSWORD}`).toString("base64")}`,
      },
    ]);
  });

  it("leaves out what is not a domain, counts it and repeats, and says which", async () => {
    api.failNext(
      "api_list_domains",
      faults.status(200, "b.example\nTotal: 3 domains\nA.example\nb.example.\n\n192.0.2.7\n"),
    );
    expect(await client().listDomains()).toEqual({
      domains: ["a.example", "b.example"],
      ignored: 2,
      ignoredExamples: ["Total: 3 domains", "192.0.2.7"],
      duplicates: 1,
      attempts: 1,
    });
  });

  it("takes an empty answer for a cluster without domains", async () => {
    api.setDomains([]);
    expect((await client().listDomains()).domains).toEqual([]);
  });

  it("fails on text with no domain in it rather than list none", async () => {
    api.failNext("api_list_domains", faults.status(200, "Incorrect usage of API\n"));
    const error = await failure(client().listDomains());
    expect(error).toMatchObject({ code: "SPAMEXPERTS_API_ERROR", call: "api_list_domains" });
    expect(error.message).toContain("none of them a domain name");
    expect(error.message).toContain("SPAMEXPERTS_URL");
  });

  it("turns an ERROR body into SPAMEXPERTS_API_ERROR with the API's words", async () => {
    api.failNext("api_list_domains", faults.apiError("Unknown filter_by field"));
    const error = await failure(client().listDomains());
    expect(error).toMatchObject({
      code: "SPAMEXPERTS_API_ERROR",
      call: "api_list_domains",
      status: 200,
      apiText: "ERROR: Unknown filter_by field",
      attempts: 1,
    });
    expect(error.message).toBe(
      'SpamExperts rejected api_list_domains (HTTP 200): "ERROR: Unknown filter_by field"; fix what it says and try again.',
    );
  });

  it("reports an API user without the right to list as SPAMEXPERTS_AUTH", async () => {
    api.failNext("api_list_domains", faults.apiError("no permissions"));
    const error = await failure(client().listDomains());
    expect(error).toMatchObject({ code: "SPAMEXPERTS_AUTH", call: "api_list_domains" });
    expect(error.message).toContain("may call api_list_domains");
  });

  it("does not take a web page for a list of domains", async () => {
    api.failNext(
      "api_list_domains",
      faults.status(200, "<!DOCTYPE html>\n<html><body>\nlogin.example\n</body></html>"),
    );
    const error = await failure(client().listDomains());
    expect(error).toMatchObject({ code: "SPAMEXPERTS_API_ERROR", status: 200, attempts: 1 });
    expect(error.apiText).toBeUndefined();
    expect(error.message).toContain("SPAMEXPERTS_URL may not point at the Software API");
  });

  it("retries a 500 and then lists", async () => {
    api.setDomains(["a.example", "b.example"]);
    api.failNext("api_list_domains", faults.status(500, "Internal Server Error"));
    const list = await client().listDomains();
    expect(list).toMatchObject({ domains: ["a.example", "b.example"], attempts: 2 });
    expect(sleeps).toEqual([250]);
    expect(api.requests).toHaveLength(2);
  });

  it("gives up after 3 attempts of 503 with SPAMEXPERTS_TRANSIENT", async () => {
    api.failNext("api_list_domains", faults.unavailable(), 3);
    const error = await failure(client().listDomains());
    expect(error).toMatchObject({ code: "SPAMEXPERTS_TRANSIENT", attempts: 3, status: 503 });
    expect(error.message).toBe(
      "SpamExperts could not complete api_list_domains after 3 attempts (HTTP 503); check that the cluster is up and reachable from the bot, then retry.",
    );
  });

  it("reads lists far past the DKIM calls' 64 KiB cap", async () => {
    // 10,000 long names: about 600 KiB.
    const cluster = Array.from(
      { length: 10_000 },
      (_, index) => `a-rather-long-customer-name-${index}.mail.example.com`,
    );
    api.setDomains(cluster);
    api.failNext("api_list_domains", faults.chunked(listBody(cluster, "colon")));
    const list = await client().listDomains();
    expect(list.domains).toHaveLength(10_000);
  });

  describe("a body larger than the cap", () => {
    const cluster = Array.from({ length: 3_000 }, (_, index) => `d${index}.example`);
    const body = listBody(cluster, "lines");

    it.each([
      ["with a Content-Length", faults.status(200, body)],
      ["streamed without one", faults.chunked(body, 1024)],
    ])("fails whole %s, taking none of it", async (_, fault) => {
      api.failNext("api_list_domains", fault);
      const error = await failure(client({ maxListBytes: 16 * 1024 }).listDomains());
      expect(error).toMatchObject({
        code: "SPAMEXPERTS_API_ERROR",
        call: "api_list_domains",
        status: 200,
        attempts: 1,
      });
      expect(error.message).toContain("more than 16384 bytes");
      expect(error.message).toContain("took none of it");
      // Not retried: the same list would be as long the next time.
      expect(api.requests).toHaveLength(1);
    });

    it("reads a body of exactly the cap", async () => {
      api.failNext("api_list_domains", faults.chunked(body, 1024));
      const list = await client({ maxListBytes: Buffer.byteLength(body) }).listDomains();
      expect(list.domains).toHaveLength(3_000);
    });

    it("fails past the default cap of 16 MiB", async () => {
      const oversized = "x.example\n".repeat(DEFAULT_MAX_LIST_BYTES / 10 + 1);
      api.failNext("api_list_domains", faults.chunked(oversized, 1024 * 1024));
      const error = await failure(client().listDomains());
      expect(error.message).toContain("more than 16 MiB");
    });
  });

  it("keeps the password out of what it shows of the lines it left out", async () => {
    api.failNext(
      "api_list_domains",
      faults.status(200, `a.example\nuser ${USERNAME} password ${PASSWORD}\n`),
    );
    const list = await client().listDomains();
    expect(list.ignoredExamples).toHaveLength(1);
    expect(JSON.stringify(list)).not.toContain(PASSWORD);
  });

  it("is not held up by DKIM calls filling every connection", async () => {
    const cluster = ["d0.example", "d1.example", "d2.example", "d3.example"];
    api.setDomains(cluster);
    // Four slow DKIM calls take all four of the DKIM calls' connections.
    api.failNext("api_set_dkim_selector", faults.slow(1_500), 4);
    const se = client({ connections: 4 });
    let selectorsDone = 0;
    const selectors = Array.from({ length: 4 }, (_, index) =>
      se.setDkimSelector(`d${index}.example`, "s1", `d${index}.example`).then(() => {
        selectorsDone += 1;
      }),
    );
    const list = await se.listDomains();
    expect(list.domains).toEqual(cluster);
    expect(selectorsDone).toBe(0);
    await Promise.all(selectors);
  });
});
