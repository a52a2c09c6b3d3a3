/**
 * A batch's records as a DNS team imports them: the zone-file fragment is loaded by BIND's own
 * parser (named-checkzone) and gives back exactly the values; the CSV parses back to them.
 */
import { describe, expect, it } from "vitest";
import { generateKeyPair, type KeyBits } from "../../src/dkim/keys.js";
import { buildRecordValue, splitIntoStrings } from "../../src/dkim/record.js";
import {
  CSV_HEADER,
  type RecordToExport,
  recordsCsv,
  zoneFileFragment,
} from "../../src/dkim/record-export.js";
import { parseCsv } from "../helpers/csv.js";
import { checkZoneFragment, namedCheckzoneAvailability } from "../helpers/named-checkzone.js";

const availability = namedCheckzoneAvailability();
// In CI a missing named-checkzone fails the test instead of skipping it.
const skip = !availability.available && process.env.CI !== "true";

async function records(): Promise<RecordToExport[]> {
  const sizes: KeyBits[] = [1024, 2048, 4096];
  const names = [
    "s202611._domainkey.example.com",
    "s202611-2._domainkey.xn--bcher-kva.example",
    "sel.2026._domainkey.a-very-long-label-with-hyphens-0123456789.example.net",
  ];
  return Promise.all(
    names.map(async (name, index) => {
      const key = await generateKeyPair(sizes[index] ?? 1024);
      return { name, value: buildRecordValue(key.publicKeyBase64, { testing: index === 1 }) };
    }),
  );
}

describe("zoneFileFragment", () => {
  it.skipIf(skip)("is loaded by named-checkzone, record for record", async () => {
    if (!availability.available) throw new Error(availability.reason);
    const exported = await records();
    const fragment = zoneFileFragment(exported, {
      heading: ["DKIM records of batch b1", "a heading\nwith a newline stays a comment"],
    });
    const check = checkZoneFragment(fragment);
    expect(check.ok, check.output).toBe(true);
    expect(check.txt.size).toBe(exported.length);
    for (const record of exported) {
      const loaded = check.txt.get(`${record.name}.`);
      expect(loaded, record.name).toEqual(splitIntoStrings(record.value));
      expect(loaded?.join("")).toBe(record.value);
    }
  });

  it.skipIf(skip)(
    "is refused by named-checkzone when a value is broken (the check can fail)",
    () => {
      if (!availability.available) throw new Error(availability.reason);
      const fragment = zoneFileFragment([{ name: "s1._domainkey.example.com", value: "v=DKIM1" }]);
      expect(checkZoneFragment(fragment).ok).toBe(true);
      // A string over 255 characters, as an unsplit 2048-bit value would be.
      const tooLong = `s2._domainkey.example.com. 3600 IN TXT "${"a".repeat(256)}"\n`;
      expect(checkZoneFragment(`${fragment}${tooLong}`).ok).toBe(false);
      expect(checkZoneFragment(fragment.replace(/"v=DKIM1"/, '"v=DKIM1')).ok).toBe(false);
    },
  );

  it("writes absolute names, an explicit TTL and strings of at most 255 characters", async () => {
    const exported = await records();
    const lines = zoneFileFragment(exported, { heading: ["x"] })
      .trimEnd()
      .split("\n");
    expect(lines[0]).toBe("; x");
    for (const [index, line] of lines.slice(1).entries()) {
      expect(line.startsWith(`${exported[index]?.name}.\t3600\tIN\tTXT\t"`)).toBe(true);
      for (const match of line.matchAll(/"([^"]*)"/g)) {
        expect(match[1]?.length).toBeLessThanOrEqual(255);
      }
    }
  });
});

describe("recordsCsv", () => {
  it("parses back to name, type, value and split value", async () => {
    const exported = await records();
    const rows = parseCsv(recordsCsv(exported));
    expect(rows[0]).toEqual([...CSV_HEADER]);
    expect(rows.slice(1)).toEqual(
      exported.map((record) => [
        record.name,
        "TXT",
        record.value,
        splitIntoStrings(record.value)
          .map((piece) => `"${piece}"`)
          .join(" "),
      ]),
    );
  });

  it("quotes fields with commas, quotes and line breaks", () => {
    const csv = recordsCsv([{ name: "a,b", value: 'v=DKIM1; n="x"' }]);
    expect(parseCsv(csv)[1]?.slice(0, 3)).toEqual(["a,b", "TXT", 'v=DKIM1; n="x"']);
    expect(csv.endsWith("\r\n")).toBe(true);
  });
});
