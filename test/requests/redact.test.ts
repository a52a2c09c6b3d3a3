import { createPrivateKey } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateKeyPair } from "../../src/dkim/keys.js";
import { buildRecordValue } from "../../src/dkim/record.js";
import { describeFailure, isPublicKeyText, redactSecrets } from "../../src/requests/redact.js";
import { findKeyMaterial } from "./support.js";

const keyPair = await generateKeyPair(1024);
const otherKey = await generateKeyPair(2048);

/** The base64 body of a PEM, on one line. */
function pemBody(pem: string): string {
  return pem
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("-----"))
    .join("");
}

/** The same private key as PKCS#8 (`BEGIN PRIVATE KEY`), body only. */
function pkcs8Body(pem: string): string {
  const pkcs8 = createPrivateKey(pem).export({ type: "pkcs8", format: "pem" }).toString();
  return pemBody(pkcs8);
}

describe("redactSecrets", () => {
  it("leaves the API's own sentences alone", () => {
    for (const text of [
      "ERROR: No such domain",
      "Supplied credential is invalid.",
      "no access to this API, current IP address '192.0.2.1'",
      "SpamExperts refused api_set_dkim_selector for mailer@very-long-subdomain-name.example.com",
    ]) {
      expect(redactSecrets(text)).toBe(text);
    }
  });

  it("removes a PEM, plain or URL-encoded, and long base64 runs", () => {
    const pem = keyPair.privateKeyPem;
    const cases = [
      `failed with ${pem}`,
      `GET /cgi-bin/api?certificate=${encodeURIComponent(pem)}&selector=s1`,
      `GET /cgi-bin/api?${new URLSearchParams({ certificate: pem }).toString()}`,
      `body: ${pem.split("\n").slice(1, -2).join("")}`,
    ];
    for (const text of cases) {
      const redacted = redactSecrets(text);
      expect(redacted).toContain("redacted");
      expect(findKeyMaterial(redacted, keyPair), text.slice(0, 40)).toBeUndefined();
      expect(redacted).not.toMatch(/PRIVATE(%20|\+| )KEY/);
    }
  });

  it("keeps fingerprints and public keys readable: they are not secrets", () => {
    const summary = `Published, but with a different key: ${keyPair.fingerprint} instead of ${otherKey.fingerprint}.`;
    expect(redactSecrets(summary)).toBe(summary);
    for (const key of [keyPair.publicKeyBase64, otherKey.publicKeyBase64]) {
      const record = buildRecordValue(key);
      expect(redactSecrets(`published: ${record}`)).toBe(`published: ${record}`);
      // Cut short, as a truncated record is, it is still a public key's beginning.
      expect(redactSecrets(`p=${key.slice(0, 120)}`)).toBe(`p=${key.slice(0, 120)}`);
      expect(isPublicKeyText(encodeURIComponent(key))).toBe(true);
    }
  });

  it("still redacts a private key body, whatever it is dressed as", () => {
    const bodies = [pemBody(keyPair.privateKeyPem), pkcs8Body(keyPair.privateKeyPem)];
    for (const body of bodies) {
      for (const text of [
        body,
        `p=${body}`,
        `SHA256:${body}`,
        `${keyPair.fingerprint}${body}`,
        `certificate=${encodeURIComponent(body)}`,
        `v=DKIM1; k=rsa; p=${body.slice(0, 300)}`,
      ]) {
        const redacted = redactSecrets(text);
        expect(redacted).toContain("[redacted]");
        expect(findKeyMaterial(redacted, keyPair), text.slice(0, 40)).toBeUndefined();
      }
      expect(isPublicKeyText(body)).toBe(false);
    }
    // Other secrets in base64 (a TSIG secret, an API key) are no public key either.
    expect(redactSecrets(`secret ${Buffer.alloc(32, 7).toString("base64")}`)).toBe(
      "secret [redacted]",
    );
  });

  it("keeps messages short", () => {
    expect(redactSecrets("word ".repeat(400))).toHaveLength(1000);
  });
});

describe("describeFailure", () => {
  it("gives an error's message, redacted, or its name when it has none", () => {
    expect(describeFailure(new Error("ERROR: no permissions"))).toBe("ERROR: no permissions");
    expect(describeFailure(new TypeError(""))).toBe("TypeError");
    expect(describeFailure(`key ${keyPair.privateKeyPem.trim()}`)).toBe(
      "key [key material redacted]",
    );
  });
});
