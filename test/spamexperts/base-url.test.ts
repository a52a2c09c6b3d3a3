import { describe, expect, it } from "vitest";
import { assertSafeBaseUrl, createSpamExpertsClient } from "../../src/spamexperts/client.js";

function refusal(url: string): { code: unknown; message: string } {
  try {
    assertSafeBaseUrl(url);
  } catch (error) {
    return error as { code: unknown; message: string };
  }
  throw new Error(`expected ${url} to be refused`);
}

describe("assertSafeBaseUrl", () => {
  it.each([
    "https://spamexperts.example.com",
    "https://spamexperts.example.com/",
    "https://spamexperts.example.com:8443/prefix/",
    "http://localhost:8080",
    "http://127.0.0.1:3000",
    "http://127.10.20.30/",
    "http://[::1]:8080/",
    "http://[0:0:0:0:0:0:0:1]/",
    "http://[::ffff:127.0.0.1]/",
    "HTTPS://SpamExperts.Example.COM",
  ])("accepts %s", (url) => {
    expect(assertSafeBaseUrl(url)).toBeInstanceOf(URL);
  });

  it.each([
    ["spamexperts.example.com", /not an absolute URL/],
    ["", /not an absolute URL/],
    ["ftp://spamexperts.example.com", /must start with https:\/\//],
    ["http://spamexperts.example.com", /must use https/],
    ["http://128.0.0.1", /must use https/],
    ["http://localhost.example.com", /must use https/],
    ["http://[::2]/", /must use https/],
    ["https://user:hunter2@spamexperts.example.com", /must not contain credentials/],
    ["https://user@spamexperts.example.com", /must not contain credentials/],
    ["https://spamexperts.example.com/?call=x", /must not contain a query/],
    ["https://spamexperts.example.com/?", /must not contain a query/],
    ["https://spamexperts.example.com/#top", /must not contain a query/],
  ])("refuses %j", (url, reason) => {
    const error = refusal(url);
    expect(error.code).toBe("CONFIG_INVALID");
    expect(error.message).toMatch(reason);
    expect(error.message).toMatch(/^SPAMEXPERTS_URL .*\.$/);
  });

  it("never repeats a password from the URL in its message", () => {
    expect(refusal("https://user:hunter2@spamexperts.example.com").message).not.toContain(
      "hunter2",
    );
    expect(refusal("not a url hunter2").message).not.toContain("hunter2");
  });

  it("is applied by the client too", () => {
    expect(() =>
      createSpamExpertsClient({ baseUrl: "http://example.com", username: "u", password: "p" }),
    ).toThrow(/must use https/);
  });
});
