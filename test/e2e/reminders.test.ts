/** Key-age reminders end to end: told once, with a Rotate button that starts a rotation. */
import { describe, expect, it } from "vitest";
import { ACTION_IDS } from "../../src/slack/ui/ids.js";
import {
  clickApprove,
  clickButton,
  eventually,
  publish,
  replies,
  replyTexts,
  requestMessagesFor,
  setUp,
  waitForActive,
  waitForReply,
} from "./flows.js";
import { APPROVER, CHANNEL, useBot } from "./harness.js";
import { buttonsOf, textsOf } from "./support.js";

// A key is "old" after about two seconds; monitoring and reminders run about every second.
const harness = useBot({
  DKIM_MONITOR_HOURS: "0.0003",
  DKIM_ROTATE_AFTER_DAYS: "0.00002",
});

describe("key-age reminders", () => {
  it("reminds once with the approvers mentioned, and its Rotate button starts a rotation", async () => {
    const key = await setUp(harness, "old-key.example", "s1");
    publish(harness, key);
    await clickApprove(harness, key);
    await waitForActive(harness, key);

    const reminder = await waitForReply(harness, key, /Time to rotate/, 30_000);
    expect(reminder.text).toContain(`<@${APPROVER}>`);
    expect(buttonsOf(reminder.blocks).map((button) => button.action_id)).toEqual([
      ACTION_IDS.rotate,
    ]);
    // Not again at the next cycles (only every 30 days while it stays).
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(replyTexts(harness, key).filter((text) => /Time to rotate/.test(text))).toHaveLength(1);

    await clickButton(harness, reminder, ACTION_IDS.rotate, { userId: APPROVER });
    const rotation = await harness.slack.waitUntil(
      () => requestMessagesFor(harness, CHANNEL, "old-key.example")[1],
      "the rotation's card",
    );
    expect(textsOf(rotation.blocks).join("\n")).toContain("replaces selector `s1`");
    // The reminder's button no longer applies once a rotation started: it is taken away.
    await eventually(
      () => replies(harness, key).every((reply) => buttonsOf(reply.blocks).length === 0),
      "no Rotate left in the old key's thread",
    );
    await waitForReply(harness, key, /Rotation started/);
  });
});
