import { describe, expect, it } from "vitest";
import {
  createZoneMatcher,
  normaliseRecordName,
  normaliseZone,
} from "../../src/dns-publish/zones.js";
import { InputError } from "../../src/errors.js";

describe("zone matching (DKIM_DNS_PUBLISH_ZONES)", () => {
  const matcher = createZoneMatcher(["example.com", "EU.Example.com.", "bücher.example"]);

  it("puts a name in its longest matching zone", () => {
    expect(matcher.zoneFor("s1._domainkey.shop.eu.example.com")).toBe("eu.example.com");
    expect(matcher.zoneFor("s1._domainkey.example.com")).toBe("example.com");
    expect(matcher.zoneFor("s1._domainkey.us.example.com")).toBe("example.com");
  });

  it("matches a name equal to a zone, in any case and with a trailing dot", () => {
    expect(matcher.zoneFor("EU.EXAMPLE.COM.")).toBe("eu.example.com");
  });

  it("does not match a name that only ends with the zone's letters, or another zone", () => {
    expect(matcher.zoneFor("s1._domainkey.badexample.com")).toBeUndefined();
    expect(matcher.zoneFor("s1._domainkey.example.net")).toBeUndefined();
    expect(matcher.zoneFor("com")).toBeUndefined();
  });

  it("compares IDNs in punycode, whichever form is given", () => {
    expect(matcher.zones).toContain("xn--bcher-kva.example");
    expect(matcher.zoneFor("s1._domainkey.bücher.example")).toBe("xn--bcher-kva.example");
    expect(matcher.zoneFor("s1._domainkey.xn--bcher-kva.example")).toBe("xn--bcher-kva.example");
  });

  it("gives no zone for a name DNS cannot carry", () => {
    expect(matcher.zoneFor(`${"a".repeat(64)}._domainkey.example.com`)).toBeUndefined();
    expect(matcher.zoneFor("s 1._domainkey.example.com")).toBeUndefined();
  });
});

describe("normalising", () => {
  it("refuses a zone that is not a domain name, naming it as a zone", () => {
    expect(() => normaliseZone("exa mple.com")).toThrow(InputError);
    expect(() => normaliseZone("exa mple.com")).toThrow(/^zone "exa mple.com": " " is not allowed/);
  });

  it("keeps the underscores of a record name and refuses empty labels", () => {
    expect(normaliseRecordName("S1._DomainKey.Example.com.")).toBe("s1._domainkey.example.com");
    expect(() => normaliseRecordName("s1.._domainkey.example.com")).toThrow(
      /not a DNS name the bot can write/,
    );
  });
});
