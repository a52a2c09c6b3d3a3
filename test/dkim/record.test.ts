import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { type DkimKeyPair, generateKeyPair, KEY_SIZES } from "../../src/dkim/keys.js";
import {
  buildRecordValue,
  diagnoseRecords,
  parseRecord,
  quoteStrings,
  type RecordDiagnosis,
  recordValueFromText,
  splitIntoStrings,
  zoneFileLine,
} from "../../src/dkim/record.js";
import { InputError } from "../../src/errors.js";

/** A 2048-bit public key made with `openssl genrsa`: 392 characters, so two strings after p=. */
const CHUNK_1 =
  "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAlaG06n13/gFXuslVlrpfDUSzAgbZxxGSWLQLUlKxC52MtXMD65kgA4eumK4snptLu1M5OpRkT+8wbLuYbLPP6gI4Ab1uLVZzsFIwuCu0mW9VH1gDlpiZ+h21GbrUru5Hfpv2htgBP3pDwfSu1NxCE7UESPX7n/W8vGsDRYCbWnclWYjx5IV0RSnD3DFVA6jodF/IivIM3831DSoUs";
const CHUNK_2 =
  "8XUsjYwXv7Q3j0FQcOfvHwmuqOh3mw2ORDGxH98FWgmt5jVSmoXYkk8/QZC47SBFPdf2Sjob+jxcjCZ5E9wA5eJ1MXltPhseADsbnYfX/CNvd3YYsTOwFMSvHsUeZ8x7LjJpQIDAQAB";
const KEY = CHUNK_1 + CHUNK_2;
const KEY_FINGERPRINT = "SHA256:eMNKDm/20N2Z5D07L3Ss6WF+kcYFWAUglIAq0ysIyv8";
const VALUE = `v=DKIM1; k=rsa; p=${KEY}`;
/** A 512-bit RSA key (openssl genrsa 512): too weak for any verifier. */
const WEAK_KEY =
  "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAKWAFD+e5x1LiMAZFYcksyeVP7YaUOrs4lZlxGFswt9F4bxioPhhUC5AhZ5mGXJDVMFC8ZJ/eMZLjykjXkQH1FsCAwEAAQ==";
/** An ed25519 public key (openssl genpkey -algorithm ed25519), as RFC 8463 would publish it. */
const ED25519_KEY = "MCowBQYDK2VwAyEADSRzjy+mSr+kGPVo+7+Hq5eLErGQ5qLg0g4gbT6Ff8s=";

const generated = new Map<number, DkimKeyPair>();

beforeAll(async () => {
  for (const pair of await Promise.all(KEY_SIZES.map((bits) => generateKeyPair(bits)))) {
    generated.set(pair.bits, pair);
  }
});

function keyOf(bits: number): DkimKeyPair {
  const pair = generated.get(bits);
  if (pair === undefined) throw new Error(`no ${bits}-bit key was generated`);
  return pair;
}

