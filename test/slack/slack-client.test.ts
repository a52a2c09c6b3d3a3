/**
 * The group lookup behind every Approve, Reject and Retry by a group member, against the fake
 * Slack Web API: asked at each click (no cache), and bounded, so a failing or slow Slack gives
 * a quick "could not check" rather than a click that hangs for a minute.
 */
import { webApi } from "@slack/bolt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createGroupMembership, LOOKUP_TIMEOUT_MS } from "../../src/slack/slack-client.js";
import { type FakeSlack, startFakeSlack } from "../helpers/fake-slack.js";

const TOKEN = "xoxb-membership-test";

describe("createGroupMembership", () => {
  let fake: FakeSlack;
  let isMember: (userId: string, groupId: string) => Promise<boolean>;

  beforeAll(async () => {
    fake = await startFakeSlack({ acceptTokens: [TOKEN] });
    // The bot's ordinary client: retries for half an hour. The lookup must not inherit that.
    const client = new webApi.WebClient(TOKEN, {
      slackApiUrl: fake.apiUrl,
      logLevel: webApi.LogLevel.ERROR,
    });
    isMember = createGroupMembership(client);
  });
  afterEach(() => fake.reset());
  afterAll(() => fake.close());

  it("asks Slack at each call, so a member removed from the group is refused at once", async () => {
    fake.setUsergroup("SOPS", ["UALICE", "UBOB"]);
    expect(await isMember("UALICE", "SOPS")).toBe(true);
    expect(await isMember("UCAROL", "SOPS")).toBe(false);

    fake.setUsergroup("SOPS", ["UBOB"]);
    expect(await isMember("UALICE", "SOPS")).toBe(false);
    expect(fake.calls("usergroups.users.list").map((call) => call.params.usergroup)).toEqual([
      "SOPS",
      "SOPS",
      "SOPS",
    ]);
    // With the bot's token, through the URL it was given.
    expect(fake.calls("usergroups.users.list").every((call) => call.token === TOKEN)).toBe(true);
  });

  it("gives up after one retry when Slack keeps answering 500", async () => {
    fake.setUsergroup("SOPS", ["UALICE"]);
    fake.fail("usergroups.users.list", { kind: "http", status: 500 }, 100);
    await expect(isMember("UALICE", "SOPS")).rejects.toMatchObject({
      code: "slack_webapi_http_error",
      statusCode: 500,
    });
    expect(fake.calls("usergroups.users.list")).toHaveLength(2);
  });

  it("does not wait out a rate limit: the click is refused and can be made again", async () => {
    fake.setUsergroup("SOPS", ["UALICE"]);
    fake.rateLimit("usergroups.users.list", 30);
    await expect(isMember("UALICE", "SOPS")).rejects.toMatchObject({
      code: "slack_webapi_rate_limited_error",
    });
    expect(fake.calls("usergroups.users.list")).toHaveLength(1);
    expect(await isMember("UALICE", "SOPS")).toBe(true);
  });

  it("reports an unknown group as a failed lookup, not as 'not a member'", async () => {
    await expect(isMember("UALICE", "SNOSUCHGROUP")).rejects.toMatchObject({
      data: { error: "no_such_subteam" },
    });
  });

  it("gives up on a Slack that does not answer, after two attempts", async () => {
    fake.setUsergroup("SOPS", ["UALICE"]);
    fake.delay("usergroups.users.list", LOOKUP_TIMEOUT_MS * 2, 2);
    await expect(isMember("UALICE", "SOPS")).rejects.toMatchObject({
      code: "slack_webapi_request_error",
    });
    // The fake records a slow call once it has answered it, to nobody.
    const calls = await fake.waitForCalls("usergroups.users.list", 2, () => true, 20_000);
    expect(calls.map((call) => call.fault?.kind)).toEqual(["slow", "slow"]);
  });
});
