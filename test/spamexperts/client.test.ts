import { createServer } from "node:net";
import { setImmediate } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type DkimKeyPair, generateKeyPair } from "../../src/dkim/keys.js";
import {
  SpamExpertsApiError,
  SpamExpertsAuthError,
  SpamExpertsTransientError,
  SpamExpertsUnknownDomainError,
} from "../../src/spamexperts/errors.js";
import { type FakeSpamExperts, faults, startFakeSpamExperts } from "../helpers/fake-spamexperts.js";
import { clientMaker, failure, PASSWORD, USERNAME } from "./support.js";

let key: DkimKeyPair;
let api: FakeSpamExperts;
const maker = clientMaker(() => api, { timeoutMs: 5_000 });
const client = maker.client;
const sleeps = maker.sleeps;

beforeAll(async () => {
  key = await generateKeyPair(1024);
  api = await startFakeSpamExperts({ username: USERNAME, password: PASSWORD });
});

afterEach(async () => {
  await maker.closeAll();
  api.reset();
});

afterAll(async () => {
  await api.close();
});

describe("successful calls", () => {
  it("sends both calls as GET with exact decoded parameters and a Basic header", async () => {
    const se = client();
    const certificate = await se.setDkimCertificate("example.com", "s202611", key.privateKeyPem);
    const selector = await se.setDkimSelector("example.com", "s202611", "mailer@example.com");

    expect(certificate).toEqual({
      call: "api_set_dkim_certificate",
      text: "",
      attempts: 1,
      dryRun: false,
    });
    expect(selector).toEqual({
      call: "api_set_dkim_selector",
      text: "",
      attempts: 1,
      dryRun: false,
    });
    const basic = `Basic ${Buffer.from(`${USERNAME}:${PASSWORD}`).toString("base64")}`;
    expect(
      api.requests.map(({ method, path, paramList, authorization }) => ({
        method,
        path,
        paramList,
        authorization,
      })),
    ).toEqual([
      {
        method: "GET",
        path: "/cgi-bin/api",
        paramList: [
          ["call", "api_set_dkim_certificate"],
          ["domain", "example.com"],
          ["certificate", key.privateKeyPem],
          ["selector", "s202611"],
        ],
        authorization: basic,
      },
      {
        method: "GET",
        path: "/cgi-bin/api",
        paramList: [
          ["call", "api_set_dkim_selector"],
          ["domain", "example.com"],
          ["selector", "s202611"],
          ["username", "mailer@example.com"],
        ],
        authorization: basic,
      },
    ]);
  });

  it("reuses one keep-alive connection for consecutive calls", async () => {
    const se = client();
    await se.setDkimCertificate("example.com", "s1", key.privateKeyPem);
    // undici frees the socket just after the body ends; a call in the same tick would open
    // a second connection. Calls in the bot are never that close.
    await setImmediate();
    await se.setDkimSelector("example.com", "s1", "example.com");
    const [first, second] = api.requests;
    expect(first?.remotePort).toBeDefined();
    expect(second?.remotePort).toBe(first?.remotePort);
  });

  it("delivers a PEM full of + / = and newlines byte for byte, with spaces as %20", async () => {
    const pem = `${key.privateKeyPem}`;
    expect(pem).toMatch(/\n/);
    const tricky = `-----BEGIN RSA PRIVATE KEY-----\nab+/cd==\n+++///===\r\n%41&x=y\n-----END RSA PRIVATE KEY-----\n`;
    const se = client();
    await se.setDkimCertificate("example.com", "s1", pem);
    await se.setDkimCertificate("example.com", "s1", tricky);
    expect(api.requests.map((request) => request.params.certificate)).toEqual([pem, tricky]);
    for (const request of api.requests) {
      // On the wire the value is fully percent-encoded: no raw + / = newline or space in it.
      const encoded = /(?:^|&)certificate=([^&]*)/.exec(request.rawQuery)?.[1];
      expect(encoded).toMatch(/^-----BEGIN%20RSA%20PRIVATE%20KEY-----%0A/);
      expect(encoded).not.toMatch(/[+/=\n ]/);
    }
  });

  it("keeps a path prefix of the base URL and does not double /cgi-bin/api", async () => {
    await client({ baseUrl: `${api.url}/spamexperts/` }).setDkimSelector("example.com", "s1", "u");
    await client({ baseUrl: `${api.url}/cgi-bin/api` }).setDkimSelector("example.com", "s1", "u");
    expect(api.requests.map((request) => request.path)).toEqual([
      "/spamexperts/cgi-bin/api",
      "/cgi-bin/api",
    ]);
  });

  it("lets no input add or replace a parameter", async () => {
    const se = client();
    const hostile = "example.com&call=api_x&username=admin#frag";
    await se.setDkimSelector(hostile, "s1&selector=evil", "user?call=api_y");
    const [request] = api.requests;
    expect(request?.paramList).toEqual([
      ["call", "api_set_dkim_selector"],
      ["domain", hostile],
      ["selector", "s1&selector=evil"],
      ["username", "user?call=api_y"],
    ]);
  });

  it("passes on the API's non-error text, trimmed", async () => {
    api.failNext(
      "api_set_dkim_selector",
      faults.status(200, "  WARNING: TXT record not found yet\n"),
    );
    const result = await client().setDkimSelector("example.com", "s1", "example.com");
    expect(result.text).toBe("WARNING: TXT record not found yet");
  });
});

