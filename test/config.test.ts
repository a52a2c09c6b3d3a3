import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

const minimal = {
  SLACK_BOT_TOKEN: "xoxb-1-2-abc",
  SLACK_SIGNING_SECRET: "secret",
  DKIM_APPROVERS: "U012ABCDEF,S0GROUP1",
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("applies the documented defaults", () => {
    const config = loadConfig(minimal);
    expect(config).toMatchObject({
      slack: { port: 3000, apiUrl: "https://slack.com/api/", appToken: undefined },
      spamExperts: undefined,
      approvers: ["U012ABCDEF", "S0GROUP1"],
      allowSelfApproval: false,
      requireDns: true,
      dnsServers: undefined,
      defaultBits: 2048,
      allowedChannels: undefined,
      dnsPollSeconds: 300,
      requestTtlDays: 14,
      dataDir: "./data",
      encryptionKey: undefined,
      logLevel: "info",
    });
  });

  it("reads every variable", () => {
    const key = Buffer.alloc(32, 7).toString("base64");
    const config = loadConfig({
      ...minimal,
      PORT: "8080",
      SLACK_API_URL: "http://127.0.0.1:9999/api",
      SPAMEXPERTS_URL: "https://spam.example.net",
      SPAMEXPERTS_USERNAME: "apiuser",
      SPAMEXPERTS_PASSWORD: " pass word ",
      SPAMEXPERTS_TIMEOUT_MS: "2000",
      DKIM_ALLOW_SELF_APPROVAL: "yes",
      DKIM_REQUIRE_DNS: "false",
      DKIM_DNS_SERVERS: "127.0.0.1:5353, 192.0.2.1",
      DKIM_DEFAULT_BITS: "4096",
      DKIM_ALLOWED_CHANNELS: "C0123ABC,G0456DEF",
      DKIM_DNS_POLL_SECONDS: "60",
      DKIM_REQUEST_TTL_DAYS: "3",
      DATA_DIR: "/var/lib/dkim-bot",
      DKIM_ENCRYPTION_KEY: key,
      LOG_LEVEL: "DEBUG",
    });
    expect(config.slack.port).toBe(8080);
    expect(config.slack.apiUrl).toBe("http://127.0.0.1:9999/api/");
    expect(config.spamExperts).toEqual({
      url: "https://spam.example.net",
      username: "apiuser",
      password: " pass word ",
      timeoutMs: 2000,
    });
    expect(config.allowSelfApproval).toBe(true);
    expect(config.requireDns).toBe(false);
    expect(config.dnsServers).toHaveLength(2);
    expect(config.defaultBits).toBe(4096);
    expect(config.allowedChannels).toEqual(["C0123ABC", "G0456DEF"]);
    expect(config.dnsPollSeconds).toBe(60);
    expect(config.requestTtlDays).toBe(3);
    expect(config.dataDir).toBe("/var/lib/dkim-bot");
    expect(config.encryptionKey?.bytes.equals(Buffer.alloc(32, 7))).toBe(true);
    expect(config.encryptionKey?.source).toBe("DKIM_ENCRYPTION_KEY");
    expect(config.logLevel).toBe("debug");
  });

  it("does not need a signing secret in Socket Mode", () => {
    const config = loadConfig({
      SLACK_BOT_TOKEN: "xoxb-1",
      SLACK_APP_TOKEN: "xapp-1",
      DKIM_APPROVERS: "U1234",
    });
    expect(config.slack.appToken).toBe("xapp-1");
    expect(config.slack.signingSecret).toBeUndefined();
  });

  it("reports every problem at once, each naming the variable and the fix", () => {
    const problems = problemsOf({
      SLACK_BOT_TOKEN: "xoxp-user-token",
      PORT: "http",
      DKIM_APPROVERS: "alice",
      DKIM_DEFAULT_BITS: "3072",
      DKIM_REQUIRE_DNS: "maybe",
      DKIM_ENCRYPTION_KEY: "too-short",
      DKIM_ALLOWED_CHANNELS: "general",
      LOG_LEVEL: "loud",
      SPAMEXPERTS_URL: "http://spam.example.net",
    });
    const text = problems.join("\n");
    for (const name of [
      "SLACK_BOT_TOKEN",
      "SLACK_SIGNING_SECRET",
      "PORT",
      "DKIM_APPROVERS",
      "DKIM_DEFAULT_BITS",
      "DKIM_REQUIRE_DNS",
      "DKIM_ENCRYPTION_KEY",
      "DKIM_ALLOWED_CHANNELS",
      "LOG_LEVEL",
      "SPAMEXPERTS_URL",
      "SPAMEXPERTS_USERNAME",
      "SPAMEXPERTS_PASSWORD",
    ]) {
      expect(text).toContain(name);
    }
    expect(problems).toHaveLength(12);
  });

  it("says how to create the Slack app and where each token comes from", () => {
    try {
      loadConfig({});
      expect.unreachable();
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toMatch(/^dkim-bot cannot start: 3 settings need fixing\./);
      expect(message).toContain("manifest.yml");
      expect(message).toContain("Bot User OAuth Token");
      expect(message).toContain("Signing Secret");
      expect(message).not.toMatch(/\n\s+at /); // no stack trace in the text
    }
  });

  it("allows plain http for SpamExperts only on loopback", () => {
    const config = loadConfig({
      ...minimal,
      SPAMEXPERTS_URL: "http://127.0.0.1:8081",
      SPAMEXPERTS_USERNAME: "u",
      SPAMEXPERTS_PASSWORD: "p",
    });
    expect(config.spamExperts?.url).toBe("http://127.0.0.1:8081");
    expect(
      problemsOf({
        ...minimal,
        SPAMEXPERTS_URL: "http://10.1.2.3",
        SPAMEXPERTS_USERNAME: "u",
        SPAMEXPERTS_PASSWORD: "p",
      }),
    ).toHaveLength(1);
  });
});
