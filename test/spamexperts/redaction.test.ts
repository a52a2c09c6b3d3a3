/**
 * The query string of api_set_dkim_certificate carries the private key. This raises every kind
 * of error the client can give (undici's own connect and timeout errors included) and scans
 * every form an error takes on its way to a log or to Slack for key material, the URL and the
 * credentials.
 */
import { createServer } from "node:net";
import { inspect } from "node:util";
import { Agent, errors as undiciErrors } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DkimKeyPair, generateKeyPair } from "../../src/dkim/keys.js";
import {
  createSpamExpertsClient,
  type SpamExpertsClientOptions,
} from "../../src/spamexperts/client.js";
import { NetworkFailure, type SpamExpertsErrorCode } from "../../src/spamexperts/errors.js";
import { presentableApiText, REDACTED, redactText } from "../../src/spamexperts/redact.js";
import {
  type FakeSpamExperts,
  type Fault,
  faults,
  startFakeSpamExperts,
} from "../helpers/fake-spamexperts.js";

const USERNAME = "api-user";
const PASSWORD = "pa55word-that-must-not-leak";
const BASIC_TOKEN = Buffer.from(`${USERNAME}:${PASSWORD}`).toString("base64");

let key: DkimKeyPair;
let api: FakeSpamExperts;
let closedPort: number;
const dispatchers: Agent[] = [];

beforeAll(async () => {
  key = await generateKeyPair(1024);
  api = await startFakeSpamExperts({
    username: USERNAME,
    password: PASSWORD,
    domains: ["example.com"],
  });
  closedPort = await freePort();
});

afterAll(async () => {
  await api.close();
  await Promise.all(dispatchers.map((dispatcher) => dispatcher.close()));
});

/** Every string that must never appear in any form of an error. */
function forbiddenStrings(): string[] {
  const base64 = key.privateKeyPem
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("-----"))
    .join("");
  const runs: string[] = [];
  for (let start = 0; start + 20 <= base64.length; start += 1) {
    runs.push(base64.slice(start, start + 20));
  }
  return [
    key.privateKeyPem,
    encodeURIComponent(key.privateKeyPem).slice(0, 60),
    "PRIVATE KEY",
    "PRIVATE%20KEY",
    "certificate=",
    "/cgi-bin/api?",
    PASSWORD,
    BASIC_TOKEN,
    ...runs,
  ];
}

/** Message, stack, each cause (message, stack, String), JSON and util.inspect of the error. */
function renderings(error: unknown): string[] {
  const forms = [
    JSON.stringify(error),
    inspect(error, { depth: 10 }),
    inspect(error, { depth: 10, showHidden: true }),
    String(error),
  ];
  let current: unknown = error;
  for (let depth = 0; depth < 10 && current instanceof Error; depth += 1) {
    forms.push(current.message, current.stack ?? "", String(current), JSON.stringify(current));
    current = current.cause;
  }
  return forms;
}

function expectNoSecrets(error: unknown): void {
  const forbidden = forbiddenStrings();
  for (const form of renderings(error)) {
    for (const secret of forbidden) {
      if (form.includes(secret)) {
        throw new Error(`an error rendering contains ${JSON.stringify(secret)}:\n${form}`);
      }
    }
  }
}

async function certificateFailure(overrides: Partial<SpamExpertsClientOptions>): Promise<unknown> {
  const client = createSpamExpertsClient({
    baseUrl: api.url,
    username: USERNAME,
    password: PASSWORD,
    timeoutMs: 2_000,
    sleep: () => Promise.resolve(),
    maxAttempts: 2,
    ...overrides,
  });
  try {
    await client.setDkimCertificate("example.com", "s202611", key.privateKeyPem);
  } catch (error) {
    return error;
  } finally {
    await client.close();
  }
  throw new Error("expected the call to fail");
}

/** An error whose every field quotes the request, as the worst HTTP layer might produce. */
function leakyUndiciError<T extends Error>(ErrorClass: new (message: string) => T): T {
  const url = `${api.url}/cgi-bin/api?call=api_set_dkim_certificate&certificate=${encodeURIComponent(key.privateKeyPem)}`;
  const error = new ErrorClass(
    `failed ${url} as ${USERNAME}:${PASSWORD} with ${key.privateKeyPem}`,
  );
  Object.assign(error, { url, headers: { authorization: `Basic ${BASIC_TOKEN}` } });
  return error;
}

/** A dispatcher whose connector fails with the given error instead of connecting. */
function failingDispatcher(error: Error): Agent {
  const agent = new Agent({ connect: (_options, callback) => callback(error, null) });
  // An injected dispatcher belongs to the caller: the client does not close it.
  dispatchers.push(agent);
  return agent;
}

interface Case {
  name: string;
  code: SpamExpertsErrorCode;
  setup?: () => void;
  options?: () => Partial<SpamExpertsClientOptions>;
  causeCode?: RegExp;
}

function faultCase(
  name: string,
  code: SpamExpertsErrorCode,
  fault: Fault,
  causeCode?: RegExp,
): Case {
  return {
    name,
    code,
    setup: () => api.failNext("api_set_dkim_certificate", fault, 2),
    ...(causeCode === undefined ? {} : { causeCode }),
  };
}

