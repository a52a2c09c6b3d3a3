import { describe, expect, it } from "vitest";
import { generateKeyPair } from "../../src/dkim/keys.js";
import { describeFailure, redactSecrets } from "../../src/requests/redact.js";
import { findKeyMaterial } from "./support.js";

const keyPair = await generateKeyPair(1024);

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
