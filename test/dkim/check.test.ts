import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { checkDkimRecord } from "../../src/dkim/check.js";
import { createTxtLookup, type TxtLookup } from "../../src/dkim/dns.js";
import { type DkimKeyPair, generateKeyPair } from "../../src/dkim/keys.js";
import { doubledZoneNames } from "../../src/dkim/names.js";
import { buildRecordValue, splitIntoStrings } from "../../src/dkim/record.js";
import { type DnsTestServer, startDnsServer } from "../helpers/dns-server.js";

describe("checkDkimRecord against a DNS server on loopback", () => {
  let dns: DnsTestServer;
  let lookup: TxtLookup;
  let key: DkimKeyPair;
  let otherKey: DkimKeyPair;

  beforeAll(async () => {
    dns = await startDnsServer();
    lookup = createTxtLookup({ servers: [dns.address], timeoutMs: 1000, tries: 1 });
    [key, otherKey] = await Promise.all([generateKeyPair(1024), generateKeyPair(1024)]);
  });
  afterAll(async () => {
    await dns.close();
  });
  beforeEach(() => {
    dns.clear();
  });

  const record = (pair: DkimKeyPair) => splitIntoStrings(buildRecordValue(pair.publicKeyBase64));
  const expected = () => ({ publicKeyBase64: key.publicKeyBase64 });

  it("is live at the right name, without looking anywhere else", async () => {
    dns.setTxt("s1._domainkey.example.com", record(key));
    const result = await checkDkimRecord(lookup, "example.com", "s1", expected());
    expect(result).toMatchObject({ status: "live", matches: true, problems: [] });
    const names = new Set(dns.queries().map((query) => query.name));
    expect([...names]).toEqual(["s1._domainkey.example.com"]);
  });

  it("says so when the zone was typed twice, and what to type instead", async () => {
    dns.setTxt("s1._domainkey.example.com.example.com", record(key));
    const result = await checkDkimRecord(lookup, "example.com", "s1", expected());
    expect(result.status).toBe("wrong");
    expect(result.name).toBe("s1._domainkey.example.com");
    expect(result.matches).toBe(true);
    expect(result.problems).toEqual([
      {
        code: "doubled-zone",
        severity: "error",
        message:
          "The record is published at s1._domainkey.example.com.example.com, not at s1._domainkey.example.com: the DNS panel adds example.com to the name itself. Type only s1._domainkey as the name, then check again.",
      },
    ]);
    expect(result.summary).toBe(
      "Published with the zone twice: type only s1._domainkey as the name.",
    );
  });

  it("finds the doubled name of a mail domain below its zone, and notes a different key", async () => {
    dns.setTxt("s1._domainkey.mail.example.com.example.com", record(otherKey));
    const result = await checkDkimRecord(lookup, "mail.example.com", "s1", expected());
    expect(result.status).toBe("wrong");
    expect(result.matches).toBe(false);
    expect(result.problems[0]?.message).toBe(
      "The record is published at s1._domainkey.mail.example.com.example.com (and it holds a different key), not at s1._domainkey.mail.example.com: the DNS panel adds example.com to the name itself. Type only s1._domainkey.mail as the name, then check again.",
    );
  });

  it("stays missing when nothing is published anywhere, or only something else at the doubled name", async () => {
    expect(await checkDkimRecord(lookup, "example.com", "s1", expected())).toMatchObject({
      status: "missing",
      problems: [{ code: "missing" }],
    });
    dns.setTxt("s1._domainkey.example.com.example.com", "v=spf1 -all");
    expect(await checkDkimRecord(lookup, "example.com", "s1", expected())).toMatchObject({
      status: "missing",
    });
  });

  it("does not let a failing lookup of the doubled name hide the verdict", async () => {
    dns.setBehaviour("s1._domainkey.example.com.example.com", "servfail");
    const result = await checkDkimRecord(lookup, "example.com", "s1", expected());
    expect(result.status).toBe("missing");
  });
});

describe("doubledZoneNames", () => {
  it("lists the names a zone-appending panel makes, nearest zone first", () => {
    expect(doubledZoneNames("s1", "mail.example.com")).toEqual([
      {
        name: "s1._domainkey.mail.example.com.mail.example.com",
        zone: "mail.example.com",
        relativeName: "s1._domainkey",
      },
      {
        name: "s1._domainkey.mail.example.com.example.com",
        zone: "example.com",
        relativeName: "s1._domainkey.mail",
      },
    ]);
  });

  it("leaves out names DNS could not hold", () => {
    const domain = `${"a".repeat(60)}.${"b".repeat(60)}.example.com`;
    for (const doubled of doubledZoneNames("s1", domain)) {
      expect(doubled.name.length).toBeLessThanOrEqual(253);
    }
    // The domain itself twice would be 281 characters: only its parents are left.
    expect(doubledZoneNames("s1", domain).map((doubled) => doubled.zone)).toEqual([
      `${"b".repeat(60)}.example.com`,
      "example.com",
    ]);
  });
});
