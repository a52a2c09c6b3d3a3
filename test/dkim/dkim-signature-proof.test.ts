/**
 * Independent proof that our keys and records work: Debian's python3-dkim signs a message with
 * our private key and verifies it against our record, served as the DNS answer.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type DkimKeyPair, generateKeyPair } from "../../src/dkim/keys.js";
import {
  buildRecordValue,
  recordValueFromText,
  splitIntoStrings,
  zoneFileLine,
} from "../../src/dkim/record.js";
import { pythonDkimAvailability, verifyWithPythonDkim } from "../helpers/python-dkim.js";

const availability = pythonDkimAvailability();
// CI installs python3-dkim, so there a missing module is a failure, not a reason to skip.
const skip = !availability.available && process.env.CI !== "true";
const skipNote = availability.available ? "" : ` (skipped: ${availability.reason})`;

describe.skipIf(skip)(`DKIM signatures checked by python3-dkim${skipNote}`, () => {
  const keys = new Map<number, DkimKeyPair>();

  beforeAll(async () => {
    if (!availability.available) throw new Error(availability.reason);
    for (const pair of await Promise.all([generateKeyPair(1024), generateKeyPair(2048)])) {
      keys.set(pair.bits, pair);
    }
  });

  function keyOf(bits: number): DkimKeyPair {
    const pair = keys.get(bits);
    if (pair === undefined) throw new Error(`no ${bits}-bit key was generated`);
    return pair;
  }

  it.each([1024, 2048])(
    "verifies a signature by our %i-bit key against our record",
    async (bits) => {
      const { privateKeyPem, publicKeyBase64 } = keyOf(bits);
      const verified = await verifyWithPythonDkim({
        privateKeyPem,
        selector: "s202611",
        domain: "example.com",
        recordValue: buildRecordValue(publicKeyBase64),
      });
      expect(verified).toBe(true);
    },
  );

  it("verifies against the zone-file line's strings joined as DNS joins them, flags included", async () => {
    const { privateKeyPem, publicKeyBase64 } = keyOf(2048);
    const value = buildRecordValue(publicKeyBase64, { testing: true, strictSubdomains: true });
    const line = zoneFileLine("mail.2026", "sub.example.org", value);
    expect(splitIntoStrings(value).length).toBeGreaterThan(1);
    const verified = await verifyWithPythonDkim({
      privateKeyPem,
      selector: "mail.2026",
      domain: "sub.example.org",
      recordValue: recordValueFromText(line),
    });
    expect(verified).toBe(true);
  });

  it("fails against a record with a different key", async () => {
    const verified = await verifyWithPythonDkim({
      privateKeyPem: keyOf(2048).privateKeyPem,
      selector: "s202611",
      domain: "example.com",
      recordValue: buildRecordValue(keyOf(1024).publicKeyBase64),
    });
    expect(verified).toBe(false);
  });

  it("fails against a record cut short", async () => {
    const { privateKeyPem, publicKeyBase64 } = keyOf(2048);
    const strings = splitIntoStrings(buildRecordValue(publicKeyBase64));
    const verified = await verifyWithPythonDkim({
      privateKeyPem,
      selector: "s202611",
      domain: "example.com",
      recordValue: strings.slice(0, -1).join(""),
    });
    expect(verified).toBe(false);
  });
});
