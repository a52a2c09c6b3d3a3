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
      inventoryMinutes: 60,
      logLevel: "info",
      dnsPublish: undefined,
      batchMax: 100,
      applyConcurrency: 4,
      slackPaceMs: 1000,
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
      DKIM_BATCH_MAX: "250",
      DKIM_APPLY_CONCURRENCY: "8",
      DKIM_SLACK_PACE_MS: "50",
      DATA_DIR: "/var/lib/dkim-bot",
      DKIM_ENCRYPTION_KEY: key,
      LOG_LEVEL: "DEBUG",
      DKIM_INVENTORY_MINUTES: "0.5",
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
    expect(config.batchMax).toBe(250);
    expect(config.applyConcurrency).toBe(8);
    expect(config.slackPaceMs).toBe(50);
    expect(config.dataDir).toBe("/var/lib/dkim-bot");
    expect(config.encryptionKey?.bytes.equals(Buffer.alloc(32, 7))).toBe(true);
    expect(config.encryptionKey?.source).toBe("DKIM_ENCRYPTION_KEY");
    expect(config.logLevel).toBe("debug");
    expect(config.inventoryMinutes).toBe(0.5);
  });

  it("keeps the domain list for DKIM_INVENTORY_MINUTES, 0 to ask every time, a week at most", () => {
    expect(loadConfig({ ...minimal, DKIM_INVENTORY_MINUTES: "0" }).inventoryMinutes).toBe(0);
    expect(problemsOf({ ...minimal, DKIM_INVENTORY_MINUTES: "an hour" })).toEqual([
      'DKIM_INVENTORY_MINUTES must be a number from 0 to 10080 (decimals allowed), not "an hour".',
    ]);
    expect(problemsOf({ ...minimal, DKIM_INVENTORY_MINUTES: "10081" })).toHaveLength(1);
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

  it("refuses a batch size or an apply concurrency out of range, naming the range", () => {
    const problems = problemsOf({
      ...minimal,
      DKIM_BATCH_MAX: "0",
      DKIM_APPLY_CONCURRENCY: "four",
    });
    expect(problems).toEqual([
      'DKIM_BATCH_MAX must be a whole number from 1 to 1000, not "0".',
      'DKIM_APPLY_CONCURRENCY must be a whole number from 1 to 32, not "four".',
    ]);
    expect(
      problemsOf({ ...minimal, DKIM_BATCH_MAX: "1001", DKIM_APPLY_CONCURRENCY: "33" }),
    ).toHaveLength(2);
    expect(problemsOf({ ...minimal, DKIM_SLACK_PACE_MS: "0" })).toEqual([
      'DKIM_SLACK_PACE_MS must be a whole number from 1 to 60000, not "0".',
    ]);
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

describe("loadConfig: a key's life (monitoring, overlap, key age, alert channel)", () => {
  it("defaults to a check a day, a week of overlap, a reminder after 180 days, alerts in the key's channel", () => {
    const config = loadConfig(minimal);
    expect(config.monitorHours).toBe(24);
    expect(config.rotationOverlapDays).toBe(7);
    expect(config.rotateAfterDays).toBe(180);
    expect(config.alertChannel).toBeUndefined();
  });

  it("takes decimals, so that a test or a trial runs a key's whole life in seconds", () => {
    const config = loadConfig({
      ...minimal,
      DKIM_MONITOR_HOURS: "0.0003",
      DKIM_ROTATION_OVERLAP_DAYS: "0.00005",
      DKIM_ROTATE_AFTER_DAYS: "0.5",
      DKIM_ALERT_CHANNEL: " C0ALERTS ",
    });
    expect(config.monitorHours).toBe(0.0003);
    expect(config.rotationOverlapDays).toBe(0.00005);
    expect(config.rotateAfterDays).toBe(0.5);
    expect(config.alertChannel).toBe("C0ALERTS");
    expect(loadConfig({ ...minimal, DKIM_ALERT_CHANNEL: "G0PRIVATE" }).alertChannel).toBe(
      "G0PRIVATE",
    );
  });

  it("turns the key-age reminder off with 0, and allows no overlap", () => {
    const config = loadConfig({
      ...minimal,
      DKIM_ROTATE_AFTER_DAYS: "0",
      DKIM_ROTATION_OVERLAP_DAYS: "0",
    });
    expect(config.rotateAfterDays).toBe(0);
    expect(config.rotationOverlapDays).toBe(0);
  });

  it("refuses a bad value of each in one sentence naming the range, and a channel name for the alert channel", () => {
    expect(
      problemsOf({
        ...minimal,
        DKIM_MONITOR_HOURS: "0",
        DKIM_ROTATION_OVERLAP_DAYS: "a week",
        DKIM_ROTATE_AFTER_DAYS: "-1",
        DKIM_ALERT_CHANNEL: "#dkim-alerts",
      }),
    ).toEqual([
      'DKIM_MONITOR_HOURS must be a number from 0.0001 to 720 (decimals allowed), not "0".',
      'DKIM_ROTATION_OVERLAP_DAYS must be a number from 0 to 365 (decimals allowed), not "a week".',
      'DKIM_ROTATE_AFTER_DAYS must be a number from 0 to 3650 (decimals allowed), not "-1".',
      'DKIM_ALERT_CHANNEL: "#dkim-alerts" is not a channel ID (C... or G...). In Slack, open the channel details; the ID is at the bottom of the About tab. Invite the bot there.',
    ]);
    expect(
      problemsOf({
        ...minimal,
        DKIM_MONITOR_HOURS: "721",
        DKIM_ROTATION_OVERLAP_DAYS: "366",
        DKIM_ROTATE_AFTER_DAYS: "3651",
        DKIM_ALERT_CHANNEL: "U012ABCDEF",
      }),
    ).toHaveLength(4);
  });
});

describe("loadConfig: DNS publishing (DKIM_DNS_PUBLISH_*)", () => {
  const secret = Buffer.alloc(32, 9).toString("base64");
  const rfc2136 = {
    ...minimal,
    DKIM_DNS_PUBLISH_PROVIDER: "rfc2136",
    DKIM_DNS_PUBLISH_SERVER: "192.0.2.53",
    DKIM_DNS_PUBLISH_TSIG_NAME: "dkim-bot",
    DKIM_DNS_PUBLISH_TSIG_SECRET: secret,
    DKIM_DNS_PUBLISH_ZONES: "Example.COM., bücher.example",
  };
  const powerdns = {
    ...minimal,
    DKIM_DNS_PUBLISH_PROVIDER: "powerdns",
    DKIM_DNS_PUBLISH_URL: "https://pdns.example.net:8081",
    DKIM_DNS_PUBLISH_API_KEY: "the-api-key",
    DKIM_DNS_PUBLISH_ZONES: "example.com",
  };

  it("is off unless a provider is set", () => {
    expect(loadConfig({ ...minimal, DKIM_DNS_PUBLISH_ZONES: "example.com" }).dnsPublish).toBe(
      undefined,
    );
  });

  it("reads rfc2136 with its defaults: port 53, hmac-sha256, key name absolute, zones normalised", () => {
    expect(loadConfig(rfc2136).dnsPublish).toEqual({
      provider: "rfc2136",
      zones: ["example.com", "xn--bcher-kva.example"],
      server: { host: "192.0.2.53", port: 53 },
      tsig: { name: "dkim-bot.", algorithm: "hmac-sha256", secret: Buffer.alloc(32, 9) },
    });
  });

  it("reads a port, an IPv6 server and hmac-sha512", () => {
    const v4 = loadConfig({ ...rfc2136, DKIM_DNS_PUBLISH_SERVER: "192.0.2.53:5353" });
    expect(v4.dnsPublish).toMatchObject({ server: { host: "192.0.2.53", port: 5353 } });
    const v6 = loadConfig({
      ...rfc2136,
      DKIM_DNS_PUBLISH_SERVER: "[2001:db8::53]:5300",
      DKIM_DNS_PUBLISH_TSIG_ALGORITHM: "HMAC-SHA512",
    });
    expect(v6.dnsPublish).toMatchObject({
      server: { host: "2001:db8::53", port: 5300 },
      tsig: { algorithm: "hmac-sha512" },
    });
  });

  it("reads powerdns with the default server id", () => {
    expect(loadConfig(powerdns).dnsPublish).toEqual({
      provider: "powerdns",
      zones: ["example.com"],
      url: "https://pdns.example.net:8081",
      apiKey: "the-api-key",
      serverId: "localhost",
    });
  });

  it("reports every rfc2136 problem at once, without repeating the secret", () => {
    const problems = problemsOf({
      ...minimal,
      DKIM_DNS_PUBLISH_PROVIDER: "rfc2136",
      DKIM_DNS_PUBLISH_SERVER: "ns1.example.com",
      DKIM_DNS_PUBLISH_TSIG_NAME: "bad key!",
      DKIM_DNS_PUBLISH_TSIG_ALGORITHM: "hmac-md5",
      DKIM_DNS_PUBLISH_TSIG_SECRET: "not*base64*at*all",
      DKIM_DNS_PUBLISH_ZONES: "example.com, -bad-.example",
    });
    expect(problems).toHaveLength(5);
    expect(problems.join("\n")).not.toContain("not*base64");
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^DKIM_DNS_PUBLISH_ZONES: zone "-bad-.example".*hyphen/),
        expect.stringMatching(/^DKIM_DNS_PUBLISH_SERVER: .*host names are not accepted/),
        expect.stringMatching(/^DKIM_DNS_PUBLISH_TSIG_NAME "bad key!" is not a key name/),
        expect.stringMatching(
          /^DKIM_DNS_PUBLISH_TSIG_ALGORITHM must be hmac-sha256 or hmac-sha512/,
        ),
        expect.stringMatching(/^DKIM_DNS_PUBLISH_TSIG_SECRET is not base64/),
      ]),
    );
  });

  it("names what rfc2136 is missing, and refuses a short secret", () => {
    const missing = problemsOf({ ...minimal, DKIM_DNS_PUBLISH_PROVIDER: "rfc2136" });
    expect(missing.map((problem) => problem.split(" ")[0])).toEqual([
      "DKIM_DNS_PUBLISH_ZONES",
      "DKIM_DNS_PUBLISH_SERVER",
      "DKIM_DNS_PUBLISH_TSIG_NAME",
      "DKIM_DNS_PUBLISH_TSIG_SECRET",
    ]);
    const short = problemsOf({
      ...rfc2136,
      DKIM_DNS_PUBLISH_TSIG_SECRET: Buffer.alloc(8).toString("base64"),
    });
    expect(short).toEqual([expect.stringMatching(/only 8 bytes long/)]);
  });

  it("reports powerdns problems: missing key, unsafe URL, bad server id; never the key", () => {
    const problems = problemsOf({
      ...powerdns,
      DKIM_DNS_PUBLISH_URL: "http://pdns.example.net:8081",
      DKIM_DNS_PUBLISH_API_KEY: "",
      DKIM_DNS_PUBLISH_SERVER_ID: "a/b",
    });
    expect(problems).toEqual([
      expect.stringMatching(/^DKIM_DNS_PUBLISH_URL must use https: .*API key.*loopback/),
      expect.stringMatching(/^DKIM_DNS_PUBLISH_API_KEY is missing/),
      expect.stringMatching(/^DKIM_DNS_PUBLISH_SERVER_ID must be a PowerDNS server id/),
    ]);
    const withCredentials = problemsOf({
      ...powerdns,
      DKIM_DNS_PUBLISH_URL: "https://admin:hunter2@pdns.example.net",
    });
    expect(withCredentials).toEqual([expect.stringMatching(/must not contain credentials/)]);
    expect(withCredentials.join("")).not.toContain("hunter2");
    expect(
      loadConfig({ ...powerdns, DKIM_DNS_PUBLISH_URL: "http://127.0.0.1:8081/api/v1" }).dnsPublish,
    ).toMatchObject({ url: "http://127.0.0.1:8081/api/v1" });
  });

  it("refuses an unknown provider", () => {
    expect(problemsOf({ ...minimal, DKIM_DNS_PUBLISH_PROVIDER: "route53" })).toEqual([
      expect.stringMatching(
        /^DKIM_DNS_PUBLISH_PROVIDER must be rfc2136 or powerdns .*not "route53"/,
      ),
    ]);
  });
});