function parseError(text: string | readonly string[]): InputError {
  try {
    parseRecord(text);
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error("parseRecord accepted the input");
}

describe("buildRecordValue", () => {
  it("builds v=DKIM1; k=rsa; p=<key>", () => {
    expect(buildRecordValue(KEY)).toBe(`v=DKIM1; k=rsa; p=${KEY}`);
  });

  it("puts t=y, t=s or t=y:s before p= when asked", () => {
    expect(buildRecordValue(KEY, { testing: true })).toBe(`v=DKIM1; k=rsa; t=y; p=${KEY}`);
    expect(buildRecordValue(KEY, { strictSubdomains: true })).toBe(`v=DKIM1; k=rsa; t=s; p=${KEY}`);
    expect(buildRecordValue(KEY, { testing: true, strictSubdomains: true })).toBe(
      `v=DKIM1; k=rsa; t=y:s; p=${KEY}`,
    );
    expect(buildRecordValue(KEY, { testing: false, strictSubdomains: false })).toBe(VALUE);
  });

  it("drops the line breaks of a key pasted from a PEM body", () => {
    expect(buildRecordValue(`${KEY.slice(0, 64)}\n${KEY.slice(64)}\n`)).toBe(VALUE);
  });

  it("refuses text that is not base64", () => {
    expect(() => buildRecordValue("")).toThrow(InputError);
    expect(() => buildRecordValue("-----BEGIN PUBLIC KEY-----")).toThrow(InputError);
    expect(() => buildRecordValue(`${KEY}; t=y`)).toThrow(/not base64/);
  });
});

describe("splitIntoStrings", () => {
  it("splits like opendkim-genkey: tags, then p= and its data, at most 255 each", () => {
    expect(splitIntoStrings(VALUE)).toEqual(["v=DKIM1; k=rsa; ", `p=${CHUNK_1}`, CHUNK_2]);
    expect(`p=${CHUNK_1}`).toHaveLength(255);
  });

  it("keeps the t= flags with the other tags", () => {
    expect(
      splitIntoStrings(buildRecordValue(KEY, { testing: true, strictSubdomains: true })),
    ).toEqual(["v=DKIM1; k=rsa; t=y:s; ", `p=${CHUNK_1}`, CHUNK_2]);
  });

  it("splits at a smaller maximum when a provider asks for one", () => {
    const strings = splitIntoStrings(VALUE, 100);
    expect(strings[0]).toBe("v=DKIM1; k=rsa; ");
    expect(strings.slice(1).map((s) => s.length)).toEqual([100, 100, 100, 94]);
    expect(strings.join("")).toBe(VALUE);
  });

  it("gives one string for a short value and [''] for an empty one", () => {
    expect(splitIntoStrings("p=abc")).toEqual(["p=abc"]);
    expect(splitIntoStrings("")).toEqual([""]);
  });

  it("refuses a maximum outside 1..255 and text that is not printable ASCII", () => {
    expect(() => splitIntoStrings(VALUE, 256)).toThrow(RangeError);
    expect(() => splitIntoStrings(VALUE, 0)).toThrow(RangeError);
    expect(() => splitIntoStrings("v=DKIM1; n=é; p=")).toThrow(RangeError);
  });
});

describe("quoteStrings", () => {
  it("quotes each string and escapes quotes and backslashes", () => {
    expect(quoteStrings(["v=DKIM1; k=rsa; ", "p=abc"])).toBe('"v=DKIM1; k=rsa; " "p=abc"');
    expect(quoteStrings(['n="a\\b"'])).toBe('"n=\\"a\\\\b\\""');
  });
});

describe("zoneFileLine", () => {
  it("lays the record out as opendkim-genkey's <selector>.txt", () => {
    expect(zoneFileLine("s202611", "example.com", VALUE)).toBe(
      `s202611._domainkey\tIN\tTXT\t( "v=DKIM1; k=rsa; "\n\t  "p=${CHUNK_1}"\n\t  "${CHUNK_2}" )  ; ----- DKIM key s202611 for example.com`,
    );
  });
});

describe("parseRecord", () => {
  const expected = {
    tags: [
      ["v", "DKIM1"],
      ["k", "rsa"],
      ["p", KEY],
    ],
    version: "DKIM1",
    keyType: "rsa",
    publicKey: KEY,
    flags: [],
  };

  it("reads the plain value", () => {
    expect(parseRecord(VALUE)).toEqual(expected);
  });

  it("reads the character-strings of a TXT record as DNS returns them", () => {
    expect(parseRecord(["v=DKIM1; k=rsa; ", `p=${CHUNK_1}`, CHUNK_2])).toEqual(expected);
  });

  it("reads quoted strings", () => {
    expect(parseRecord(`"v=DKIM1; k=rsa; " "p=${CHUNK_1}" "${CHUNK_2}"`)).toEqual(expected);
  });

  it("reads our zone-file line", () => {
    expect(parseRecord(zoneFileLine("sel", "example.com", VALUE))).toEqual(expected);
  });

  it("reads opendkim-genkey's own output, h= and t= included", () => {
    const opendkim = `sel._domainkey\tIN\tTXT\t( "v=DKIM1; h=sha256; k=rsa; t=y:s; "\n\t  "p=${KEY.slice(0, 250)}"\n\t  "${KEY.slice(250)}" )  ; ----- DKIM key sel for example.com\n`;
    expect(parseRecord(opendkim)).toEqual({
      tags: [
        ["v", "DKIM1"],
        ["h", "sha256"],
        ["k", "rsa"],
        ["t", "y:s"],
        ["p", KEY],
      ],
      version: "DKIM1",
      keyType: "rsa",
      publicKey: KEY,
      flags: ["y", "s"],
    });
  });

  it("reads dig output with a TTL and a fully qualified owner", () => {
    const dig = `sel._domainkey.example.com. 3600 IN TXT "v=DKIM1; k=rsa; " "p=${CHUNK_1}" "${CHUNK_2}"`;
    expect(parseRecord(dig)).toEqual(expected);
  });

  it('reads zone-file escapes: \\" \\\\ and \\DDD', () => {
    const escaped = `"v=DKIM1\\059 k=rsa\\059 n=\\"hi\\" \\\\o/; p=${KEY}"`;
    expect(parseRecord(escaped).tags).toEqual([
      ["v", "DKIM1"],
      ["k", "rsa"],
      ["n", '"hi" \\o/'],
      ["p", KEY],
    ]);
  });

  it("ignores extra whitespace and newlines, inside p= too", () => {
    const messy = `\n  v = DKIM1 ;\tk=rsa;\n p = ${KEY.slice(0, 100)}\n   ${KEY.slice(100, 300)} ${KEY.slice(300)}  ;  \n`;
    const record = parseRecord(messy);
    expect(record.publicKey).toBe(KEY);
    expect(record.version).toBe("DKIM1");
    expect(record.keyType).toBe("rsa");
    expect(record.tags.map(([name]) => name)).toEqual(["v", "k", "p"]);
  });

  it("takes tags in any order and keeps unknown ones, in order", () => {
    const record = parseRecord(`p=${KEY}; future_tag=42; k=rsa; n=note for people; s=email`);
    expect(record.tags).toEqual([
      ["p", KEY],
      ["future_tag", "42"],
      ["k", "rsa"],
      ["n", "note for people"],
      ["s", "email"],
    ]);
    expect(record.publicKey).toBe(KEY);
    expect(record.keyType).toBe("rsa");
    expect(record.version).toBeUndefined();
  });

  it("defaults k= to rsa, leaves version unset without v=, and splits t= on colons", () => {
    const record = parseRecord(`t=y : s; p=${KEY}`);
    expect(record.keyType).toBe("rsa");
    expect(record).not.toHaveProperty("version");
    expect(record.flags).toEqual(["y", "s"]);
  });

  it("reads an empty p= as a revoked key", () => {
    expect(parseRecord("v=DKIM1; k=rsa; p=").publicKey).toBe("");
  });

  it.each([
    ["empty text", "  \n ", /The record is empty/],
    ["a record without p=", "v=DKIM1; k=rsa", /no p= tag/],
    ["an SPF record", "v=spf1 include:_spf.example.com -all", /no p= tag/],
    ["a part that is not tag=value", `v=DKIM1; k rsa; p=${KEY}`, /"k rsa" is not a tag=value pair/],
    ["a bad tag name", `v=DKIM1; 9k=rsa; p=${KEY}`, /"9k" is not a tag name/],
    ["a tag given twice", `v=DKIM1; p=${KEY}; p=${KEY}`, /p= appears twice/],
    ["the key alone", KEY, /only the key, without its tags/],
    ["an unclosed quote", `"v=DKIM1; k=rsa; " "p=${KEY}`, /quoted string is not closed/],
    ["words outside the quotes", `"v=DKIM1; k=rsa; " p=${KEY}`, /stands outside the quotes/],
    ["text before the quotes", `copy this: "${VALUE}"`, /stands before the first quote/],
  ])("refuses %s with a clear InputError", (_, text, message) => {
    const error = parseError(text);
    expect(error.code).toBe("INVALID_INPUT");
    expect(error.field).toBe("record");
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain("\n");
    expect(error.message.length).toBeLessThan(200);
  });

  it("reads what DNS returns without reading quotes: they are part of the data", () => {
    expect(() => parseRecord([`"${VALUE}"`])).toThrow(InputError);
  });
});

describe("recordValueFromText", () => {
  it("gives the value a DNS server would serve for pasted text", () => {
    expect(recordValueFromText(zoneFileLine("sel", "example.com", VALUE))).toBe(VALUE);
    expect(recordValueFromText(quoteStrings(splitIntoStrings(VALUE)))).toBe(VALUE);
    expect(recordValueFromText(VALUE)).toBe(VALUE);
  });
});

describe("diagnoseRecords", () => {
  const strings = splitIntoStrings(VALUE);
  const expectedKey = { publicKeyBase64: KEY };

  function expectOneSentenceEach(diagnosis: RecordDiagnosis): void {
    for (const { message } of diagnosis.problems) {
      expect(message).not.toContain("\n");
      expect(message).toMatch(/^[A-Zpv].*\.$/);
    }
    expect(diagnosis.summary).toMatch(/^[A-Z].*\.$/);
  }

  function codes(diagnosis: RecordDiagnosis): string[] {
    expectOneSentenceEach(diagnosis);
    return diagnosis.problems.map((problem) => `${problem.severity}:${problem.code}`);
  }

  it("says live and matching for the expected key", () => {
    const diagnosis = diagnoseRecords([strings], expectedKey);
    expect(diagnosis).toMatchObject({ status: "live", matches: true, problems: [] });
    expect(diagnosis.summary).toBe("Live and matches the key.");
    expect(diagnosis.record?.publicKey).toBe(KEY);
  });

  it("says live with matches null when no key is expected", () => {
    const diagnosis = diagnoseRecords([strings]);
    expect(diagnosis).toMatchObject({ status: "live", matches: null, problems: [] });
    expect(diagnosis.summary).toBe("Live: a well-formed DKIM key is published.");
  });

  it("accepts the record published as one string, and extra whitespace", () => {
    expect(diagnoseRecords([[VALUE]], expectedKey).status).toBe("live");
    expect(
      diagnoseRecords([[` v=DKIM1;  k=rsa;\tp=${CHUNK_1} ${CHUNK_2} `]], expectedKey),
    ).toMatchObject({ status: "live", matches: true });
  });

  it("missing: nothing at the name", () => {
    const diagnosis = diagnoseRecords([], expectedKey);
    expect(diagnosis).toMatchObject({ status: "missing", matches: null });
    expect(codes(diagnosis)).toEqual(["error:missing"]);
    expect(diagnosis.summary).toBe("No DKIM record is published yet.");
    expect(diagnosis.record).toBeUndefined();
  });

  it("missing: only TXT records of another kind at the name", () => {
    const diagnosis = diagnoseRecords([["v=spf1 -all"], ["google-site-verification=abc123"]]);
    expect(diagnosis).toMatchObject({ status: "missing", matches: null });
    expect(codes(diagnosis)).toEqual(["error:missing"]);
    expect(diagnosis.problems[0]?.message).toMatch(
      /the 2 TXT records at this name are something else/,
    );
  });

  it("ignores other TXT records beside a DKIM record", () => {
    const diagnosis = diagnoseRecords([["v=spf1 -all"], strings], expectedKey);
    expect(diagnosis).toMatchObject({ status: "live", matches: true, problems: [] });
  });

  it("different-key: says which key is published and which was expected", () => {
    const other = keyOf(2048);
    const diagnosis = diagnoseRecords(
      [splitIntoStrings(buildRecordValue(other.publicKeyBase64))],
      expectedKey,
    );
    expect(diagnosis).toMatchObject({ status: "wrong", matches: false });
    expect(codes(diagnosis)).toEqual(["error:different-key"]);
    expect(diagnosis.problems[0]?.message).toBe(
      `The record holds a different key (${other.fingerprint}) from the expected one (${KEY_FINGERPRINT}): replace it with the value for this key.`,
    );
    expect(diagnosis.summary).toBe(
      `Published, but with a different key: ${other.fingerprint} instead of ${KEY_FINGERPRINT}.`,
    );
  });

  it("truncated: only the first strings were pasted", () => {
    const diagnosis = diagnoseRecords([strings.slice(0, 2)], expectedKey);
    expect(diagnosis).toMatchObject({ status: "wrong", matches: false });
    expect(codes(diagnosis)).toEqual(["error:truncated"]);
    expect(diagnosis.problems[0]?.message).toBe(
      "The record is cut short: p= has 253 of 392 characters. Paste the whole value; if your DNS provider splits it, keep the strings in order.",
    );
  });

  it("truncated: without an expected key, p= does not decode to an RSA key", () => {
    const diagnosis = diagnoseRecords([[`v=DKIM1; k=rsa; p=${KEY.slice(0, 216)}`]]);
    expect(diagnosis).toMatchObject({ status: "wrong", matches: null });
    expect(codes(diagnosis)).toEqual(["error:truncated"]);
    expect(diagnosis.problems[0]?.message).toMatch(
      /not a readable RSA public key \(216 characters/,
    );
  });

  it("truncated: a string lost from the middle, so p= is no prefix and no key", () => {
    const gapped = `${KEY.slice(0, 100)}${KEY.slice(150)}`;
    const diagnosis = diagnoseRecords([[`v=DKIM1; k=rsa; p=${gapped}`]], expectedKey);
    expect(codes(diagnosis)).toEqual(["error:truncated"]);
    expect(diagnosis.problems[0]?.message).toMatch(
      /not a readable RSA public key \(342 characters/,
    );
  });

  it("chunks-out-of-order: the provider swapped the strings", () => {
    const [head, first, second] = strings;
    const swapped = [head ?? "", second ?? "", first ?? ""];
    const diagnosis = diagnoseRecords([swapped], expectedKey);
    expect(diagnosis).toMatchObject({ status: "wrong", matches: false });
    expect(codes(diagnosis)).toEqual(["error:chunks-out-of-order"]);
    expect(diagnosis.problems[0]?.message).toBe(
      "The 3 strings of the record are out of order (in the order 1, 3, 2 they give the expected key): enter them again in that order.",
    );
  });

  it("chunks-out-of-order: found without an expected key too, even when the record cannot be read", () => {
    const [head, first, second] = strings;
    const diagnosis = diagnoseRecords([[first ?? "", head ?? "", second ?? ""]]);
    expect(diagnosis).toMatchObject({ status: "wrong", matches: null });
    expect(codes(diagnosis)).toEqual(["error:chunks-out-of-order"]);
    expect(diagnosis.problems[0]?.message).toMatch(/in the order 2, 1, 3 they give a readable key/);
  });

  it("several-records: an old key left beside the new one", () => {
    const old = splitIntoStrings(buildRecordValue(keyOf(1024).publicKeyBase64));
    const diagnosis = diagnoseRecords([old, strings], expectedKey);
    expect(diagnosis).toMatchObject({ status: "wrong", matches: true });
    expect(codes(diagnosis)).toEqual(["error:several-records"]);
    expect(diagnosis.problems[0]?.message).toBe(
      "There are 2 DKIM records at this name and verifiers may pick any of them: delete all but the one with the expected key.",
    );
    expect(diagnosis.record?.publicKey).toBe(KEY);
  });

  it("several-records: none of them the expected key", () => {
    const diagnosis = diagnoseRecords([[VALUE], [VALUE]], {
      publicKeyBase64: keyOf(1024).publicKeyBase64,
    });
    expect(diagnosis).toMatchObject({ status: "wrong", matches: false });
    expect(codes(diagnosis)).toEqual(["error:several-records", "error:different-key"]);
    expect(diagnosis.problems[0]?.message).toMatch(/keep only one\.$/);
  });

  it("testing-flag: t=y left on is a warning, and the record is still live", () => {
    const testing = splitIntoStrings(buildRecordValue(KEY, { testing: true }));
    const diagnosis = diagnoseRecords([testing], expectedKey);
    expect(diagnosis).toMatchObject({ status: "live", matches: true });
    expect(codes(diagnosis)).toEqual(["warning:testing-flag"]);
    expect(diagnosis.summary).toBe("Live and matches the key, but t=y (testing) is still on.");
  });

  it("testing-flag: no warning when the request asked for t=y", () => {
    const testing = splitIntoStrings(buildRecordValue(KEY, { testing: true }));
    const diagnosis = diagnoseRecords([testing], { publicKeyBase64: KEY, testing: true });
    expect(diagnosis).toMatchObject({ status: "live", matches: true, problems: [] });
  });

  it("revoked: empty p=", () => {
    const diagnosis = diagnoseRecords([["v=DKIM1; k=rsa; p="]], expectedKey);
    expect(diagnosis).toMatchObject({ status: "wrong", matches: false });
    expect(codes(diagnosis)).toEqual(["error:revoked"]);
    expect(diagnosis.summary).toBe("Published, but revoked (p= is empty).");
  });

  it("bad-version: v= other than DKIM1", () => {
    const diagnosis = diagnoseRecords([[`v=DKIM2; k=rsa; p=${KEY}`]], expectedKey);
    expect(diagnosis).toMatchObject({ status: "wrong", matches: true });
    expect(codes(diagnosis)).toEqual(["error:bad-version"]);
    expect(diagnosis.problems[0]?.message).toMatch(/v=DKIM2.*set v=DKIM1/);
  });

  it("bad-version: v=DKIM1 not first", () => {
    const diagnosis = diagnoseRecords([[`k=rsa; v=DKIM1; p=${KEY}`]], expectedKey);
    expect(codes(diagnosis)).toEqual(["error:bad-version"]);
    expect(diagnosis.problems[0]?.message).toMatch(/first tag/);
  });

  it("no v= at all is fine: the tag is optional", () => {
    expect(diagnoseRecords([[`k=rsa; p=${KEY}`]], expectedKey).status).toBe("live");
  });

  it("not-rsa: an ed25519 record", () => {
    const diagnosis = diagnoseRecords([[`v=DKIM1; k=ed25519; p=${ED25519_KEY}`]]);
    expect(diagnosis).toMatchObject({ status: "wrong", matches: null });
    expect(codes(diagnosis)).toEqual(["error:not-rsa"]);
    expect(diagnosis.problems[0]?.message).toMatch(/k=ed25519.*set k=rsa/);
  });

  it("weak-key: a 512-bit RSA key", () => {
    const diagnosis = diagnoseRecords([[`v=DKIM1; k=rsa; p=${WEAK_KEY}`]]);
    expect(codes(diagnosis)).toEqual(["error:weak-key"]);
    expect(diagnosis.problems[0]?.message).toMatch(/only 512 bits/);
  });

  it("literal-quotes: the provider stored the quotes as text", () => {
    const diagnosis = diagnoseRecords([[quoteStrings(strings)]], expectedKey);
    expect(diagnosis).toMatchObject({ status: "wrong", matches: false });
    expect(codes(diagnosis)).toEqual(["error:literal-quotes"]);
  });

  it("unparseable: a DKIM-looking record that cannot be read", () => {
    const diagnosis = diagnoseRecords([["v=DKIM1; k=rsa"]], expectedKey);
    expect(diagnosis).toMatchObject({ status: "wrong", matches: false });
    expect(codes(diagnosis)).toEqual(["error:unparseable"]);
    expect(diagnosis.problems[0]?.message).toMatch(/no p= tag/);
  });

  it("unparseable: the key published without its tags", () => {
    const diagnosis = diagnoseRecords([[CHUNK_1, CHUNK_2]], expectedKey);
    expect(codes(diagnosis)).toEqual(["error:unparseable"]);
    expect(diagnosis.problems[0]?.message).toMatch(/only the key, without its tags/);
  });
});

/** Cuts `value` into consecutive strings with the given lengths, cycling through them. */
function cut(value: string, lengths: readonly number[]): string[] {
  const strings: string[] = [];
  for (let at = 0, i = 0; at < value.length; i += 1) {
    const length = lengths[i % lengths.length] ?? 255;
    strings.push(value.slice(at, at + length));
    at += length;
  }
  return strings;
}

const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,14}[a-z0-9])?$/);