describe("API errors", () => {
  it("turns ERROR text with HTTP 200 into SPAMEXPERTS_API_ERROR carrying the API's text", async () => {
    api.failNext("api_set_dkim_certificate", faults.apiError("Incorrect usage of API"));
    const error = await failure(
      client().setDkimCertificate("example.com", "s1", key.privateKeyPem),
    );
    expect(error).toBeInstanceOf(SpamExpertsApiError);
    expect(error).toMatchObject({
      code: "SPAMEXPERTS_API_ERROR",
      call: "api_set_dkim_certificate",
      status: 200,
      apiText: "ERROR: Incorrect usage of API",
      attempts: 1,
      retryable: false,
    });
    expect(error.message).toContain("Incorrect usage of API");
    expect(api.requests).toHaveLength(1);
  });

  it("treats ERROR text as a failure whatever the status", async () => {
    api.failNext("api_set_dkim_selector", faults.status(201, "ERROR: something"));
    const error = await failure(client().setDkimSelector("example.com", "s1", "example.com"));
    expect(error.code).toBe("SPAMEXPERTS_API_ERROR");
  });

  it("reports an unknown domain as SPAMEXPERTS_UNKNOWN_DOMAIN", async () => {
    const strict = await startFakeSpamExperts({
      username: USERNAME,
      password: PASSWORD,
      domains: ["known.example"],
    });
    try {
      const error = await failure(
        client({ baseUrl: strict.url }).setDkimCertificate(
          "other.example",
          "s1",
          key.privateKeyPem,
        ),
      );
      expect(error).toBeInstanceOf(SpamExpertsUnknownDomainError);
      expect(error).toMatchObject({ apiText: "ERROR: No such domain", attempts: 1 });
      expect(error.message).toContain("other.example");
    } finally {
      await strict.close();
    }
  });

  it("reports refused credentials in ERROR text as SPAMEXPERTS_AUTH", async () => {
    const error = await failure(
      client({ password: "wrong-password" }).setDkimSelector("example.com", "s1", "example.com"),
    );
    expect(error).toBeInstanceOf(SpamExpertsAuthError);
    expect(error).toMatchObject({
      apiText: "ERROR: Supplied credential is invalid.",
      retryable: false,
    });
  });

  it("reports 401 as SPAMEXPERTS_AUTH without retrying", async () => {
    const strict = await startFakeSpamExperts({
      username: USERNAME,
      password: PASSWORD,
      authFailure: "401",
    });
    try {
      const error = await failure(
        client({ baseUrl: strict.url, password: "wrong-password" }).setDkimCertificate(
          "example.com",
          "s1",
          key.privateKeyPem,
        ),
      );
      expect(error).toBeInstanceOf(SpamExpertsAuthError);
      expect(error).toMatchObject({ status: 401, attempts: 1, retryable: false });
      expect(error.message).toBe(
        "SpamExperts refused the credentials (HTTP 401): check SPAMEXPERTS_USERNAME and SPAMEXPERTS_PASSWORD, that the Software API user may call api_set_dkim_certificate, and that this server's IP address is allowed to use the API.",
      );
      expect(strict.requests).toHaveLength(1);
      expect(sleeps).toEqual([]);
    } finally {
      await strict.close();
    }
  });

  it.each([
    "no permissions",
    "You don't have permissions to access the API.",
    "no access to this API, current IP address '192.0.2.7'",
  ])("reports %j as SPAMEXPERTS_AUTH", async (text) => {
    api.failNext("*", faults.apiError(text));
    const error = await failure(client().setDkimSelector("example.com", "s1", "example.com"));
    expect(error.code).toBe("SPAMEXPERTS_AUTH");
    expect(error.apiText).toBe(`ERROR: ${text}`);
  });

  it("does not take a 200 web page for success", async () => {
    api.failNext("*", faults.status(200, "<!DOCTYPE html>\n<html><body>Login</body></html>"));
    const error = await failure(client().setDkimCertificate("e.com", "s", key.privateKeyPem));
    expect(error).toMatchObject({ code: "SPAMEXPERTS_API_ERROR", status: 200, attempts: 1 });
    expect(error.apiText).toBeUndefined();
    expect(error.message).toContain("SPAMEXPERTS_URL");
  });

  it("reports 404 as an API error that points at SPAMEXPERTS_URL", async () => {
    api.failNext("*", faults.status(404, "Not Found"));
    const error = await failure(client().setDkimSelector("e.com", "s", "u"));
    expect(error).toMatchObject({ code: "SPAMEXPERTS_API_ERROR", status: 404, attempts: 1 });
    expect(error.message).toContain("SPAMEXPERTS_URL");
  });
});

