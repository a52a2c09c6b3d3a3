/**
 * What every DnsPublisher must do against its real server, checked the way the DNS watch sees
 * it: by looking the record up through Node's resolver at the server's DNS port.
 */
import { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createTxtLookup, type TxtLookupResult } from "../../src/dkim/dns.js";
import { buildRecordValue } from "../../src/dkim/record.js";
import { REVOKED_RSA_VALUE } from "../../src/dns-publish/index.js";
import type { DnsPublisher } from "../../src/dns-publish/publisher.js";
import { freshSelector, publishError } from "./test-servers.js";

const valuesByBits = new Map<number, string>();

/** A real key's record value; made once per size and file (4096-bit keys are slow to make). */
function recordValueOfBits(bits: number): string {
  let value = valuesByBits.get(bits);
  if (value === undefined) {
    const { publicKey } = generateKeyPairSync("rsa", { modulusLength: bits });
    value = buildRecordValue(publicKey.export({ type: "spki", format: "der" }).toString("base64"));
    valuesByBits.set(bits, value);
  }
  return value;
}

export interface ContractSetup {
  zone: string;
  /** ip:port of the server's DNS service. */
  dnsAddress: string;
  /** A publisher allowed to write `zone`. */
  create(): DnsPublisher;
}

export function publisherContract(setup: ContractSetup): void {
  const value2048 = recordValueOfBits(2048);
  const value4096 = recordValueOfBits(4096);
  const lookup = createTxtLookup({ servers: [setup.dnsAddress], timeoutMs: 3000, tries: 2 });
  let publisher: DnsPublisher;
  const name = (selector: string) => `${selector}._domainkey.${setup.zone}`;

  /** The values at `recordName` as a resolver sees them (strings joined), [] when none. */
  async function served(recordName: string): Promise<string[]> {
    const result: TxtLookupResult = await lookup(recordName);
    if (result.kind === "nxdomain" || result.kind === "no-txt") return [];
    if (result.kind !== "found")
      throw new Error(`lookup failed: ${result.kind} ${result.detail ?? ""}`);
    return result.records.map((strings) => strings.join(""));
  }

  beforeAll(() => {
    publisher = setup.create();
  });
  afterAll(async () => {
    await publisher.close();
  });

  it("publishes a 2048-bit record that DNS then serves with the same value", async () => {
    const record = { name: name(freshSelector()), value: value2048 };
    expect(await publisher.publish(record)).toBe("published");
    expect(await served(record.name)).toEqual([value2048]);
    expect(await publisher.read(record.name)).toEqual([value2048]);
    await publisher.remove(record);
  });

  it("publishes a 4096-bit record (several strings, over TCP) whole", async () => {
    const record = { name: name(freshSelector()), value: value4096 };
    expect(await publisher.publish(record)).toBe("published");
    const result = await lookup(record.name);
    expect(result.kind).toBe("found");
    if (result.kind === "found") {
      expect(result.records).toHaveLength(1);
      expect(result.records[0]?.every((string) => string.length <= 255)).toBe(true);
      expect(result.records[0]?.join("")).toBe(value4096);
    }
    await publisher.remove(record);
  });

  it("says already-published when the record is there, and adds no second one", async () => {
    const record = { name: name(freshSelector()), value: value2048 };
    expect(await publisher.publish(record)).toBe("published");
    expect(await publisher.publish(record)).toBe("already-published");
    expect(await served(record.name)).toEqual([value2048]);
    await publisher.remove(record);
  });

  it("removes its own record, then says absent", async () => {
    const record = { name: name(freshSelector()), value: value2048 };
    await publisher.publish(record);
    expect(await publisher.remove(record)).toBe("removed");
    expect(await served(record.name)).toEqual([]);
    expect(await publisher.remove(record)).toBe("absent");
  });

  it("revokes its own record (p= empty), then says already-revoked", async () => {
    const record = { name: name(freshSelector()), value: value2048 };
    await publisher.publish(record);
    const revoke = { ...record, revokedValue: REVOKED_RSA_VALUE };
    expect(await publisher.revoke(revoke)).toBe("revoked");
    expect(await served(record.name)).toEqual([REVOKED_RSA_VALUE]);
    expect(await publisher.revoke(revoke)).toBe("already-revoked");
    expect(await publisher.remove({ name: record.name, value: REVOKED_RSA_VALUE })).toBe("removed");
    expect(await publisher.revoke(revoke)).toBe("absent");
  });

  it("leaves someone else's record alone and says so, whatever it is asked", async () => {
    const foreign = `foreign._domainkey.${setup.zone}`;
    const before = await served(foreign);
    expect(before).toEqual(["v=DKIM1; k=rsa; p=SOMEONEELSESKEY"]);
    const attempts = [
      () => publisher.publish({ name: foreign, value: value2048 }),
      () => publisher.remove({ name: foreign, value: value2048 }),
      () => publisher.revoke({ name: foreign, value: value2048, revokedValue: REVOKED_RSA_VALUE }),
    ];
    for (const attempt of attempts) {
      const error = await publishError(attempt());
      expect(error.reason).toBe("foreign-record");
      expect(error.transient).toBe(false);
      expect(error.message).toContain(`${foreign} `);
      expect(error.message).toContain('"v=DKIM1; k=rsa; p=SOMEONEELSESKEY"');
      expect(error.message).toMatch(/left it alone: .+\.$/);
    }
    expect(await served(foreign)).toEqual(before);
  });

  it("does not remove its record once someone changed it", async () => {
    const record = { name: name(freshSelector()), value: value2048 };
    await publisher.publish(record);
    const error = await publishError(publisher.remove({ name: record.name, value: value4096 }));
    expect(error.reason).toBe("foreign-record");
    expect(await served(record.name)).toEqual([value2048]);
    await publisher.remove(record);
  });

  it("refuses a name outside the managed zones without asking the server", async () => {
    const error = await publishError(
      publisher.publish({ name: "s1._domainkey.unmanaged.example", value: value2048 }),
    );
    expect(error.reason).toBe("not-zone");
    expect(error.message).toMatch(
      /is in none of the zones the bot may write .*: publish this record by hand/,
    );
  });
}
