import { describe, expect, it } from "vitest";
import { createTxtLookup } from "../../src/dkim/dns.js";
import { createDnsPublisher } from "../../src/dns-publish/index.js";
import { createRfc2136Client } from "../../src/dns-publish/rfc2136.js";
import { TYPE, txtRdata } from "../../src/dns-publish/wire.js";
import { publisherContract } from "./publisher-contract.js";
import {
  bindFromEnv,
  describeWithServer,
  FAST_RETRY,
  freshSelector,
  publishError,
} from "./test-servers.js";

const VALUE = "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtest";

describeWithServer("RFC 2136 against a real BIND 9", bindFromEnv(), "start-bind.sh", (bind) => {
  const lookup = createTxtLookup({ servers: [bind.address], timeoutMs: 3000, tries: 2 });
  const options = { retry: FAST_RETRY, timeoutMs: 5000 };

  describe("with the hmac-sha256 key", () => {
    publisherContract({
      zone: bind.zone,
      dnsAddress: bind.address,
      create: () => createDnsPublisher(bind.settings([bind.zone]), options),
    });
  });

  it("publishes and removes with the hmac-sha512 key too", async () => {
    const publisher = createDnsPublisher(bind.settings512([bind.zone]), options);
    const record = { name: `${freshSelector()}._domainkey.${bind.zone}`, value: VALUE };
    expect(await publisher.publish(record)).toBe("published");
    expect(await publisher.remove(record)).toBe("removed");
  });

  it("leaves a CNAME at the name alone (a delegated selector)", async () => {
    const publisher = createDnsPublisher(bind.settings([bind.zone]), options);
    const error = await publishError(
      publisher.publish({ name: `alias._domainkey.${bind.zone}`, value: VALUE }),
    );
    expect(error.reason).toBe("foreign-record");
    expect(error.message).toContain("a CNAME to s1._domainkey.provider.example");
  });

  it("is refused BY BIND with a wrong secret (BADSIG), and nothing is written", async () => {
    const settings = bind.settings([bind.zone]);
    const wrong = { ...settings, tsig: { ...settings.tsig, secret: Buffer.alloc(32, 0x5a) } };
    const publisher = createDnsPublisher(wrong, options);
    const name = `${freshSelector()}._domainkey.${bind.zone}`;
    const error = await publishError(publisher.publish({ name, value: VALUE }));
    expect(error.reason).toBe("tsig-refused");
    expect(error.transient).toBe(false);
    expect(error.message).toBe(
      `The DNS server ${bind.address} refused the TSIG signature of key dkim-bot. (BADSIG): check DKIM_DNS_PUBLISH_TSIG_SECRET and DKIM_DNS_PUBLISH_TSIG_ALGORITHM against the server's key.`,
    );
    expect(error.message).not.toContain(Buffer.alloc(32, 0x5a).toString("base64"));
    expect(await lookup(name)).toMatchObject({ kind: "nxdomain" });
  });

  it("is refused BY BIND with an unknown key name (BADKEY)", async () => {
    const settings = bind.settings([bind.zone]);
    const unknown = { ...settings, tsig: { ...settings.tsig, name: "nobody." } };
    const error = await publishError(
      createDnsPublisher(unknown, options).publish({
        name: `${freshSelector()}._domainkey.${bind.zone}`,
        value: VALUE,
      }),
    );
    expect(error.reason).toBe("tsig-refused");
    expect(error.message).toMatch(
      /does not know the TSIG key nobody\. with algorithm hmac-sha256 \(BADKEY\): check DKIM_DNS_PUBLISH_TSIG_NAME/,
    );
  });

  it("is REFUSED where the update-policy does not let the key write", async () => {
    const publisher = createDnsPublisher(bind.settings([bind.zone, bind.refusingZone]), options);
    const name = `${freshSelector()}._domainkey.${bind.refusingZone}`;
    const error = await publishError(publisher.publish({ name, value: VALUE }));
    expect(error.reason).toBe("refused");
    expect(error.message).toBe(
      `The DNS server ${bind.address} refused to let key dkim-bot. update ${name} in zone ${bind.refusingZone} (REFUSED): allow the key to write TXT at *._domainkey names of ${bind.refusingZone} (BIND update-policy, Knot acl, PowerDNS TSIG-ALLOW-DNSUPDATE: see the README, "DNS publishing").`,
    );
    // Outside _domainkey in a zone the key may otherwise write: refused as well.
    const www = await publishError(
      createDnsPublisher(bind.settings([bind.zone]), options).publish({
        name: `www.${bind.zone}`,
        value: VALUE,
      }),
    );
    expect(www.reason).toBe("refused");
  });

  it("says the server does not serve a managed zone it was given", async () => {
    const publisher = createDnsPublisher(bind.settings(["unserved.test"]), options);
    const error = await publishError(
      publisher.publish({ name: "s1._domainkey.unserved.test", value: VALUE }),
    );
    expect(error.reason).toBe("not-authoritative");
    expect(error.message).toMatch(
      /does not serve that zone: point DKIM_DNS_PUBLISH_SERVER at the zone's primary server/,
    );
  });

  it("gives NOTAUTH and NOTZONE from BIND their sentences", async () => {
    const client = createRfc2136Client(bind.settings([bind.zone]), options);
    const add = (name: string) => [
      { name, type: TYPE.TXT, class: 1, ttl: 300, rdata: txtRdata([VALUE]) },
    ];
    const notAuth = await publishError(
      client.update(
        "unserved.test",
        [],
        add("s1._domainkey.unserved.test"),
        "s1._domainkey.unserved.test",
      ),
    );
    expect(notAuth.reason).toBe("not-authoritative");
    expect(notAuth.message).toBe(
      `The DNS server ${bind.address} is not authoritative for zone unserved.test (NOTAUTH): point DKIM_DNS_PUBLISH_SERVER at the zone's primary server, or remove the zone from DKIM_DNS_PUBLISH_ZONES.`,
    );
    const outside = `s1._domainkey.${bind.refusingZone}`;
    const notZone = await publishError(client.update(bind.zone, [], add(outside), outside));
    expect(notZone.reason).toBe("not-zone");
    expect(notZone.message).toBe(
      `The DNS server ${bind.address} says ${outside} is not in zone ${bind.zone} (NOTZONE): check DKIM_DNS_PUBLISH_ZONES: the server holds this name in another zone.`,
    );
  });
});
