/** What stops the bot at start, each with one sentence saying what to fix and no stack trace. */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DIALECTS, POSTGRES_URL } from "../helpers/test-stores.js";
import { type Harness, startHarness } from "./harness.js";

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => {
  await harness.close();
});

async function refusal(env: Record<string, string>): Promise<string> {
  const result = await harness.startFailingBot(env);
  expect(result.code).toBe(1);
  const output = result.lines.join("\n");
  expect(output).not.toMatch(/\n\s+at /);
  expect(output).not.toContain("dkim-bot is running");
  return output;
}

describe("start-up refusals", () => {
  for (const error of ["invalid_auth", "token_revoked", "account_inactive", "not_authed"]) {
    it(`a bot token Slack refuses (${error})`, async () => {
      harness.slack.fail("auth.test", { kind: "error", error });
      const output = await refusal({});
      expect(output).toMatch(new RegExp(`dkim-bot could not start: .*\\(${error}\\)`));
      expect(output).toContain("SLACK_BOT_TOKEN");
    });
  }

  it("DATABASE_URL without DKIM_ENCRYPTION_KEY", async () => {
    const output = await refusal({ DATABASE_URL: "postgres://dkim:x@127.0.0.1:5432/dkim" });
    expect(output).toContain("DKIM_ENCRYPTION_KEY is required with DATABASE_URL");
  });

  it("DATABASE_URL that is not a PostgreSQL URL", async () => {
    const output = await refusal({
      DATABASE_URL: "mysql://db/dkim",
      DKIM_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
    });
    expect(output).toContain("DATABASE_URL must be a PostgreSQL URL");
  });

  it.skipIf(!DIALECTS.includes("postgres"))("a wrong database password", async () => {
    const url = new URL(POSTGRES_URL ?? "");
    url.password = "not-the-password";
    const output = await refusal({
      DATABASE_URL: url.toString(),
      DKIM_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
    });
    expect(output).toContain("refused the password of DATABASE_URL's user");
    expect(output).not.toContain("not-the-password");
  });

  it("a database server that is not there", async () => {
    const output = await refusal({
      DATABASE_URL: "postgres://dkim:secret-pw@127.0.0.1:1/dkim",
      DKIM_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
    });
    expect(output).toContain("nothing answers at dkim on 127.0.0.1:1");
    expect(output).not.toContain("secret-pw");
  });
});
