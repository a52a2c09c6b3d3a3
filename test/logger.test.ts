import { describe, expect, it } from "vitest";
import { generateKeyPair } from "../src/dkim/keys.js";
import { createLogger, redactLogText } from "../src/logger.js";

function capture(level: "debug" | "info" | "warn" | "error" = "info") {
  const lines: string[] = [];
  const logger = createLogger({
    level,
    write: (line) => lines.push(line),
    clock: () => new Date("2026-11-26T12:00:00.000Z"),
  });
  const entries = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, lines, entries };
}

describe("createLogger", () => {
  it("writes one JSON object per line with time, level, message and fields", () => {
    const { logger, lines, entries } = capture();
    logger.event("info", "request event", { requestId: "abc", domain: "example.com" });
    expect(lines).toHaveLength(1);
    expect(entries()[0]).toEqual({
      time: "2026-11-26T12:00:00.000Z",
      level: "info",
      msg: "request event",
      requestId: "abc",
      domain: "example.com",
    });
  });

  it("drops lines below LOG_LEVEL and follows Bolt's setLevel", () => {
    const { logger, entries } = capture("warn");
    logger.info("not shown");
    logger.debug("not shown");
    logger.warn("shown");
    logger.setLevel("debug" as Parameters<typeof logger.setLevel>[0]);
    logger.debug("now shown");
    expect(entries().map((entry) => entry.msg)).toEqual(["shown", "now shown"]);
    expect(logger.getLevel()).toBe("debug");
  });

  it("takes Bolt's free arguments and errors without their stacks", () => {
    const { logger, entries } = capture();
    const error = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    logger.error("An API call failed:", error, { attempt: 2 });
    const [entry] = entries();
    expect(entry?.msg).toBe(
      "An API call failed: Error [ECONNRESET]: socket hang up { attempt: 2 }",
    );
    expect(JSON.stringify(entry)).not.toMatch(/\n\s+at /);
  });

  it("carries the fields of a child logger", () => {
    const { logger, entries } = capture();
    logger.child({ component: "watcher" }).event("warn", "round failed");
    expect(entries()[0]).toMatchObject({
      component: "watcher",
      level: "warn",
      msg: "round failed",
    });
  });

  it("redacts secrets in any message or field, whatever the caller passed", async () => {
    const { privateKeyPem } = await generateKeyPair(1024);
    const { logger, lines } = capture("debug");
    logger.event("error", `failed with ${privateKeyPem}`, { pem: privateKeyPem });
    logger.debug(
      "GET /cgi-bin/api?call=api_set_dkim_certificate&certificate=LS0tLS1CRUdJTg&selector=s1",
    );
    logger.info("headers", {
      authorization: "Basic YXBpdXNlcjpzM2NyZXQ=",
      bearer: "Bearer xoxb-1-2-abc",
    });
    logger.warn("token xoxb-123-456-abcdef and xapp-1-A0-99-zz");
    logger.warn("echo: -----BEGIN%20RSA%20PRIVATE%20KEY-----%0AMIIC");
    const text = lines.join("\n");
    expect(text).not.toContain("PRIVATE KEY");
    expect(text).not.toContain("PRIVATE%20KEY");
    const body = privateKeyPem.split("\n").slice(1, -2).join("");
    for (let at = 0; at + 20 <= body.length; at += 20) {
      expect(text).not.toContain(body.slice(at, at + 20));
    }
    expect(text).not.toContain("LS0tLS1CRUdJTg");
    expect(text).not.toContain("YXBpdXNlcjpzM2NyZXQ=");
    expect(text).not.toMatch(/xox[bp]-|xapp-1/);
    expect(text).toContain("[redacted");
  });
});

describe("redactLogText", () => {
  it("leaves ordinary text alone", () => {
    const text = "request r7k2m9 for s1._domainkey.example.com approved by U0APPROVER";
    expect(redactLogText(text)).toBe(text);
  });

  it("keeps fingerprints and public keys, which are not secrets", async () => {
    const { fingerprint, publicKeyBase64 } = await generateKeyPair(2048);
    const text = `DNS of s1._domainkey.example.com: ${fingerprint}, v=DKIM1; k=rsa; p=${publicKeyBase64}`;
    expect(redactLogText(text)).toBe(text);
  });

  it("redacts a private key body even when it stands where a public key would", async () => {
    const { privateKeyPem, publicKeyBase64 } = await generateKeyPair(1024);
    const body = privateKeyPem
      .split("\n")
      .filter((line) => line !== "" && !line.startsWith("-----"))
      .join("");
    const text = redactLogText(`p=${body} and ${publicKeyBase64.slice(0, 10)}${body}`);
    for (let at = 0; at + 20 <= body.length; at += 20) {
      const piece = body.slice(at, at + 20);
      if (!publicKeyBase64.includes(piece)) expect(text).not.toContain(piece);
    }
    expect(text).toContain("[redacted base64]");
  });

  it("redacts secret query parameters", () => {
    const text = redactLogText(
      "GET /api?call=x&password=hunter2&api_key=abc123&token=t0k&secret=s3&selector=s1",
    );
    expect(text).toBe(
      "GET /api?call=x&password=[redacted]&api_key=[redacted]&token=[redacted]&secret=[redacted]&selector=s1",
    );
  });
});
