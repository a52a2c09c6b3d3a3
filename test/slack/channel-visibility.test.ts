/**
 * Who may see the requests of a channel, against the fake Slack Web API: public channels
 * everyone, private ones their members; answers kept a short while; what cannot be looked up
 * is hidden.
 */
import { webApi } from "@slack/bolt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CHANNEL_CACHE_MS, createChannelVisibility } from "../../src/slack/channel-visibility.js";
import { type FakeSlack, startFakeSlack } from "../helpers/fake-slack.js";

const TOKEN = "xoxb-visibility-test";

describe("createChannelVisibility", () => {
  let fake: FakeSlack;
  let client: webApi.WebClient;

  beforeAll(async () => {
    fake = await startFakeSlack({ acceptTokens: [TOKEN] });
    client = new webApi.WebClient(TOKEN, {
      slackApiUrl: fake.apiUrl,
      retryConfig: { retries: 0 },
      logLevel: webApi.LogLevel.ERROR,
    });
  });
  afterEach(() => fake.reset());
  afterAll(() => fake.close());

  it("shows a public channel to everyone, a private one to its members only", async () => {
    fake.setChannel("CPUBLIC", { isPrivate: false, members: ["UALICE"] });
    fake.setChannel("CPRIVATE", { isPrivate: true, members: ["UALICE"] });
    const visibility = createChannelVisibility(client);

    expect(await visibility.canSee("UALICE", "CPUBLIC")).toBe(true);
    expect(await visibility.canSee("UBOB", "CPUBLIC")).toBe(true);
    expect(await visibility.canSee("UALICE", "CPRIVATE")).toBe(true);
    expect(await visibility.canSee("UBOB", "CPRIVATE")).toBe(false);
    // Members are read only for the private channel.
    expect(fake.calls("conversations.members").map((call) => call.params.channel)).toEqual([
      "CPRIVATE",
    ]);
  });

  it("tells what every reader of a channel may see: that channel, and public ones", async () => {
    fake.setChannel("CPUBLIC", { isPrivate: false });
    fake.setChannel("CPRIVATE", { isPrivate: true, members: ["UALICE"] });
    fake.setChannel("COTHER", { isPrivate: true, members: ["UALICE"] });
    fake.setChannel("CGONE", { exists: false });
    const visibility = createChannelVisibility(client);
    expect(await visibility.readableByAllOf("CPRIVATE", "CPRIVATE")).toBe(true);
    expect(await visibility.readableByAllOf("CPRIVATE", "CPUBLIC")).toBe(true);
    expect(await visibility.readableByAllOf("CPUBLIC", "CPRIVATE")).toBe(false);
    expect(await visibility.readableByAllOf("CPRIVATE", "COTHER")).toBe(false);
    expect(await visibility.readableByAllOf("CPUBLIC", "CGONE")).toBe(false);
    // Who is in a channel does not matter here: members are never read.
    expect(fake.calls("conversations.members")).toEqual([]);
  });

  it("hides a channel it cannot look up (the bot was removed, or Slack fails)", async () => {
    fake.setChannel("CGONE", { exists: false });
    fake.setChannel("CFLAKY", { isPrivate: true, members: ["UALICE"] });
    const visibility = createChannelVisibility(client);
    expect(await visibility.canSee("UALICE", "CGONE")).toBe(false);

    fake.fail("conversations.members", "internal_error");
    expect(await visibility.canSee("UALICE", "CFLAKY")).toBe(false);
    // A failed look-up is not kept: the next one asks again.
    expect(await visibility.canSee("UALICE", "CFLAKY")).toBe(true);
  });

  it("reads every page of a large private channel's members", async () => {
    const members = Array.from({ length: 2500 }, (_, i) => `U${String(i).padStart(6, "0")}`);
    fake.setChannel("CBIG", { isPrivate: true, members });
    const visibility = createChannelVisibility(client);
    expect(await visibility.canSee("U002499", "CBIG")).toBe(true);
    expect(fake.calls("conversations.members")).toHaveLength(3);
  });

  it("keeps answers a short while, then asks again", async () => {
    let now = 1_000_000;
    fake.setChannel("CPRIVATE", { isPrivate: true, members: ["UALICE", "UBOB"] });
    const visibility = createChannelVisibility(client, { clock: () => now });

    const [first, second] = await Promise.all([
      visibility.canSee("UBOB", "CPRIVATE"),
      visibility.canSee("UALICE", "CPRIVATE"),
    ]);
    expect([first, second]).toEqual([true, true]);
    expect(fake.calls("conversations.info")).toHaveLength(1);
    expect(fake.calls("conversations.members")).toHaveLength(1);

    fake.setChannel("CPRIVATE", { members: ["UALICE"] });
    now += CHANNEL_CACHE_MS - 1;
    expect(await visibility.canSee("UBOB", "CPRIVATE")).toBe(true);
    now += 1;
    expect(await visibility.canSee("UBOB", "CPRIVATE")).toBe(false);
    expect(fake.calls("conversations.members")).toHaveLength(2);
  });
});
