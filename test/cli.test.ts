import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRecord, recordValueFromText, splitIntoStrings } from "../src/dkim/record.js";
import { type DnsTestServer, startDnsServer } from "./helpers/dns-server.js";
import { pythonDkimAvailability, verifyWithPythonDkim } from "./helpers/python-dkim.js";

/** The CLI as users run it: the built binary in a child process (npm test builds first). */
const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], cwd?: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd, env: { PATH: process.env.PATH ?? "" } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

let dir: string;
let dns: DnsTestServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dkim-cli-"));
  dns = await startDnsServer();
});

afterAll(async () => {
  await dns.close();
  await rm(dir, { recursive: true, force: true });
});

describe("dkim-bot keygen", () => {
  it("writes the private key (0600) and the zone line, and prints the record", async () => {
    const run = await runCli(["keygen", "Example.COM.", "--selector", "s1", "--out", dir]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);

    const pem = await readFile(join(dir, "s1.private"), "utf8");
    expect(pem).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/);
    expect((await stat(join(dir, "s1.private"))).mode & 0o777).toBe(0o600);

    const zoneLine = await readFile(join(dir, "s1.txt"), "utf8");
    expect(zoneLine).toMatch(/^s1\._domainkey\tIN\tTXT\t\( "v=DKIM1; k=rsa; "/);
    expect(zoneLine).toContain("; ----- DKIM key s1 for example.com");
    const value = recordValueOf(zoneLine);
    expect(value).toMatch(/^v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+=*$/);
    expect(run.stdout).toContain("Name:   s1._domainkey.example.com");
    expect(run.stdout).toContain(`Value:  ${value}`);
    expect(run.stdout).toContain(
      splitIntoStrings(value)
        .map((s) => `"${s}"`)
        .join(" "),
    );
    expect(run.stdout).toMatch(/Fingerprint: +SHA256:[A-Za-z0-9+/]{43}\n/);
    expect(run.stdout).not.toContain("PRIVATE KEY");
  });

  it("never overwrites an existing file", async () => {
    const before = await readFile(join(dir, "s1.private"), "utf8");
    const run = await runCli(["keygen", "example.com", "--selector", "s1", "--out", dir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/s1\.private already exists and is never overwritten/);
    expect(await readFile(join(dir, "s1.private"), "utf8")).toBe(before);
  });

  it("publishes t=y with --testing and 4096-bit keys in three or more strings", async () => {
    const run = await runCli([
      "keygen",
      "example.com",
      "--selector",
      "big",
      "--bits",
      "4096",
      "--testing",
      "--out",
      dir,
    ]);
    expect(run.code).toBe(0);
    const value = recordValueOf(await readFile(join(dir, "big.txt"), "utf8"));
    expect(parseRecord(value).flags).toEqual(["y"]);
    expect(splitIntoStrings(value).length).toBeGreaterThanOrEqual(3);
  });

  it.each([
    [["keygen"], /keygen needs a domain/],
    [["keygen", "exa_mple.com"], /domain "exa_mple.com": "_" is not allowed/],
    [["keygen", "example.com", "--selector", "bad!sel"], /selector "bad!sel": "!" is not allowed/],
    [["keygen", "example.com", "--bits", "3072"], /--bits must be 1024, 2048 or 4096/],
    [["keygen", "example.com", "--colour"], /Unknown option '--colour'/],
    [["frobnicate"], /unknown command "frobnicate"/],
  ])("rejects bad arguments %j with one line and exit 2", async (args, message) => {
    const run = await runCli(args, dir);
    expect(run.code).toBe(2);
    const [first] = run.stderr.split("\n");
    expect(first).toMatch(/^dkim-bot: /);
    expect(first).toMatch(message);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.stdout).toBe("");
  });

  it("has --help on every command", async () => {
    for (const args of [["--help"], ["keygen", "--help"], ["check", "-h"], ["serve", "--help"]]) {
      const run = await runCli(args);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^Usage: dkim-bot/);
    }
  });
});

