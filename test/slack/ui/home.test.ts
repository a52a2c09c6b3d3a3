import type { Button, KnownBlock, SectionBlock } from "@slack/types";
import { describe, expect, it } from "vitest";
import type { DkimRequest } from "../../../src/requests/model.js";
import type { HomeOverview } from "../../../src/requests/service.js";
import {
  HOME_BLOCK_LIMIT,
  type HomeViewOptions,
  homeActionDoneNotice,
  homeView,
} from "../../../src/slack/ui/home.js";
import { ACTION_IDS, decodeActionValue } from "../../../src/slack/ui/ids.js";
import { sampleRequest } from "../../helpers/sample-request.js";

const NOW = new Date("2026-11-05T10:00:00.000Z");

function request(id: string, overrides: Partial<DkimRequest> = {}): DkimRequest {
  return sampleRequest({
    id,
    domain: `${id}.example`,
    messageTs: "1762165200.000100",
    createdAt: "2026-11-03T10:00:00.000Z",
    ...overrides,
  });
}

const live = {
  status: "live" as const,
  problemCode: null,
  summary: "Live and matches the key.",
  checkedAt: "2026-11-05T09:00:00.000Z",
};

function overview(overrides: Partial<HomeOverview> = {}): HomeOverview {
  return {
    approver: true,
    waiting: {
      items: [request("waiting", { requesterId: "U0ALICE", lastDnsCheck: live })],
      more: 2,
    },
    mine: { items: [request("mine", { requesterId: "U0ME" })], more: 0 },
    problems: {
      items: [
        request("broken", {
          state: "active",
          lastDnsCheck: { ...live, status: "missing", summary: "No TXT record is published." },
        }),
      ],
      more: 0,
    },
    rotationDue: {
      items: [request("old", { state: "active", activatedAt: "2026-03-01T10:00:00.000Z" })],
      more: 0,
    },
    counts: {
      active: 40,
      waitingForApproval: 3,
      waitingForDns: 2,
      applying: 0,
      failed: 1,
      retiring: 2,
      problems: 1,
      rotationDue: 1,
    },
    rotateAfterDays: 180,
    ...overrides,
  };
}

const options: HomeViewOptions = {
  userId: "U0ME",
  now: NOW,
  dryRun: false,
  approvers: ["U0BOB", "S0MAILADM"],
  permalink: (each) => `https://acme.slack.com/archives/${each.channelId}/p1762165200000100`,
};

function texts(blocks: KnownBlock[]): string {
  return JSON.stringify(blocks);
}

function sectionsWithButton(blocks: KnownBlock[], actionId: string): SectionBlock[] {
  return blocks.filter(
    (block): block is SectionBlock =>
      block.type === "section" && (block.accessory as Button | undefined)?.action_id === actionId,
  );
}

describe("App Home", () => {
  it("shows an approver what waits for them, their own requests, problems, old keys and the fleet", () => {
    const view = homeView(overview(), options);
    expect(view.type).toBe("home");
    const all = texts(view.blocks);
    for (const heading of [
      "*Waiting for your approval* · 3",
      "*Your open requests* · 1",
      "*Problems found by monitoring* · 1",
      "*Keys due for rotation (older than 180 days)* · 1",
      "*The fleet*",
    ]) {
      expect(all).toContain(heading);
    }
    expect(all).toContain("…and 2 more.");
    // Each item links to its card.
    expect(all).toContain(
      "<https://acme.slack.com/archives/C0CHANNEL/p1762165200000100|waiting.example>",
    );
    const [approve] = sectionsWithButton(view.blocks, ACTION_IDS.approve);
    const button = approve?.accessory as Button;
    expect(decodeActionValue(button.value)).toEqual({
      requestId: "waiting",
      fingerprint: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
    });
    expect(button.confirm).toBeDefined();
    expect(sectionsWithButton(view.blocks, ACTION_IDS.checkDns)).toHaveLength(2);
    expect(sectionsWithButton(view.blocks, ACTION_IDS.rotate)).toHaveLength(1);
    expect(all).toContain("*:white_check_mark: Keys signing*\\n40");
  });

  it("shows someone who is not an approver no approvals, and says who the approvers are", () => {
    const view = homeView(overview({ approver: false, waiting: undefined }), options);
    const all = texts(view.blocks);
    expect(all).not.toContain("Waiting for your approval");
    expect(all).toContain(
      "You are not an approver (approvers are <@U0BOB> or <!subteam^S0MAILADM>)",
    );
    expect(sectionsWithButton(view.blocks, ACTION_IDS.approve)).toEqual([]);
    expect(all).toContain("*Your open requests*");
  });

  it("says what an empty list means", () => {
    const empty = { items: [], more: 0 };
    const view = homeView(
      overview({ waiting: empty, mine: empty, problems: empty, rotationDue: undefined }),
      options,
    );
    const all = texts(view.blocks);
    expect(all).toContain("Nothing waits for your approval");
    expect(all).toContain("You have no open request.");
    expect(all).toContain("Every key that signs has its record live");
    expect(all).not.toContain("Keys due for rotation");
  });

  it("puts the answer to an action taken there on top", () => {
    const done = homeActionDoneNotice(
      "Approve",
      request("waiting", { state: "active" }),
      "https://acme.slack.com/archives/C0CHANNEL/p1762165200000100",
    );
    const view = homeView(overview(), { ...options, notice: done });
    expect(texts(view.blocks.slice(0, 4))).toContain("*Approve* for *waiting.example*: done.");
    expect(done.text).toContain(
      "<https://acme.slack.com/archives/C0CHANNEL/p1762165200000100|its card's thread>",
    );
  });

  it("stays within Slack's 100 blocks, whatever it is given, and says so when cut", () => {
    const many = (prefix: string) => ({
      items: Array.from({ length: 60 }, (_, index) => request(`${prefix}${index}`)),
      more: 500,
    });
    const view = homeView(
      overview({
        waiting: many("w"),
        mine: many("m"),
        problems: many("p"),
        rotationDue: many("r"),
      }),
      options,
    );
    expect(view.blocks).toHaveLength(HOME_BLOCK_LIMIT);
    expect(texts(view.blocks.slice(-1))).toContain("Home is cut short here");
  });

  it("escapes what people typed, so a domain cannot ping anyone", () => {
    const view = homeView(
      overview({ mine: { items: [request("x", { domain: "<!channel>.example" })], more: 0 } }),
      { ...options, permalink: () => undefined },
    );
    expect(texts(view.blocks)).not.toContain("<!channel>");
  });
});
