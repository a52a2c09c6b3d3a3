/**
 * Without SPAMEXPERTS_URL the bot runs as a dry run: the same flow, the request message marked
 * DRY RUN, and the thread showing the calls it would have made, the certificate redacted.
 * The fake SpamExperts is still running, so a call that should not happen would be seen.
 */
import { describe, expect, it } from "vitest";
import { ACTION_IDS } from "../../src/slack/ui/ids.js";
import { clickApprove, publish, replyTexts, setUp, waitForReply, waitForState } from "./flows.js";
import { useBot } from "./harness.js";
import { buttonValue, hasActiveButtonsOnly, textsOf } from "./support.js";

const harness = useBot({ SPAMEXPERTS_URL: "" });

describe("dry run (no SPAMEXPERTS_URL)", () => {
  it("says so on /healthz and in the running line", async () => {
    const response = await fetch(`${harness.bot.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok", dryRun: true });
    expect(
      harness.bot.lines.some((line) => /"msg":"dkim-bot is running".*"dryRun":true/.test(line)),
    ).toBe(true);
  });

  it("runs the whole flow, shows the calls it would make with the key redacted, and calls nothing", async () => {
    const { slack, spamExperts } = harness;
    const domain = "dry-run.example";
    const request = await setUp(harness, domain, "s1", { extra: `user=mailer@${domain}` });
    expect(textsOf(request.posted.blocks).join("\n")).toContain("DRY RUN");
    const fingerprint = buttonValue(request.posted, ACTION_IDS.approve).split("|")[1] ?? "";
    expect(fingerprint).toMatch(/^SHA256:/);

    publish(harness, request);
    await clickApprove(harness, request);
    const final = await waitForState(harness, request, "Active");
    expect(hasActiveButtonsOnly(final)).toBe(true);
    expect(textsOf(final.blocks).join("\n")).toContain("DRY RUN");
    await waitForReply(harness, request, /\*Active\*/);

    const thread = replyTexts(harness, request);
    // The apply's one reply lists the calls it would have made, the certificate described.
    const calls = thread.find((text) => text.includes("DRY RUN: nothing is changed."));
    expect(calls).toContain("Would have called:");
    expect(calls).toContain(
      `api_set_dkim_certificate(domain=${domain}, certificate=[redacted: 1024-bit RSA private key, ${fingerprint}], selector=s1)`,
    );
    expect(calls).toContain(
      `api_set_dkim_selector(domain=${domain}, selector=s1, username=mailer@${domain})`,
    );
    const active = thread.find((text) => /\*Active\*/.test(text));
    expect(active).toMatch(/DRY RUN/);
    expect(active).toContain("the key would now be installed");
    // Nothing anywhere claims that SpamExperts signs anything.
    const said = [...thread, ...textsOf(final.blocks)].join("\n");
    expect(said).not.toMatch(/SpamExperts signs/);
    expect(thread.some((text) => /\*Failed\*/.test(text))).toBe(false);

    expect(spamExperts.requests).toEqual([]);
    const everything = [...slack.calls().map((call) => call.rawBody), ...harness.allLines].join(
      "\n",
    );
    expect(everything).not.toContain("PRIVATE KEY");
    expect(everything).not.toContain("PRIVATE%20KEY");
  });
});