describe("dkim-bot check", () => {
  let value: string;
  let strings: string[];

  beforeAll(async () => {
    const run = await runCli(["keygen", "example.org", "--selector", "live", "--out", dir]);
    expect(run.code).toBe(0);
    value = recordValueOf(await readFile(join(dir, "live.txt"), "utf8"));
    strings = splitIntoStrings(value);
  });

  const check = (...args: string[]) =>
    runCli(["check", ...args, "--dns-server", dns.address, "--timeout", "1000"]);

  it("exits 0 when the record is live and matches the key", async () => {
    dns.setTxt("live._domainkey.example.org", strings);
    const run = await check("example.org", "live", "--key", join(dir, "live.private"));
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("live._domainkey.example.org");
    expect(run.stdout).toContain(`Published:  ${value}`);
    expect(run.stdout).toMatch(/Status: +live, and it matches the key/);
  });

  it("exits 1 and says so when the record is missing", async () => {
    const run = await check("example.org", "nothing");
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("Published:  nothing");
    expect(run.stdout).toMatch(/Status: +missing/);
  });

  it("exits 1 when the published key is another one", async () => {
    const other = await runCli(["keygen", "example.org", "--selector", "other", "--out", dir]);
    expect(other.code).toBe(0);
    const otherValue = recordValueOf(await readFile(join(dir, "other.txt"), "utf8"));
    dns.setTxt("live._domainkey.example.org", splitIntoStrings(otherValue));
    const run = await check("example.org", "live", "--key", join(dir, "live.private"));
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/Status: +wrong/);
  });

  it("names chunks published out of order", async () => {
    dns.setTxt("live._domainkey.example.org", [...strings].reverse());
    const run = await check("example.org", "live", "--key", join(dir, "live.private"));
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/order/i);
  });

  it("reports a DNS server that does not answer", async () => {
    dns.setBehaviour("live._domainkey.example.org", "no-answer");
    const run = await check("example.org", "live");
    dns.setBehaviour("live._domainkey.example.org", "normal");
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/timed out/);
  });

  it("says clearly when the key file is missing", async () => {
    const run = await check("example.org", "live", "--key", join(dir, "nope.private"));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/nope\.private does not exist/);
  });

  it("rejects a bad --dns-server", async () => {
    const run = await runCli(["check", "example.org", "live", "--dns-server", "dns.example"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^dkim-bot: --dns-server: /);
  });
});

describe("a key from dkim-bot keygen signs mail that an independent verifier accepts", () => {
  const availability = pythonDkimAvailability();
  const mustRun = process.env.CI === "true";
  const reason = availability.available ? "" : availability.reason;

  it.skipIf(!availability.available && !mustRun)(
    `verifies with python3-dkim against the .txt record${reason ? ` (skipped: ${reason})` : ""}`,
    async () => {
      expect(availability, "CI must install python3-dkim").toEqual({ available: true });
      const keyDir = await mkdtemp(join(tmpdir(), "dkim-proof-"));
      const run = await runCli([
        "keygen",
        "mail.example.net",
        "--selector",
        "proof",
        "--out",
        keyDir,
      ]);
      expect(run.code).toBe(0);
      const privateKeyPem = await readFile(join(keyDir, "proof.private"), "utf8");
      const recordValue = recordValueOf(await readFile(join(keyDir, "proof.txt"), "utf8"));
      const proof = { privateKeyPem, selector: "proof", domain: "mail.example.net" };
      expect(await verifyWithPythonDkim({ ...proof, recordValue })).toBe(true);

      // Not vacuous: another key's record must not verify the same signature.
      const otherDir = join(keyDir, "other");
      expect(
        (await runCli(["keygen", "mail.example.net", "--selector", "proof", "--out", otherDir]))
          .code,
      ).toBe(0);
      const otherRecord = recordValueOf(await readFile(join(otherDir, "proof.txt"), "utf8"));
      expect(await verifyWithPythonDkim({ ...proof, recordValue: otherRecord })).toBe(false);
      await rm(keyDir, { recursive: true, force: true });
    },
  );
});

/** The record value a DNS server would serve for the zone-file line keygen wrote. */
function recordValueOf(zoneLine: string): string {
  return recordValueFromText(zoneLine.trim());
}
