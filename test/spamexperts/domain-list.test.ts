import { describe, expect, it } from "vitest";
import { normaliseDomain } from "../../src/dkim/names.js";
import { parseDomainList } from "../../src/spamexperts/domain-list.js";

/** What the full check people's input gets says of a name: its normal form, or undefined. */
function fullCheck(name: string): string | undefined {
  try {
    return normaliseDomain(name);
  } catch {
    return undefined;
  }
}

describe("parseDomainList", () => {
  it("takes one domain per line, the part before the first ':' or whitespace", async () => {
    const body = [
      "alpha.example",
      "beta.example:mx.beta.example:25",
      "gamma.example   some comment",
      "delta.example\tactive",
      "",
      "   ",
    ].join("\n");
    expect(await parseDomainList(body)).toEqual({
      domains: ["alpha.example", "beta.example", "delta.example", "gamma.example"],
      ignored: 0,
      ignoredExamples: [],
      duplicates: 0,
      entries: 4,
    });
  });

  it("normalises: lower case, no trailing dot, IDN as punycode; and drops repeats", async () => {
    const body = "Example.COM\nexample.com.\nbücher.example\nxn--bcher-kva.example\n";
    expect(await parseDomainList(body)).toMatchObject({
      domains: ["example.com", "xn--bcher-kva.example"],
      ignored: 0,
      duplicates: 2,
      entries: 4,
    });
  });

  it("accepts CRLF and lone CR line ends and a byte-order mark", async () => {
    const body = "\uFEFFa.example\r\nb.example\rc.example\r\n";
    expect((await parseDomainList(body)).domains).toEqual(["a.example", "b.example", "c.example"]);
  });

  it("counts what is not a domain name and shows a few of those lines, redacted and short", async () => {
    const body = [
      "good.example",
      "Domains on this cluster",
      "localhost",
      "192.0.2.1",
      "*.wild.example",
      ":leading-colon",
      "under_score.example",
      `see https://cp.example/?user=api&password=hunter22 ${"x".repeat(200)}`,
    ].join("\n");
    const parsed = await parseDomainList(body, ["hunter22"]);
    expect(parsed).toMatchObject({ domains: ["good.example"], ignored: 7, duplicates: 0 });
    // "Domains on this cluster" is cut at the first space, and "Domains" has no dot.
    expect(parsed.ignoredExamples).toEqual([
      "Domains on this cluster",
      "localhost",
      "192.0.2.1",
      "*.wild.example",
      ":leading-colon",
    ]);
    const secretLine = await parseDomainList(`see password=hunter22 ${"x".repeat(200)}`, [
      "hunter22",
    ]);
    expect(secretLine.ignoredExamples).toHaveLength(1);
    expect(secretLine.ignoredExamples[0]).not.toContain("hunter22");
    expect(secretLine.ignoredExamples[0]?.length).toBeLessThanOrEqual(80);
  });

  it("reads a JSON array of strings, counting other items as not domains", async () => {
    const body = JSON.stringify(["B.example", "a.example.", 42, { domain: "c.example" }, "", null]);
    expect(await parseDomainList(body)).toEqual({
      domains: ["a.example", "b.example"],
      ignored: 2,
      ignoredExamples: ["42", '{"domain":"c.example"}'],
      duplicates: 0,
      entries: 4,
    });
  });

  it("reads a body that only starts like JSON as lines", async () => {
    expect((await parseDomainList("[a.example\nb.example")).domains).toEqual(["b.example"]);
  });

  it("gives nothing for an empty body", async () => {
    expect(await parseDomainList("")).toEqual({
      domains: [],
      ignored: 0,
      ignoredExamples: [],
      duplicates: 0,
      entries: 0,
    });
  });

  it("reads 10,000 domains, in name order", async () => {
    const names = Array.from({ length: 10_000 }, (_, index) => `d${index}.example`);
    const parsed = await parseDomainList(names.map((name) => `${name}:x`).join("\n"));
    expect(parsed.domains).toHaveLength(10_000);
    expect(parsed.domains).toEqual([...names].sort());
  });

  it("takes a name on its fast path exactly when the full check would, with the same result", async () => {
    const label63 = "a".repeat(63);
    const long253 = `${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(63)}.${"e".repeat(57)}.com`;
    const names = [
      "a.example",
      "A.Example.",
      "1.2.3.4",
      "a.123",
      "a.1a",
      "123.example",
      "a-.example",
      "-a.example",
      "a.-b",
      "a.b-",
      "a--b.example",
      "a..example",
      ".a.example",
      "a.example..",
      "com",
      `${label63}.example`,
      `${label63}a.example`,
      long253,
      `x${long253}`,
      "xn--bcher-kva.example",
      "a_b.example",
      "a%b.example",
      "bücher.example",
      "EXAMPLE.COM",
    ];
    expect(long253).toHaveLength(253);
    for (const name of names) {
      const parsed = await parseDomainList(name);
      const expected = fullCheck(name);
      expect([name, parsed.domains[0]]).toEqual([name, expected]);
      expect([name, parsed.ignored]).toEqual([name, expected === undefined ? 1 : 0]);
    }
  });
});