describe("transient faults and retries", () => {
  it("retries 503 twice with jittered exponential backoff, then succeeds", async () => {
    api.failNext("api_set_dkim_certificate", faults.unavailable(), 2);
    const result = await client({ retryBaseMs: 500 }).setDkimCertificate(
      "example.com",
      "s1",
      key.privateKeyPem,
    );
    expect(result.attempts).toBe(3);
    // random() = 0.5 of the ceilings 500 and 1000 ms.
    expect(sleeps).toEqual([250, 500]);
    expect(api.requests).toHaveLength(3);
    expect(api.requests.every((r) => r.params.certificate === key.privateKeyPem)).toBe(true);
  });

  it("gives up with SPAMEXPERTS_TRANSIENT after 3 attempts of 503", async () => {
    api.failNext("*", faults.unavailable(), 10);
    const error = await failure(client().setDkimSelector("example.com", "s1", "example.com"));
    expect(error).toBeInstanceOf(SpamExpertsTransientError);
    expect(error).toMatchObject({ status: 503, attempts: 3, retryable: true });
    expect(error.message).toContain("after 3 attempts (HTTP 503)");
    expect(api.requests).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
  });

  it("honours Retry-After in seconds on 429", async () => {
    api.failNext("api_set_dkim_selector", faults.tooManyRequests("1"));
    const result = await client().setDkimSelector("example.com", "s1", "example.com");
    expect(result.attempts).toBe(2);
    expect(sleeps).toEqual([1000]);
  });

  it("honours a Retry-After HTTP date, and caps a long Retry-After", async () => {
    const soon = new Date(Date.now() + 120_000).toUTCString();
    api.failNext("api_set_dkim_selector", faults.tooManyRequests(soon));
    api.failNext("api_set_dkim_selector", faults.tooManyRequests("3600"));
    const result = await client({ retryAfterCapMs: 30_000 }).setDkimSelector("e.com", "s", "u");
    expect(result.attempts).toBe(3);
    expect(sleeps).toEqual([30_000, 30_000]);

    sleeps.length = 0;
    api.failNext("api_set_dkim_selector", faults.tooManyRequests(soon));
    await client({ retryAfterCapMs: 600_000 }).setDkimSelector("e.com", "s", "u");
    expect(sleeps).toHaveLength(1);
    // An HTTP date has one-second resolution: the wait is about two minutes, not exact.
    expect(sleeps[0]).toBeGreaterThan(100_000);
    expect(sleeps[0]).toBeLessThanOrEqual(120_000);
  });

  it("times out a reply slower than timeoutMs as SPAMEXPERTS_TRANSIENT", async () => {
    api.failNext("*", faults.slow(3_000), 2);
    const error = await failure(
      client({ timeoutMs: 200, maxAttempts: 2 }).setDkimSelector("example.com", "s1", "u"),
    );
    expect(error).toMatchObject({ code: "SPAMEXPERTS_TRANSIENT", attempts: 2 });
    expect(error.status).toBeUndefined();
    expect(error.message).toMatch(/no answer within 200 ms/);
    expect(api.requests).toHaveLength(2);
  });

  it("recovers when a slow reply is followed by a quick one", async () => {
    api.failNext("*", faults.slow(3_000));
    const result = await client({ timeoutMs: 200 }).setDkimSelector("example.com", "s1", "u");
    expect(result.attempts).toBe(2);
  });

  it("reports a reset connection as SPAMEXPERTS_TRANSIENT", async () => {
    api.failNext("*", faults.reset(), 3);
    const error = await failure(client().setDkimCertificate("e.com", "s1", key.privateKeyPem));
    expect(error).toMatchObject({ code: "SPAMEXPERTS_TRANSIENT", attempts: 3, retryable: true });
    expect(error.message).toMatch(/connection reset|network error/);
  });

  it("reports a refused connection as SPAMEXPERTS_TRANSIENT", async () => {
    const closedPort = await freePort();
    const error = await failure(
      client({ baseUrl: `http://127.0.0.1:${closedPort}` }).setDkimSelector("e.com", "s1", "u"),
    );
    expect(error).toMatchObject({ code: "SPAMEXPERTS_TRANSIENT", attempts: 3 });
    expect(error.message).toContain("connection refused, ECONNREFUSED");
    expect(error.cause).toMatchObject({ name: "NetworkFailure", code: "ECONNREFUSED" });
  });
});

/** A port that was just free: listen on 0, note the port, close. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}
