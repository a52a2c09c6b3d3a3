/**
 * The notifier against the fake Slack Web API (a real local HTTP server): which replies an
 * event stream makes, which are edited, and which buttons are left. The events are written
 * here as the request service emits them (its own tests prove that it does).
 */
import { webApi } from "@slack/bolt";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { generateKeyPair } from "../../src/dkim/keys.js";
import { buildRecordValue } from "../../src/dkim/record.js";
import { createLogger } from "../../src/logger.js";
import type {
  AuditDetails,
  AuditEvent,
  AuditEventKind,
  DkimRequest,
} from "../../src/requests/model.js";
import { createThreadNotifier, type ThreadNotifier } from "../../src/slack/thread-notifier.js";
import {
  createMemoryThreadReplyStore,
  type ThreadReplyStore,
} from "../../src/slack/thread-replies.js";
import { ACTION_IDS } from "../../src/slack/ui/ids.js";
import { type FakeSlack, type StoredMessage, startFakeSlack } from "../helpers/fake-slack.js";
import { sampleRequest } from "../helpers/sample-request.js";

const CHANNEL = "C0OPS";

let slack: FakeSlack;
let client: InstanceType<typeof webApi.WebClient>;
let publicKeyBase64: string;
let fingerprint: string;

beforeAll(async () => {
  slack = await startFakeSlack();
  client = new webApi.WebClient("xoxb-test", {
    slackApiUrl: slack.apiUrl,
    retryConfig: { retries: 0 },
  });
  ({ publicKeyBase64, fingerprint } = await generateKeyPair(2048));
});
afterAll(async () => {
  await slack.close();
});
beforeEach(() => {
  slack.reset();
});

/** One request's life, told to a notifier event by event, as the service would. */
class Story {
  request: DkimRequest;
  readonly delivered: number[] = [];
  private nextId = 1;

  constructor(
    overrides: Partial<DkimRequest>,
    readonly notifier: (markDelivered: (id: number) => Promise<void>) => ThreadNotifier,
  ) {
    this.request = sampleRequest({
      id: `r${Math.random().toString(36).slice(2, 10)}`,
      channelId: CHANNEL,
      messageTs: null,
      publicKeyBase64,
      fingerprint,
      recordValue: buildRecordValue(publicKeyBase64),
      ...overrides,
    });
  }

  private current: ThreadNotifier | undefined;

  get bot(): ThreadNotifier {
    this.current ??= this.notifier(async (id) => {
      this.delivered.push(id);
    });
    return this.current;
  }

  /** A new process: a fresh notifier (with whatever reply store the story was given). */
  restart(): void {
    this.current = undefined;
  }

  async post(): Promise<void> {
    const posted = await client.chat.postMessage({ channel: CHANNEL, text: "the card" });
    this.request = { ...this.request, messageTs: String(posted.ts) };
    this.bot.cardPosted(this.request);
  }

  emit(kind: AuditEventKind, changes: Partial<DkimRequest> = {}, details: AuditDetails = {}) {
    this.request = { ...this.request, ...changes };
    const actor = ["approved", "retried", "rejected"].includes(kind) ? "U0BOB" : "system";
    const event: AuditEvent = {
      id: this.nextId++,
      requestId: this.request.id,
      at: new Date().toISOString(),
      actorId: kind === "created" ? this.request.requesterId : actor,
      kind,
      details,
    };
    this.bot.onEvent(event, this.request);
    return event;
  }

  replies(): StoredMessage[] {
    return this.request.messageTs === null
      ? []
      : slack.threadReplies(CHANNEL, this.request.messageTs);
  }

  texts(): string[] {
    return this.replies().map((reply) => reply.text ?? "");
  }

  card(): StoredMessage | undefined {
    return this.request.messageTs === null
      ? undefined
      : slack.message(CHANNEL, this.request.messageTs);
  }
}

const logger = createLogger({ level: "error", write: () => {} });

function notifierWith(replies?: ThreadReplyStore, dryRun = false) {
  return (markDelivered: (id: number) => Promise<void>) =>
    createThreadNotifier({
      client,
      dryRun,
      logger,
      markDelivered,
      approvers: ["U0BOB", "S0MAILADM"],
      ...(replies === undefined ? {} : { replies }),
    });
}

function buttonIds(message: StoredMessage): string[] {
  return (
    JSON.stringify(message.blocks ?? [])
      .match(/"action_id":"[^"]+"/g)
      ?.map((match) => match.slice('"action_id":"'.length, -1)) ?? []
  );
}

