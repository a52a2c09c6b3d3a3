import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTxtLookup, parseDnsServers, type TxtLookup } from "../../src/dkim/dns.js";
import { CodedError } from "../../src/errors.js";
import { type DnsTestServer, startDnsServer } from "../helpers/dns-server.js";

const NAME = "s1._domainkey.example.com";
// What a 2048-bit key record looks like on the wire: 392 characters of p= in two strings.
const FIRST = `v=DKIM1; k=rsa; p=${"A".repeat(237)}`;
const SECOND = "B".repeat(172);

describe("TXT lookup against a DNS server on loopback", () => {
  let dns: DnsTestServer;
  let lookup: TxtLookup;

  beforeAll(async () => {
    dns = await startDnsServer();
    lookup = createTxtLookup({ servers: [dns.address], timeoutMs: 1000, tries: 1 });
  });
  afterAll(async () => {
    await dns.close();
  });
  beforeEach(() => {
    dns.clear();
  });

  it("returns a split record's strings in order, not joined", async () => {
    dns.setTxt(NAME, [FIRST, SECOND]);
    expect(FIRST.length).toBeLessThanOrEqual(255);
    expect(await lookup(NAME)).toEqual({ kind: "found", name: NAME, records: [[FIRST, SECOND]] });
  });

  it("keeps mis-ordered chunks mis-ordered (the diagnosis needs to see them)", async () => {
    dns.setTxt(NAME, [SECOND, FIRST]);
    expect(await lookup(NAME)).toMatchObject({ kind: "found", records: [[SECOND, FIRST]] });
  });

  it("returns every record at a name", async () => {
    dns.setTxt(NAME, "v=DKIM1; k=rsa; p=old", ["v=DKIM1; k=rsa; ", "p=new"]);
    const result = await lookup(NAME);
    expect(result.kind).toBe("found");
    if (result.kind !== "found") return;
    expect(result.records).toHaveLength(2);
    expect(result.records).toEqual(
      expect.arrayContaining([["v=DKIM1; k=rsa; p=old"], ["v=DKIM1; k=rsa; ", "p=new"]]),
    );
  });

  it("matches names case-insensitively and sees a change at once", async () => {
    dns.setTxt(NAME, "first");
    expect(await lookup("S1._DomainKey.Example.COM")).toMatchObject({ records: [["first"]] });
    dns.setTxt(NAME, "second");
    expect(await lookup(NAME)).toMatchObject({ records: [["second"]] });
  });

  it("reports NXDOMAIN for a name that does not exist", async () => {
    expect(await lookup(NAME)).toEqual({ kind: "nxdomain", name: NAME });
  });

  it("reports no TXT for a name with other records only", async () => {
    dns.setA(NAME, "192.0.2.1");
    expect(await lookup(NAME)).toEqual({ kind: "no-txt", name: NAME });
  });

  it("reports no TXT for an empty non-terminal (_domainkey exists, the selector does not)", async () => {
    dns.setTxt(NAME, "x");
    expect(await lookup("_domainkey.example.com")).toEqual({
      kind: "no-txt",
      name: "_domainkey.example.com",
    });
  });

  it("reports SERVFAIL", async () => {
    dns.setTxt(NAME, "x");
    dns.setBehaviour(NAME, "servfail");
    expect(await lookup(NAME)).toMatchObject({ kind: "servfail", name: NAME });
  });

  it("reports REFUSED", async () => {
    dns.setBehaviour(NAME, "refused");
    expect(await lookup(NAME)).toMatchObject({ kind: "refused", name: NAME });
  });

  it("reports a timeout when the server never answers, within the configured timeout", async () => {
    const quick = createTxtLookup({ servers: [dns.address], timeoutMs: 300, tries: 1 });
    dns.setBehaviour(NAME, "no-answer");
    const started = Date.now();
    const result = await quick(NAME);
    expect(result).toMatchObject({ kind: "timeout", name: NAME });
    // Functional bound only (shared machine): the default (5 s x 2 tries) would take 10 s.
    expect(Date.now() - started).toBeLessThan(4500);
    expect(dns.queries().filter((q) => q.name === NAME.toLowerCase()).length).toBeGreaterThan(0);
  });

  it("follows a CNAME to the TXT at its target (delegated DKIM)", async () => {
    dns.setCname(NAME, "s1.dkim.provider.example");
    dns.setTxt("s1.dkim.provider.example", [FIRST, SECOND]);
    expect(await lookup(NAME)).toEqual({
      kind: "found",
      name: NAME,
      records: [[FIRST, SECOND]],
      cnameTarget: "s1.dkim.provider.example",
    });
  });

  it("follows a chain of CNAMEs and names its end", async () => {
    dns.setCname(NAME, "a.provider.example");
    dns.setCname("a.provider.example", "b.provider.example");
    dns.setTxt("b.provider.example", "v=DKIM1; p=x");
    expect(await lookup(NAME)).toMatchObject({
      kind: "found",
      records: [["v=DKIM1; p=x"]],
      cnameTarget: "b.provider.example",
    });
  });

  it("reports what is at the end of a CNAME whose target does not exist", async () => {
    dns.setCname(NAME, "gone.provider.example");
    expect(await lookup(NAME)).toEqual({
      kind: "nxdomain",
      name: NAME,
      cnameTarget: "gone.provider.example",
    });
  });

  it("stops at a CNAME loop", async () => {
    dns.setCname(NAME, "loop.provider.example");
    dns.setCname("loop.provider.example", NAME);
    const result = await lookup(NAME);
    expect(result).toMatchObject({ kind: "error", name: NAME });
    expect(result.kind !== "found" && result.detail).toBe(
      `CNAME loop: ${NAME} -> loop.provider.example -> ${NAME}`,
    );
  });

  it("stops after a few hops of a long CNAME chain", async () => {
    for (let i = 0; i < 10; i++) dns.setCname(`c${i}.example.net`, `c${i + 1}.example.net`);
    dns.setTxt("c10.example.net", "far away");
    const result = await lookup("c0.example.net");
    expect(result.kind).toBe("error");
    expect(result.kind !== "found" && result.detail).toMatch(/^more than 5 CNAMEs in a row/);
  });
});

