/**
 * The private key never leaves the bot except in the one API call that installs it: after a
 * full flow, a failing one whose API error echoes the query (and so the key), a request left
 * pending, and a batch with its records attached as files, no recorded Slack Web API call, no
 * attached file, no response_url post and no log line holds key material, the API password or
 * the Basic token, and nothing in DATA_DIR holds a PEM.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { publicKeyOf } from "../../src/dkim/keys.js";
import { ACTION_IDS } from "../../src/slack/ui/ids.js";
import { faults } from "../helpers/fake-spamexperts.js";
import {
  attachedRecords,
  BATCH_ACTIONS,
  bulkSetUp,
  clickCard,
  publishRows,
  waitForCard,
} from "./batch-flows.js";
import {
  apiCallsFor,
  clickApprove,
  clickButton,
  publish,
  type RequestInSlack,
  setUp,
  waitForReply,
  waitForState,
} from "./flows.js";
import { SE_PASSWORD, SE_USER, useBot } from "./harness.js";

const WINDOW = 40;

const harness = useBot();

/** The base64 body of a PEM, without its header, footer and line breaks. */
function pemBody(pem: string): string {
  return pem
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("-----"))
    .join("");
}

/**
 * Every 40-character run of the private key's base64 that is secret. A PKCS#1 key holds the
 * modulus, and so does the public key posted for DNS, at the same offset modulo 3: their
 * base64 shares long runs that are public. Those runs are left out.
 */
function secretWindows(pem: string): Set<string> {
  const body = pemBody(pem);
  const publicKey = publicKeyOf(pem).publicKeyBase64;
  const windows = new Set<string>();
  for (let at = 0; at + WINDOW <= body.length; at += 1) {
    const run = body.slice(at, at + WINDOW);
    if (!publicKey.includes(run)) windows.add(run);
  }
  return windows;
}

/** The text as stored and as it reads once URL- or form-decoded (a key in a query is encoded). */
function readings(text: string): string[] {
  const loose = text
    .replace(/%2B/gi, "+")
    .replace(/%2F/gi, "/")
    .replace(/%3D/gi, "=")
    .replace(/%0A/gi, "\n");
  let decoded = loose;
  try {
    decoded = decodeURIComponent(text);
  } catch {
    // Not valid percent-encoding as a whole: the loose reading covers it.
  }
  return [...new Set([text, loose, decoded])];
}

/** The first secret run found in `text`, if any. */
function leakIn(text: string, windows: ReadonlySet<string>): string | undefined {
  for (const reading of readings(text)) {
    for (let at = 0; at + WINDOW <= reading.length; at += 1) {
      const run = reading.slice(at, at + WINDOW);
      if (windows.has(run)) return run;
    }
  }
  return undefined;
}

interface Haystack {
  where: string;
  text: string;
}

function slackHaystacks(): Haystack[] {
  const { slack } = harness;
  const calls = slack.calls().flatMap((call) => [
    { where: `${call.method} #${call.seq} body`, text: call.rawBody },
    ...Object.entries(call.rawParams).map(([name, value]) => ({
      where: `${call.method} #${call.seq} ${name}`,
      text: value,
    })),
  ]);
  const posts = slack
    .responses()
    .map((post) => ({ where: `response_url #${post.seq}`, text: post.rawBody }));
  // Files attached in threads (a batch's records): their bytes, as uploaded.
  const files = slack
    .uploadedFiles()
    .map((file) => ({ where: `file ${file.filename}`, text: file.bytes?.toString("utf8") ?? "" }));
  return [...calls, ...posts, ...files];
}

function logHaystacks(): Haystack[] {
  return harness.allLines.map((line, index) => ({ where: `log line ${index + 1}`, text: line }));
}

async function dataDirFiles(dir: string): Promise<Array<{ path: string; content: Buffer }>> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files = await Promise.all(
    entries.map(async (entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return dataDirFiles(path);
      if (!entry.isFile()) return [];
      return [{ path, content: await readFile(path) }];
    }),
  );
  return files.flat();
}

async function approveAndWait(request: RequestInSlack, state: string): Promise<void> {
  await clickApprove(harness, request);
  await waitForState(harness, request, state);
}

