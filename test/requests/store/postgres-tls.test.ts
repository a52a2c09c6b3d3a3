/**
 * TLS to PostgreSQL (issue 11), against the real test server, which
 * scripts/test-servers/start-postgres.sh starts with ssl=on and a certificate from a throwaway
 * CA (DKIM_TEST_PG_CA): the store connects with sslmode=verify-full and the CA given as
 * sslrootcert in DATABASE_URL, or through NODE_EXTRA_CA_CERTS; a wrong CA, or none, stops the
 * start with the one sentence about TLS; a server without TLS with the sentence saying so.
 *
 * Without a server with TLS these tests are skipped with a note, except in CI (CI=true), where
 * that fails them (test/helpers/test-stores.ts's convention).
 */
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEncryptionKey } from "../../../src/requests/sealing.js";
import { openStore } from "../../../src/requests/store/open-store.js";
import { freshPostgresUrl, POSTGRES_URL } from "../../helpers/test-stores.js";
import { tempDataDir } from "../support.js";

const CA = process.env.DKIM_TEST_PG_CA;
const IN_CI = process.env.CI === "true" || process.env.CI === "1";
const TITLE = "the store over TLS to PostgreSQL";
const HOW_TO = 'start the server with: eval "$(bash scripts/test-servers/start-postgres.sh)"';
const OPEN_STORE = resolve(
  dirname(fileURLToPath(import.meta.url)),
  "../../../src/requests/store/open-store.ts",
);

/** `url` with `params` added to its query string. */
function withParams(url: string, params: Record<string, string>): string {
  const parsed = new URL(url);
  for (const [name, value] of Object.entries(params)) parsed.searchParams.set(name, value);
  return parsed.toString();
}

/** The one encryption key of the test database (the store checks it at each open). */
const KEY_BASE64 = randomBytes(32).toString("base64");
const ENCRYPTION_KEY = parseEncryptionKey(KEY_BASE64, "DKIM_ENCRYPTION_KEY");

/** Opens the store at `databaseUrl` as the bot does, and closes it: the error, if any. */
async function openAndClose(databaseUrl: string): Promise<Error | undefined> {
  try {
    const store = await openStore({
      databaseUrl,
      dataDir: tempDataDir(),
      encryptionKey: ENCRYPTION_KEY,
      owner: "tls-test",
    });
    await store.close();
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

/** Whether the open connections to the database of `url` are TLS ones (pg_stat_ssl). */
async function connectionsOver(url: string): Promise<{ tls: number; plain: number }> {
  const database = decodeURIComponent(new URL(url).pathname.slice(1));
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ ssl: boolean; n: string }>(
      `SELECT s.ssl, count(*) AS n FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
        WHERE a.datname = $1 AND a.application_name = 'dkim-bot' GROUP BY s.ssl`,
      [database],
    );
    const count = (ssl: boolean) => Number(rows.find((row) => row.ssl === ssl)?.n ?? 0);
    return { tls: count(true), plain: count(false) };
  } finally {
    await admin.end();
  }
}

/** Opens the store in a child process (NODE_EXTRA_CA_CERTS is read at a process's start). */
function openInChild(
  databaseUrl: string,
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  const script = `
    const { openStore } = await import(${JSON.stringify(OPEN_STORE)});
    const { parseEncryptionKey } = await import(${JSON.stringify(OPEN_STORE.replace("store/open-store.ts", "sealing.ts"))});
    const { mkdtempSync } = await import("node:fs");
    try {
      const store = await openStore({
        databaseUrl: process.env.TEST_DATABASE_URL,
        dataDir: mkdtempSync("/tmp/dkim-tls-child-"),
        encryptionKey: parseEncryptionKey(process.env.TEST_KEY, "DKIM_ENCRYPTION_KEY"),
        owner: "tls-child",
      });
      await store.close();
      console.log("opened");
    } catch (error) {
      console.log(error.message);
      process.exitCode = 3;
    }`;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", script],
      {
        env: {
          PATH: process.env.PATH ?? "",
          TEST_DATABASE_URL: databaseUrl,
          TEST_KEY: KEY_BASE64,
          ...env,
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code, output: output.trim() }));
  });
}

const TLS_SENTENCE =
  /^PostgreSQL database \S+ on (127\.0\.0\.1|localhost):\d+: the TLS connection failed \(.+\)\. Check sslmode in DATABASE_URL; for a private CA, give its certificate with sslrootcert=<file> in DATABASE_URL or NODE_EXTRA_CA_CERTS\.$/;