describe.each(KEY_SIZES)("round trips with a %i-bit key", (bits) => {
  const options = fc.record({ testing: fc.boolean(), strictSubdomains: fc.boolean() });

  it("any split of the value into strings of at most 255 parses back to the same record", () => {
    const key = keyOf(bits).publicKeyBase64;
    fc.assert(
      fc.property(
        options,
        fc.array(fc.integer({ min: 1, max: 255 }), { minLength: 1, maxLength: 8 }),
        (flags, lengths) => {
          const value = buildRecordValue(key, flags);
          const strings = cut(value, lengths);
          expect(strings.every((s) => s.length <= 255)).toBe(true);
          const record = parseRecord(value);
          expect(record.publicKey).toBe(key);
          expect(parseRecord(strings)).toEqual(record);
          expect(parseRecord(quoteStrings(strings))).toEqual(record);
          const diagnosis = diagnoseRecords([strings], {
            publicKeyBase64: key,
            testing: flags.testing,
          });
          expect(diagnosis).toMatchObject({ status: "live", matches: true, problems: [] });
        },
      ),
    );
  });

  it("splitIntoStrings gives strings within the limit that join back to the value", () => {
    const key = keyOf(bits).publicKeyBase64;
    fc.assert(
      fc.property(options, fc.integer({ min: 1, max: 255 }), (flags, maxLength) => {
        const value = buildRecordValue(key, flags);
        const strings = splitIntoStrings(value, maxLength);
        expect(strings.every((s) => s.length >= 1 && s.length <= maxLength)).toBe(true);
        expect(strings.join("")).toBe(value);
        const standard = splitIntoStrings(value);
        expect(standard.every((s) => s.length <= 255)).toBe(true);
        expect(standard[0]).toBe(value.slice(0, value.indexOf("p=")));
        expect(standard.join("")).toBe(value);
      }),
    );
  });

  it("zoneFileLine parses back to the value", () => {
    const key = keyOf(bits).publicKeyBase64;
    fc.assert(
      fc.property(
        options,
        label,
        fc.array(label, { minLength: 2, maxLength: 4 }),
        (flags, selector, labels) => {
          const value = buildRecordValue(key, flags);
          const line = zoneFileLine(selector, labels.join("."), value);
          expect(recordValueFromText(line)).toBe(value);
          expect(parseRecord(line)).toEqual(parseRecord(value));
        },
      ),
    );
  });
});

describe("splitIntoStrings on any printable text", () => {
  it("joins back to the text, within the limit", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "grapheme-ascii", maxLength: 1200 }),
        fc.integer({ min: 1, max: 255 }),
        (text, maxLength) => {
          const strings = splitIntoStrings(text, maxLength);
          expect(strings.join("")).toBe(text);
          expect(strings.every((s) => s.length <= maxLength)).toBe(true);
        },
      ),
    );
  });
});
