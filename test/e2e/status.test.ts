/** `/dkim status` with its filters: open, active, failed, a domain; the most relevant first. */
import { describe, expect, it } from "vitest";
import { faults } from "../helpers/fake-spamexperts.js";
import {
  CERTIFICATE,
  clickApprove,
  commandAnswer,
  publish,
  setUp,
  waitForActive,
  waitForState,
} from "./flows.js";
import { useBot } from "./harness.js";
import { statusLinesIn } from "./support.js";

const harness = useBot();

describe("/dkim status", () => {
  it("filters by state and by domain, open ones first, and says how to see more", async () => {
    const pending = await setUp(harness, "st-pending.example", "s1");
    const active = await setUp(harness, "st-active.example", "s1");
    publish(harness, active);
    await clickApprove(harness, active);
    await waitForActive(harness, active);
    const failed = await setUp(harness, "st-failed.example", "s1");
    publish(harness, failed);
    harness.spamExperts.failNext(CERTIFICATE, faults.apiError("No such domain"));
    await clickApprove(harness, failed);
    await waitForState(harness, failed, "Failed");

    const all = await commandAnswer(harness, "status");
    // Open ones (pending, failed) come before the active one, which is newer than the first.
    const order = ["st-pending", "st-failed", "st-active"].map((name) => all.text.indexOf(name));
    expect(order.every((index) => index >= 0)).toBe(true);
    expect(order[2]).toBeGreaterThan(Math.max(order[0] ?? 0, order[1] ?? 0));

    const open = await commandAnswer(harness, "status open");
    expect(open.text).toContain("st-pending.example");
    expect(open.text).toContain("st-failed.example");
    expect(open.text).not.toContain("st-active.example");

    const onlyFailed = await commandAnswer(harness, "status failed");
    expect(statusLinesIn(onlyFailed.text, "st-failed.example")).toHaveLength(1);
    expect(onlyFailed.text).not.toContain("st-pending.example");

    const onlyActive = await commandAnswer(harness, "status active");
    expect(onlyActive.text).toContain("st-active.example");
    expect(onlyActive.text).not.toContain("st-failed.example");

    const domain = await commandAnswer(harness, `status ${pending.domain}`);
    expect(statusLinesIn(domain.text, pending.domain)).toHaveLength(1);
    // Links are built from the workspace's URL: no chat.getPermalink call per request.
    expect(harness.slack.calls("chat.getPermalink")).toEqual([]);
    expect(all.text).toContain("https://");
  });
});