describe("no private key material outside the install call", () => {
  it("is found in Slack calls, response_url posts, logs or DATA_DIR after full and failing flows", async () => {
    const { slack, spamExperts } = harness;

    // 1. The whole flow, with a Check DNS click (an answer to a response_url) on the way.
    const ok = await setUp(harness, "secrets-ok.example", "s1");
    publish(harness, ok);
    await clickButton(harness, ok.posted, ACTION_IDS.checkDns);
    await slack.waitForResponse(() => true);
    await approveAndWait(ok, "Active");
    await waitForReply(harness, ok, /\*Active\*/);

    // 2. The API answers the certificate call with an error that quotes the whole query.
    const echo = await setUp(harness, "secrets-echo.example", "s1");
    publish(harness, echo);
    spamExperts.failNext(
      "api_set_dkim_certificate",
      faults.echoQuery("Invalid certificate in request"),
    );
    await approveAndWait(echo, "Failed");
    const failure = await waitForReply(harness, echo, /\*Failed\*/);
    expect(failure.text).toContain("Invalid certificate in request");
    await clickButton(harness, failure, ACTION_IDS.retry);
    await waitForState(harness, echo, "Active");
    await waitForReply(harness, echo, /\*Active\*/);

    // 3. A request left pending: its key is still in the store, sealed.
    const pending = await setUp(harness, "secrets-pending.example", "s1");
    await harness.command("status");

    // 4. A batch of two, its records attached as files, approved to the end.
    const batch = await bulkSetUp(harness, ["secrets-b1.example", "secrets-b2.example"]);
    const { rows } = await attachedRecords(harness, batch);
    publishRows(harness, rows);
    await waitForCard(harness, batch, /Check DNS/);
    await clickCard(harness, batch, BATCH_ACTIONS.batchCheckDns);
    await waitForCard(harness, batch, /Approve all live \(2\)/);
    await clickCard(harness, batch, BATCH_ACTIONS.batchApproveLive);
    await waitForCard(harness, batch, /2 active/);

    const certificates = [
      ...new Set(
        spamExperts.requests
          .filter((request) => request.params.call === "api_set_dkim_certificate")
          .map((request) => request.params.certificate ?? ""),
      ),
    ];
    expect(apiCallsFor(harness, echo.domain)[0]).toBe("api_set_dkim_certificate");
    expect(certificates).toHaveLength(4);
    const windows = new Set(certificates.flatMap((pem) => [...secretWindows(pem)]));
    expect(windows.size).toBeGreaterThan(300);
    // The scan finds a key when one is there, even URL-encoded as the API call carries it.
    expect(leakIn(certificates[0] ?? "", windows)).toBeDefined();
    expect(leakIn(encodeURIComponent(certificates[1] ?? ""), windows)).toBeDefined();

    const slackText = slackHaystacks();
    const logs = logHaystacks();
    // The scan covers what was posted: the public record values are there.
    for (const request of [ok, echo, pending]) {
      expect(slackText.some((h) => h.text.includes(request.value))).toBe(true);
    }
    for (const row of rows) {
      expect(
        slackText.some((h) => h.where.startsWith("file ") && h.text.includes(row[2] ?? "-")),
      ).toBe(true);
    }
    expect(logs.length).toBeGreaterThan(20);

    const leaks = [...slackText, ...logs].flatMap(({ where, text }) => {
      const found: string[] = [];
      if (readings(text).some((reading) => reading.includes("PRIVATE KEY")))
        found.push(`${where}: PRIVATE KEY`);
      const run = leakIn(text, windows);
      if (run !== undefined) found.push(`${where}: key run ${run}`);
      return found;
    });
    expect(leaks).toEqual([]);

    const basicToken = Buffer.from(`${SE_USER}:${SE_PASSWORD}`).toString("base64");
    const credentials = [
      SE_PASSWORD,
      encodeURIComponent(SE_PASSWORD),
      new URLSearchParams({ p: SE_PASSWORD }).toString().slice(2),
      basicToken,
    ];
    const credentialLeaks = [...logs, ...slackText].filter(({ text }) =>
      credentials.some((secret) => text.includes(secret)),
    );
    expect(credentialLeaks.map(({ where }) => where)).toEqual([]);

    const files = await dataDirFiles(harness.dataDir);
    expect(files.some((file) => file.path.endsWith(".key"))).toBe(true);
    expect(files.length).toBeGreaterThan(1);
    for (const file of files) {
      const text = file.content.toString("latin1");
      expect(text, file.path).not.toMatch(/PRIVATE KEY/);
      expect(leakIn(text, windows), file.path).toBeUndefined();
    }
  });
});