const live = {
  status: "live" as const,
  problemCode: null,
  summary: "Live and matches the key.",
  checkedAt: "2026-11-03T10:50:00.000Z",
};
const missing = {
  status: "missing" as const,
  problemCode: "missing",
  summary: "No DKIM record is published yet.",
  checkedAt: "2026-11-03T10:45:00.000Z",
};

/** Up to the approval: the card, a first DNS check before publishing, then the record live. */
async function toApproved(story: Story): Promise<void> {
  story.emit("created");
  await story.post();
  story.emit(
    "dns-problem",
    { lastDnsCheck: missing },
    { status: "missing", summary: missing.summary },
  );
  story.emit("dns-live", { lastDnsCheck: live }, { status: "live", summary: live.summary });
  story.emit("approved", { state: "applying", decidedBy: "U0BOB" });
}

function steps(story: Story, users: readonly string[]): void {
  story.emit("certificate-installed", {
    progress: { certificateInstalled: true, enabledUsernames: [] },
  });
  const done: string[] = [];
  for (const user of users) {
    done.push(user);
    story.emit(
      "selector-enabled",
      { progress: { certificateInstalled: true, enabledUsernames: [...done] } },
      { username: user, call: "api_set_dkim_selector", text: "" },
    );
  }
}

describe("the thread of a request", () => {
  it("tells a happy path with one outgoing user in 4 replies, and delivers every event", async () => {
    const story = new Story({ usernames: ["mailer@example.com"] }, notifierWith());
    await toApproved(story);
    steps(story, ["mailer@example.com"]);
    story.emit("active", { state: "active" });
    await story.bot.idle();

    const texts = story.texts();
    expect(texts).toHaveLength(4);
    expect(texts[0]).toMatch(/Split form/);
    expect(texts[1]).toMatch(/^:white_check_mark: \*DNS record is live\* and matches the key/);
    expect(texts[2]).toBe(
      [
        ":+1: *Approved* by <@U0BOB>",
        ":heavy_check_mark: Certificate installed",
        ":heavy_check_mark: Signing enabled for `mailer@example.com`",
      ].join("\n"),
    );
    expect(texts[3]).toMatch(/^:white_check_mark: \*Active\*/);
    expect(texts.join("\n")).not.toContain("No DKIM record is published yet");
    expect(texts.join("\n")).not.toMatch(/· dkim-bot · /);
    expect(story.delivered.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    // The card shows the final state, with no buttons left.
    expect(JSON.stringify(story.card()?.blocks)).toContain("*Active*");
    expect(buttonIds(story.card() as StoredMessage)).toEqual([
      ACTION_IDS.checkDns,
      ACTION_IDS.rotate,
    ]);
  });

  it("folds 100 outgoing users into the apply's one reply", async () => {
    const users = Array.from({ length: 100 }, (_, i) => `user${i}@example.com`);
    const story = new Story({ usernames: users }, notifierWith());
    await toApproved(story);
    steps(story, users);
    story.emit("active", { state: "active" });
    await story.bot.idle();

    expect(story.replies()).toHaveLength(4);
    expect(story.texts()[2]).toContain("Signing enabled for 100 of 100 outgoing users");
    // Redraws are coalesced while Slack is busy: the steps came faster than Slack answers,
    // so the reply and the card were drawn from the newest request a few times, not 101.
    const edits = slack.calls("chat.update");
    expect(edits.length).toBeLessThan(10);
    expect(story.delivered).toHaveLength(106);
  });

  it("takes the Retry off the failure reply once the request is retried, so none is left at Active", async () => {
    const story = new Story({ usernames: ["mailer@example.com"] }, notifierWith());
    await toApproved(story);
    steps(story, []);
    story.emit(
      "failed",
      { state: "failed", lastError: "ERROR: locked" },
      { call: "api_set_dkim_selector", username: "mailer@example.com", error: "ERROR: locked" },
    );
    await story.bot.idle();
    const failure = story.replies().find((reply) => /\*Failed\*/.test(reply.text ?? ""));
    expect(failure && buttonIds(failure)).toEqual([ACTION_IDS.retry]);

    story.emit("retried", { state: "applying", lastError: null });
    steps(story, ["mailer@example.com"]);
    story.emit("active", { state: "active" });
    await story.bot.idle();

    for (const reply of story.replies()) expect(buttonIds(reply)).toEqual([]);
    expect(story.texts().join("\n")).toContain("Retried by <@U0BOB>: see below.");
    expect(story.texts().filter((text) => /\*Active\*/.test(text))).toHaveLength(1);
  });

  it("with a lasting reply store, also takes a stale Retry off after a restart", async () => {
    const replies = createMemoryThreadReplyStore();
    const story = new Story({}, notifierWith(replies));
    await toApproved(story);
    story.emit(
      "failed",
      { state: "failed" },
      { step: "certificate", error: "ERROR: no such domain" },
    );
    await story.bot.idle();

    story.restart();
    story.emit("retried", { state: "applying" });
    steps(story, [story.request.domain]);
    story.emit("active", { state: "active" });
    await story.bot.idle();
    for (const reply of story.replies()) expect(buttonIds(reply)).toEqual([]);
  });

  it("after a restart mid-apply, ends the first run's reply and tells the rest in a new one", async () => {
    const replies = createMemoryThreadReplyStore();
    const story = new Story({ usernames: ["mailer@example.com"] }, notifierWith(replies));
    await toApproved(story);
    steps(story, []);
    await story.bot.idle();

    story.restart();
    story.emit("resumed", {}, { certificateInstalled: true, enabledUsernames: [] });
    steps(story, ["mailer@example.com"]);
    story.emit("active", { state: "active" });
    await story.bot.idle();

    const texts = story.texts();
    expect(texts.map((text) => /\*(Approved|Resumed|Active)\*/.exec(text)?.[1])).toEqual([
      undefined,
      undefined,
      "Approved",
      "Resumed",
      "Active",
    ]);
    expect(texts[2]).toContain("Cut short by a restart");
    expect(texts[2]).not.toContain(":hourglass");
    expect(texts[3]).toContain("Signing enabled for `mailer@example.com`");
  });

  it("tells a record that goes away after it was live, but not a first 'not published yet'", async () => {
    const story = new Story({}, notifierWith());
    story.emit("created");
    await story.post();
    story.emit(
      "dns-problem",
      { lastDnsCheck: missing },
      { status: "missing", message: "Nothing is published at this name yet." },
    );
    story.emit("dns-live", { lastDnsCheck: live }, { status: "live" });
    story.emit(
      "dns-problem",
      { lastDnsCheck: missing },
      { status: "missing", message: "Nothing is published at this name yet." },
    );
    await story.bot.idle();
    const texts = story.texts();
    expect(texts).toHaveLength(3);
    expect(texts[0]).toMatch(/^Split form/);
    expect(texts[1]).toMatch(/\*DNS record is live\*/);
    expect(texts[2]).toMatch(/\*DNS record is gone\*: Nothing is published/);
  });

  it("leaves an event undelivered when Slack did not take its reply, to be told again", async () => {
    const story = new Story({}, notifierWith());
    story.emit("created");
    await story.post();
    await story.bot.idle();
    slack.fail("chat.postMessage", "channel_not_found");
    const rejected = story.emit(
      "rejected",
      { state: "rejected", decidedBy: "U0BOB" },
      { reason: "no" },
    );
    await story.bot.idle();
    expect(story.delivered).not.toContain(rejected.id);
  });

  it("gives a reply Slack did not take back to the store, tells it when replayed, and gives up after 3 tries", async () => {
    const released: number[] = [];
    const holds = {
      extend: async () => {},
      release: async (ids: readonly number[]) => {
        released.push(...ids);
      },
      everyMs: 60_000,
    };
    const story = new Story({}, (markDelivered) =>
      createThreadNotifier({ client, dryRun: false, logger, markDelivered, holds }),
    );
    story.emit("created");
    await story.post();
    await story.bot.idle();

    // Slack refuses once: the event is given back (its hold released), not kept in hand.
    slack.fail("chat.postMessage", "internal_error");
    const rejected = story.emit(
      "rejected",
      { state: "rejected", decidedBy: "U0BOB" },
      { reason: "no" },
    );
    await story.bot.idle();
    expect(story.delivered).not.toContain(rejected.id);
    expect(released).toEqual([rejected.id]);

    // The recovery cycle claims it from the store again: this time Slack takes it, once.
    story.bot.replay([{ event: rejected, request: story.request }]);
    await story.bot.idle();
    expect(story.delivered).toContain(rejected.id);
    expect(story.texts().filter((text) => /Rejected/.test(text))).toHaveLength(1);

    // A reply Slack keeps refusing is given up on the third try (marked, no endless retries).
    slack.fail("chat.postMessage", "channel_not_found", 3);
    const expired = story.emit("expired", { state: "expired" });
    for (let attempt = 1; attempt < 3; attempt++) {
      await story.bot.idle();
      expect(story.delivered).not.toContain(expired.id);
      story.bot.replay([{ event: expired, request: story.request }]);
    }
    await story.bot.idle();
    expect(story.delivered).toContain(expired.id);
    expect(released.filter((id) => id === expired.id)).toHaveLength(2);
  });
});
