/** The fake API is shared by the workflow and end-to-end tests: its own contract, checked here. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type FakeSpamExperts,
  faults,
  type RecordedRequest,
  startFakeSpamExperts,
} from "../helpers/fake-spamexperts.js";

const AUTH = `Basic ${Buffer.from("api:secret").toString("base64")}`;
let api: FakeSpamExperts;

beforeAll(async () => {
  api = await startFakeSpamExperts({ username: "api", password: "secret" });
});
afterEach(() => {
  api.reset();
  api.setDomains(undefined);
  api.setListFormat("lines");
  api.setLatency(0);
});
afterAll(async () => {
  await api.close();
});

async function get(query: string, init: RequestInit = {}): Promise<[number, string]> {
  const response = await fetch(`${api.url}/cgi-bin/api?${query}`, {
    headers: { authorization: AUTH },
    ...init,
  });
  return [response.status, await response.text()];
}

describe("fake SpamExperts", () => {
  it("answers an authorised, complete GET with an empty 200 and records it", async () => {
    expect(await get("call=api_set_dkim_selector&domain=a.com&selector=s&username=a.com")).toEqual([
      200,
      "",
    ]);
    expect(api.requests).toMatchObject([
      {
        method: "GET",
        path: "/cgi-bin/api",
        params: {
          call: "api_set_dkim_selector",
          domain: "a.com",
          selector: "s",
          username: "a.com",
        },
        authorization: AUTH,
      },
    ]);
  });

  it("refuses other methods, bad credentials, incomplete calls and other paths like the API", async () => {
    const post = await get("call=api_set_dkim_selector&domain=a&selector=s&username=u", {
      method: "POST",
    });
    expect(post).toEqual([200, "ERROR: The API must be called with HTTP GET.\n"]);
    expect(
      await get("call=api_set_dkim_selector&domain=a&selector=s&username=u", {
        headers: { authorization: `Basic ${Buffer.from("api:wrong").toString("base64")}` },
      }),
    ).toEqual([200, "ERROR: Supplied credential is invalid.\n"]);
    expect(await get("call=api_set_dkim_certificate&domain=a&selector=s")).toEqual([
      200,
      "ERROR: Incorrect usage of API\n",
    ]);
    const notFound = await fetch(`${api.url}/other`, { headers: { authorization: AUTH } });
    expect(notFound.status).toBe(404);
    await notFound.text();
    expect(api.requests).toHaveLength(4);
  });

  it("applies scripted faults per call, in order, then behaves normally", async () => {
    api.failNext("api_set_dkim_selector", faults.unavailable(), 2);
    api.failNext("*", faults.apiError("boom"));
    const selector = "call=api_set_dkim_selector&domain=a&selector=s&username=u";
    const statuses = [];
    for (let index = 0; index < 4; index += 1) statuses.push(await get(selector));
    expect(statuses).toEqual([
      [503, "Service Unavailable\n"],
      [503, "Service Unavailable\n"],
      [200, "ERROR: boom\n"],
      [200, ""],
    ]);
  });

  it("sends Retry-After with 429 and destroys the socket on reset", async () => {
    api.failNext("*", faults.tooManyRequests("7"));
    const limited = await fetch(`${api.url}/cgi-bin/api?call=x`, {
      headers: { authorization: AUTH },
    });
    expect([limited.status, limited.headers.get("retry-after")]).toEqual([429, "7"]);
    await limited.text();
    api.failNext("*", faults.reset());
    await expect(get("call=x")).rejects.toThrow();
  });

  it("lists the domains it was given, in each output form, and knows only those", async () => {
    const list = "call=api_list_domains";
    expect(await get(list)).toEqual([200, ""]);
    api.setDomains(["a.example", "B.example"]);
    expect(await get(list)).toEqual([200, "a.example\nB.example\n"]);
    api.setListFormat("colon");
    expect(await get(list)).toEqual([
      200,
      "a.example:mx.a.example:25\nB.example:mx.B.example:25\n",
    ]);
    api.setListFormat("json");
    expect(await get(list)).toEqual([200, '["a.example","B.example"]']);
    expect(await get("call=api_set_dkim_selector&domain=b.example&selector=s&username=u")).toEqual([
      200,
      "",
    ]);
    expect(await get("call=api_set_dkim_selector&domain=c.example&selector=s&username=u")).toEqual([
      200,
      "ERROR: No such domain\n",
    ]);
  });

  it("answers every call after the latency set, and counts the calls in flight at the peak", async () => {
    // Long enough that the polling below sees all three waiting even on a loaded machine.
    api.setLatency(1_000);
    const answered: string[] = [];
    api.onAnswer((request: RecordedRequest) => answered.push(request.params.domain ?? ""));
    const calls = ["a", "b", "c"].map((domain) =>
      get(`call=api_set_dkim_selector&domain=${domain}&selector=s&username=u`),
    );
    // All three arrive before the first answer leaves.
    while (api.requests.length < 3) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(api.inFlight).toBe(3);
    expect(answered).toEqual([]);
    expect(await Promise.all(calls)).toEqual(Array(3).fill([200, ""]));
    expect(answered.sort()).toEqual(["a", "b", "c"]);
    expect([api.inFlight, api.peakInFlight]).toEqual([0, 3]);
    api.reset();
    expect(api.peakInFlight).toBe(0);
  });

  it("answers faults after the latency too, and counts a dropped request out of flight", async () => {
    api.setLatency(50);
    api.failNext("*", faults.unavailable());
    expect(await get("call=x")).toEqual([503, "Service Unavailable\n"]);
    api.failNext("*", faults.reset());
    await expect(get("call=x")).rejects.toThrow();
    while (api.inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(api.peakInFlight).toBe(1);
  });

  it("streams a chunked body without a Content-Length", async () => {
    api.failNext("*", faults.chunked("x".repeat(10_000), 1_000));
    const response = await fetch(`${api.url}/cgi-bin/api?call=x`, {
      headers: { authorization: AUTH },
    });
    expect(response.headers.get("content-length")).toBeNull();
    expect(response.headers.get("transfer-encoding")).toBe("chunked");
    expect(await response.text()).toHaveLength(10_000);
  });
});
