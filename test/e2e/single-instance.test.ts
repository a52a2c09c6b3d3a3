import { describe, expect, it } from "vitest";
import { useBot } from "./harness.js";

const harness = useBot();

describe("one bot per SQLite DATA_DIR", () => {
  it("refuses a second bot on the same DATA_DIR with one sentence, and the first goes on", async () => {
    const second = await harness.startFailingBot();
    expect(second.code).toBe(1);
    const said = second.lines.find((line) => line.startsWith("dkim-bot could not start:"));
    expect(said).toContain(`another dkim-bot is already running on DATA_DIR ${harness.dataDir}`);
    expect(said).toContain("DATABASE_URL");
    expect(second.lines.join("\n")).not.toMatch(/\n\s+at /);
    expect((await fetch(`${harness.bot.url}/healthz`)).status).toBe(200);
  });

  it("starts again on the DATA_DIR once the first was killed (no stale lock)", async () => {
    await harness.bot.kill();
    const restarted = await harness.startBot();
    expect((await fetch(`${restarted.url}/healthz`)).status).toBe(200);
  });
});