describe("TXT lookup through a resolver that answers along the CNAME chain", () => {
  it("still names the CNAME target", async () => {
    const dns = await startDnsServer({ followCnames: true });
    try {
      dns.setCname(NAME, "s1.dkim.provider.example");
      dns.setTxt("s1.dkim.provider.example", "v=DKIM1; p=x");
      const lookup = createTxtLookup({ servers: [dns.address], timeoutMs: 1000, tries: 1 });
      expect(await lookup(NAME)).toEqual({
        kind: "found",
        name: NAME,
        records: [["v=DKIM1; p=x"]],
        cnameTarget: "s1.dkim.provider.example",
      });
    } finally {
      await dns.close();
    }
  });
});

describe("parseDnsServers", () => {
  it.each([
    ["", []],
    [" , ", []],
    ["192.0.2.53", ["192.0.2.53"]],
    ["192.0.2.53:5353, 198.51.100.1", ["192.0.2.53:5353", "198.51.100.1"]],
    ["2001:db8::53", ["2001:db8::53"]],
    ["[2001:db8::53]:53", ["[2001:db8::53]:53"]],
    ["[::1]", ["::1"]],
    ["127.0.0.1:053", ["127.0.0.1:53"]],
  ])("accepts %j", (text, expected) => {
    expect(parseDnsServers(text)).toEqual(expected);
  });

  it.each([
    [
      "dns.example.com",
      'DNS server "dns.example.com": is not an IP address or IP:port (host names are not accepted); write e.g. 192.0.2.53, 192.0.2.53:5353 or [2001:db8::53]:53',
    ],
    [
      "192.0.2.53, resolver.local:53",
      'DNS server "resolver.local:53": "resolver.local" is not an IPv4 address (host names are not accepted); write e.g. 192.0.2.53, 192.0.2.53:5353 or [2001:db8::53]:53',
    ],
    [
      "192.0.2.300",
      'DNS server "192.0.2.300": is not an IP address or IP:port (host names are not accepted); write e.g. 192.0.2.53, 192.0.2.53:5353 or [2001:db8::53]:53',
    ],
    [
      "192.0.2.53:0",
      'DNS server "192.0.2.53:0": port "0" is not a number from 1 to 65535; write e.g. 192.0.2.53, 192.0.2.53:5353 or [2001:db8::53]:53',
    ],
    [
      "192.0.2.53:65536",
      'DNS server "192.0.2.53:65536": port "65536" is not a number from 1 to 65535; write e.g. 192.0.2.53, 192.0.2.53:5353 or [2001:db8::53]:53',
    ],
    [
      "192.0.2.53:dns",
      'DNS server "192.0.2.53:dns": port "dns" is not a number from 1 to 65535; write e.g. 192.0.2.53, 192.0.2.53:5353 or [2001:db8::53]:53',
    ],
    [
      "[192.0.2.53]:53",
      'DNS server "[192.0.2.53]:53": "192.0.2.53" is not an IPv6 address (host names are not accepted); write e.g. 192.0.2.53, 192.0.2.53:5353 or [2001:db8::53]:53',
    ],
  ])("rejects %j", (text, message) => {
    let thrown: unknown;
    try {
      parseDnsServers(text);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(CodedError);
    expect(thrown).toMatchObject({ code: "CONFIG_INVALID", message });
  });

  it("createTxtLookup refuses a bad server or timeout before any query", () => {
    expect(() => createTxtLookup({ servers: ["not-an-ip"] })).toThrow(CodedError);
    expect(() => createTxtLookup({ timeoutMs: 0 })).toThrow(/at least 1/);
  });
});
