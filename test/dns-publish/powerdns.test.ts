import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDnsPublisher } from "../../src/dns-publish/index.js";
import { publisherContract } from "./publisher-contract.js";
import {
  describeWithServer,
  FAST_RETRY,
  freshSelector,
  powerDnsFromEnv,
  publishError,
} from "./test-servers.js";

const VALUE = "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtest";
const options = { retry: FAST_RETRY, timeoutMs: 5000 };

describeWithServer("PowerDNS Authoritative", powerDnsFromEnv(), "start-powerdns.sh", (pdns) => {
  describe("through its HTTP API", () => {
    publisherContract({
      zone: pdns.zone,
      dnsAddress: pdns.dnsAddress,
      create: () => createDnsPublisher(pdns.api([pdns.zone]), options),
    });
  });

  describe("through RFC 2136 (dnsupdate=yes), TSIG checked by PowerDNS", () => {
    publisherContract({
      zone: pdns.zone,
      dnsAddress: pdns.dnsAddress,
      create: () => createDnsPublisher(pdns.rfc2136([pdns.zone]), options),
    });
  });

  it("accepts a URL that already ends in /api/v1", async () => {
    const settings = pdns.api([pdns.zone]);
    const publisher = createDnsPublisher({ ...settings, url: `${settings.url}/api/v1/` }, options);
    expect(await publisher.read(`foreign._domainkey.${pdns.zone}`)).toEqual([
      "v=DKIM1; k=rsa; p=SOMEONEELSESKEY",
    ]);
    await publisher.close();
  });

  it("says a wrong API key was refused (401), without the key", async () => {
    const publisher = createDnsPublisher(
      { ...pdns.api([pdns.zone]), apiKey: "not-the-key" },
      options,
    );
    const error = await publishError(
      publisher.publish({ name: `${freshSelector()}._domainkey.${pdns.zone}`, value: VALUE }),
    );
    expect(error.reason).toBe("api-key-refused");
    expect(error.transient).toBe(false);
    expect(error.message).toMatch(
      /^PowerDNS at http:\/\/127\.0\.0\.1:\d+ refused the API key \(HTTP 401\): check DKIM_DNS_PUBLISH_API_KEY against the server's api-key setting\.$/,
    );
    expect(error.message).not.toContain("not-the-key");
    await publisher.close();
  });

  it("says which zone PowerDNS does not have", async () => {
    const publisher = createDnsPublisher(pdns.api(["missing.test"]), options);
    const error = await publishError(
      publisher.publish({ name: "s1._domainkey.missing.test", value: VALUE }),
    );
    expect(error.reason).toBe("not-zone");
    expect(error.message).toMatch(
      /has no zone missing\.test\. on server localhost \(HTTP 404\): create the zone in PowerDNS, or fix DKIM_DNS_PUBLISH_ZONES or DKIM_DNS_PUBLISH_SERVER_ID\.$/,
    );
    await publisher.close();
  });
});

describe("PowerDNS's answers, from a stand-in", () => {
  let server: Server;
  /** What the stand-in answers, in turn: status and body. */
  let script: Array<[number, string]> = [];
  const seen: Array<{ method: string; url: string; body: string }> = [];
  let url = "";

  beforeAll(async () => {
    server = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk: Buffer) => {
        body += chunk.toString();
      });
      request.on("end", () => {
        seen.push({ method: request.method ?? "", url: request.url ?? "", body });
        const [status, text] = script.shift() ?? [500, "script ended"];
        response.writeHead(status, { "content-type": "application/json" }).end(text);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const publisher = () =>
    createDnsPublisher(
      { provider: "powerdns", zones: ["example.test"], url, apiKey: "k", serverId: "localhost" },
      { retry: FAST_RETRY, timeoutMs: 2000 },
    );
  const empty = JSON.stringify({ rrsets: [] });

  it("retries a 503 and then writes, sending the quoted strings in one REPLACE", async () => {
    seen.length = 0;
    script = [
      [503, "{}"],
      [200, empty],
      [204, ""],
    ];
    const value = `v=DKIM1; k=rsa; p=${"A".repeat(400)}`;
    const result = await publisher().publish({ name: "s1._domainkey.example.test", value });
    expect(result).toBe("published");
    expect(seen.map((call) => call.method)).toEqual(["GET", "GET", "PATCH"]);
    expect(JSON.parse(seen[2]?.body ?? "")).toEqual({
      rrsets: [
        {
          name: "s1._domainkey.example.test.",
          type: "TXT",
          changetype: "REPLACE",
          ttl: 300,
          records: [
            {
              content: `"v=DKIM1; k=rsa; " "p=${"A".repeat(253)}" "${"A".repeat(147)}"`,
              disabled: false,
            },
          ],
        },
      ],
    });
  });

  it("passes on what PowerDNS says when it refuses a change (HTTP 422)", async () => {
    script = [
      [200, empty],
      [
        422,
        JSON.stringify({
          error: "RRset s1._domainkey.example.test. IN TXT: Conflicts with pre-existing RRset",
        }),
      ],
    ];
    const error = await publishError(
      publisher().publish({ name: "s1._domainkey.example.test", value: VALUE }),
    );
    expect(error.reason).toBe("http-status");
    expect(error.message).toBe(
      `PowerDNS at ${url} refused the change of s1._domainkey.example.test (HTTP 422: "RRset s1._domainkey.example.test. IN TXT: Conflicts with pre-existing RRset"): fix what PowerDNS says, then retry.`,
    );
  });

  it("does not take a web page for the API", async () => {
    script = [[200, "<html><body>Welcome</body></html>"]];
    const error = await publishError(publisher().read("s1._domainkey.example.test"));
    expect(error.reason).toBe("bad-answer");
    expect(error.message).toMatch(
      /answered with something other than the API's zone JSON: check that DKIM_DNS_PUBLISH_URL/,
    );
  });

  it("gives up on a server that keeps failing, saying so", async () => {
    script = [
      [500, "{}"],
      [502, "{}"],
      [503, JSON.stringify({ error: "backend down" })],
    ];
    const error = await publishError(publisher().read("s1._domainkey.example.test"));
    expect(error.reason).toBe("server-failure");
    expect(error.transient).toBe(true);
    expect(error.message).toBe(
      `PowerDNS at ${url} failed (HTTP 503: "backend down") (3 attempts): check the PowerDNS log (backend up, database writable?), then retry.`,
    );
  });
});

describe("PowerDNS that never answers", () => {
  let server: Server;
  const requests: IncomingMessage[] = [];
  let url = "";

  beforeAll(async () => {
    server = createServer((request) => {
      requests.push(request); // never answered
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("times out, is transient, and was tried three times", async () => {
    const publisher = createDnsPublisher(
      { provider: "powerdns", zones: ["example.test"], url, apiKey: "k", serverId: "localhost" },
      { retry: FAST_RETRY, timeoutMs: 300 },
    );
    const error = await publishError(
      publisher.publish({ name: "s1._domainkey.example.test", value: VALUE }),
    );
    expect(error.reason).toBe("timeout");
    expect(error.transient).toBe(true);
    expect(error.attempts).toBe(3);
    expect(requests).toHaveLength(3);
    expect(requests[0]?.url).toBe(
      "/api/v1/servers/localhost/zones/example.test.?rrset_name=s1._domainkey.example.test.",
    );
    expect(requests[0]?.headers["x-api-key"]).toBe("k");
    expect(error.message).toMatch(
      /^PowerDNS at http:\/\/127\.0\.0\.1:\d+ did not answer within 300 ms \(\w+\) \(3 attempts\): check that the server is up/,
    );
    await publisher.close();
  });
});