const cases: Case[] = [
  {
    name: "wrong credentials (ERROR text)",
    code: "SPAMEXPERTS_AUTH",
    options: () => ({ password: "another-password" }),
  },
  faultCase("HTTP 401", "SPAMEXPERTS_AUTH", faults.unauthorized()),
  {
    name: "unknown domain",
    code: "SPAMEXPERTS_UNKNOWN_DOMAIN",
    setup: () => api.failNext("api_set_dkim_certificate", faults.apiError("No such domain")),
  },
  faultCase(
    "ERROR text echoing the whole request",
    "SPAMEXPERTS_API_ERROR",
    faults.echoQuery("Incorrect usage of API"),
  ),
  {
    name: "ERROR text quoting the PEM and a credential",
    code: "SPAMEXPERTS_API_ERROR",
    setup: () =>
      api.failNext(
        "api_set_dkim_certificate",
        faults.status(200, `ERROR: bad key ${PASSWORD} ${BASIC_TOKEN}\n${key.privateKeyPem}`),
      ),
  },
  {
    name: "ERROR text quoting one line of the key",
    code: "SPAMEXPERTS_API_ERROR",
    setup: () =>
      api.failNext(
        "api_set_dkim_certificate",
        faults.apiError(`cannot parse line '${key.privateKeyPem.split("\n")[3] ?? ""}'`),
      ),
  },
  {
    name: "HTTP 502 page echoing the URL",
    code: "SPAMEXPERTS_TRANSIENT",
    setup: () =>
      api.failNext(
        "api_set_dkim_certificate",
        faults.status(
          502,
          `Bad gateway for /cgi-bin/api?certificate=${encodeURIComponent(key.privateKeyPem)}`,
        ),
        2,
      ),
  },
  faultCase("HTTP 429", "SPAMEXPERTS_TRANSIENT", faults.tooManyRequests("1")),
  {
    ...faultCase(
      "reply slower than the timeout",
      "SPAMEXPERTS_TRANSIENT",
      faults.slow(5_000),
      /TIMEOUT/,
    ),
    options: () => ({ timeoutMs: 200 }),
  },
  faultCase(
    "connection reset",
    "SPAMEXPERTS_TRANSIENT",
    faults.reset(),
    /^(UND_ERR_SOCKET|ECONNRESET)$/,
  ),
  {
    name: "connection refused",
    code: "SPAMEXPERTS_TRANSIENT",
    options: () => ({ baseUrl: `http://127.0.0.1:${closedPort}` }),
    causeCode: /^ECONNREFUSED$/,
  },
  {
    name: "undici ConnectTimeoutError quoting the request",
    code: "SPAMEXPERTS_TRANSIENT",
    options: () => ({
      dispatcher: failingDispatcher(leakyUndiciError(undiciErrors.ConnectTimeoutError)),
    }),
    causeCode: /^UND_ERR_CONNECT_TIMEOUT$/,
  },
  {
    name: "undici HeadersTimeoutError quoting the request",
    code: "SPAMEXPERTS_TRANSIENT",
    options: () => ({
      dispatcher: failingDispatcher(leakyUndiciError(undiciErrors.HeadersTimeoutError)),
    }),
    causeCode: /^UND_ERR_HEADERS_TIMEOUT$/,
  },
  {
    name: "a plain Error quoting the request",
    code: "SPAMEXPERTS_TRANSIENT",
    options: () => ({ dispatcher: failingDispatcher(leakyUndiciError(Error)) }),
    causeCode: /^UNKNOWN$/,
  },
];

describe("no error carries the URL, the credentials or key material", () => {
  it.each(cases)("$name -> $code", async (testCase) => {
    api.reset();
    testCase.setup?.();
    const error = await certificateFailure(testCase.options?.() ?? {});
    expect(error).toMatchObject({ code: testCase.code, call: "api_set_dkim_certificate" });
    expectNoSecrets(error);
    const cause = (error as Error).cause;
    if (testCase.causeCode === undefined) {
      expect(cause).toBeUndefined();
    } else {
      expect(cause).toBeInstanceOf(NetworkFailure);
      expect((cause as NetworkFailure).code).toMatch(testCase.causeCode);
      expect((cause as NetworkFailure).cause).toBeUndefined();
    }
  });

  it("the scan itself finds a leak (the test can fail)", () => {
    const leaky = new Error("outer", { cause: leakyUndiciError(undiciErrors.SocketError) });
    expect(() => expectNoSecrets(leaky)).toThrow(/contains/);
  });

  it("keeps the API's harmless text readable", async () => {
    api.reset();
    api.failNext("api_set_dkim_certificate", faults.echoQuery("Incorrect usage of API"));
    const error = await certificateFailure({ maxAttempts: 1 });
    expect(error).toMatchObject({ apiText: `ERROR: Incorrect usage of API ${REDACTED}` });
  });
});

describe("redactText", () => {
  it("removes PEM blocks, URLs, queries, encoded runs and the given secrets", () => {
    const text = [
      "ERROR: x",
      "-----BEGIN RSA PRIVATE KEY-----\nMIIC\n-----END RSA PRIVATE KEY-----",
      "see https://host.example/cgi-bin/api",
      "/cgi-bin/api?call=a&domain=b",
      "certificate=abc",
      "MIICXAIBAAKBgQC7+/x=",
      "hunter2-secret",
    ].join(" ");
    const redacted = redactText(text, ["hunter2-secret"]);
    expect(redacted).toBe(
      `ERROR: x ${REDACTED} see ${REDACTED} ${REDACTED} ${REDACTED} ${REDACTED} ${REDACTED}`,
    );
  });

  it("leaves real API messages and long words alone", () => {
    for (const message of [
      "ERROR: Supplied credential is invalid.",
      "ERROR: No such domain",
      "ERROR: no access to this API, current IP address '192.0.2.7'",
      "ERROR: No such domain averyverylongdomainlabel.example",
    ]) {
      expect(redactText(message)).toBe(message);
    }
  });

  it("drops HTML pages and cuts long text", () => {
    expect(presentableApiText("<!DOCTYPE html><html>502</html>")).toBe("");
    expect(presentableApiText(`WARNING: ${"word ".repeat(200)}`).length).toBeLessThanOrEqual(501);
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}
