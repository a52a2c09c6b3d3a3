import { describe, expect, it } from "vitest";
import { setupChannelRefusal } from "../../../src/slack/listeners/start-request.js";
import { noticeModal } from "../../../src/slack/ui/notice-modal.js";
import {
  approverLookupFailedText,
  clickChannelNotAllowedText,
  outdatedFormText,
  requestChannelNotAllowedText,
  stillWorkingText,
} from "../../../src/slack/ui/refusal.js";

describe("sentences for hardened refusals", () => {
  it("names the groups whose lookup failed and the button to click again", () => {
    const service =
      "Could not check whether you are a member of <!subteam^SOPS> or <!subteam^SSEC>, which may approve DKIM requests. Try again in a moment.";
    expect(approverLookupFailedText(service, "Approve")).toBe(
      "Could not check your membership of <!subteam^SOPS> or <!subteam^SSEC> with Slack, so nothing was done. Click Approve again in a minute.",
    );
    expect(approverLookupFailedText("no groups named", "Retry")).toBe(
      "Could not check your membership of the approver user groups with Slack, so nothing was done. Click Retry again in a minute.",
    );
  });

  it("says what a slow action waits on", () => {
    expect(stillWorkingText("Slack")).toBe("Still working: waiting on Slack…");
    expect(stillWorkingText("SpamExperts")).toBe("Still working: waiting on SpamExperts…");
    expect(stillWorkingText("DNS")).toBe("Still working: waiting on DNS…");
    expect(stillWorkingText("key")).toBe("Still working: generating the key…");
  });

  it("names the allowed channels when a click or a request is outside them", () => {
    expect(clickChannelNotAllowedText(["CDKIMOPS", "CSECOND"])).toBe(
      "dkim-bot's buttons work only in <#CDKIMOPS> and <#CSECOND>, as `/dkim` does, so nothing was done.",
    );
    expect(requestChannelNotAllowedText("COLDCHAN", ["CDKIMOPS"])).toMatch(
      /^This request was made in <#COLDCHAN>, which is no longer one of the channels where dkim-bot works \(<#CDKIMOPS>\), so nothing was done\./,
    );
  });

  it("replaces an outdated form with a notice that can only be closed", () => {
    const view = noticeModal(outdatedFormText());
    expect(view).toMatchObject({ type: "modal", close: { text: "Close" } });
    expect(view.submit).toBeUndefined();
    expect(JSON.stringify(view.blocks)).toContain("This form is outdated");
  });
});

describe("setupChannelRefusal", () => {
  it.each([
    ["CDKIMOPS", undefined, undefined],
    ["GPRIVATE1", undefined, undefined],
    ["CDKIMOPS", ["CDKIMOPS"], undefined],
    ["COTHER", ["CDKIMOPS"], "/dkim works only in <#CDKIMOPS>."],
    ["D0123ABC", ["CDKIMOPS"], "/dkim works only in <#CDKIMOPS>."],
    ["D0123ABC", undefined, "this is a direct message"],
    ["UREQUESTER", undefined, "this is a person"],
    ["WENTERPRISE", undefined, "this is a person"],
    ["X1", undefined, "this is not a channel"],
  ])("%s with %j", (channel, allowed, expected) => {
    const refusal = setupChannelRefusal(channel, allowed);
    if (expected === undefined) expect(refusal).toBeUndefined();
    else expect(refusal).toContain(expected);
  });
});