function tlsTests(ca: string): void {
  let url: string;
  let password: string;
  let scratch: string;
  let wrongCa: string;
  beforeAll(async () => {
    url = await freshPostgresUrl();
    password = decodeURIComponent(new URL(url).password);
    // Another throwaway CA: a certificate that did not sign the server's.
    scratch = mkdtempSync(join(tmpdir(), "dkim-wrong-ca-"));
    wrongCa = join(scratch, "ca.crt");
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=not the server's CA",
        "-keyout",
        join(scratch, "ca.key"),
        "-out",
        wrongCa,
      ],
      { stdio: "ignore" },
    );
  });
  afterAll(() => {
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  });

  it.each([
    ["127.0.0.1", "the IP address"],
    ["localhost", "the host name"],
  ])("connects with sslmode=verify-full and the CA as sslrootcert (%s: %s)", async (host) => {
    const tlsUrl = new URL(withParams(url, { sslmode: "verify-full", sslrootcert: ca }));
    tlsUrl.hostname = host;
    const store = await openStore({
      databaseUrl: tlsUrl.toString(),
      dataDir: tempDataDir(),
      encryptionKey: ENCRYPTION_KEY,
      owner: "tls-test",
    });
    try {
      // The store works, and every connection it holds is a TLS one.
      expect(await store.list({})).toEqual([]);
      const seen = await connectionsOver(url);
      expect(seen.tls).toBeGreaterThan(0);
      expect(seen.plain).toBe(0);
    } finally {
      await store.close();
    }
  });

  it("connects with sslmode=verify-full and the CA in NODE_EXTRA_CA_CERTS", async () => {
    const verifyFull = withParams(url, { sslmode: "verify-full" });
    const trusted = await openInChild(verifyFull, { NODE_EXTRA_CA_CERTS: ca });
    expect(trusted).toEqual({ code: 0, output: "opened" });
    // The same without it: Node's own CAs do not know the test CA.
    const untrusted = await openInChild(verifyFull, {});
    expect(untrusted.code).toBe(3);
    expect(untrusted.output).toMatch(TLS_SENTENCE);
  });

  it("stops with the one sentence about TLS when the CA is not the server's", async () => {
    const error = await openAndClose(
      withParams(url, { sslmode: "verify-full", sslrootcert: wrongCa }),
    );
    expect(error).toBeDefined();
    expect((error as { code?: string }).code).toBe("STORE_UNAVAILABLE");
    expect(error?.message).toMatch(TLS_SENTENCE);
    expect(error?.message).not.toContain(password);
  });

  it("stops with the one sentence about TLS when no CA is given for the server's certificate", async () => {
    const error = await openAndClose(withParams(url, { sslmode: "verify-full" }));
    expect(error?.message).toMatch(TLS_SENTENCE);
    expect(error?.message).toMatch(/certificate/);
  });

  it("still connects without TLS when DATABASE_URL does not ask for it", async () => {
    expect(await openAndClose(url)).toBeUndefined();
  });
}

if (POSTGRES_URL !== undefined && CA !== undefined) {
  describe(TITLE, () => tlsTests(CA));
} else if (IN_CI) {
  describe(TITLE, () => {
    it("has a PostgreSQL server with TLS", () => {
      throw new Error(
        `${TITLE}: no DKIM_TEST_DATABASE_URL or DKIM_TEST_PG_CA (CI=true); .ci/run should ${HOW_TO}`,
      );
    });
  });
} else {
  console.warn(
    `Skipping "${TITLE}": no PostgreSQL server with TLS (DKIM_TEST_PG_CA unset); ${HOW_TO}`,
  );
  describe.skip(TITLE, () => {
    it("needs a server with TLS", () => {});
  });
}

/**
 * A server with TLS off answers PostgreSQL's SSLRequest with "N" (protocol 55.2): this
 * stand-in does only that, so the sentence for it is checked without a second real server.
 */
describe("a server without TLS, when DATABASE_URL asks for it", () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer((socket) => {
      socket.once("data", () => socket.end("N"));
    });
    await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((done) => server.close(done));
  });

  it("stops with the sentence that the server does not support TLS", async () => {
    const error = await openAndClose(
      `postgres://dkim:secret-password@127.0.0.1:${port}/dkim?sslmode=require`,
    );
    expect(error?.message).toBe(
      `PostgreSQL database dkim on 127.0.0.1:${port} does not support TLS, but DATABASE_URL asks for it: remove sslmode or enable TLS on the server.`,
    );
  });
});
