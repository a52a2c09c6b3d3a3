/**
 * A batch's events against the fake Slack Web API: its requests' events fold into the card
 * (a few redraws, not one reply per domain), each delivered once drawn; what comes after
 * Active is told in the batch's thread as for a single request; a run's summary and the
 * once-only replies are posted once; a stop leaves what was not drawn undelivered.
 */
import { webApi } from "@slack/bolt";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/logger.js";
import type { BatchNotice } from "../../src/requests/batch.js";
import type { AuditEvent, AuditEventKind, DkimRequest } from "../../src/requests/model.js";
import { type BatchNotifier, createBatchNotifier } from "../../src/slack/batch-notifier.js";
import { createThreadNotifier } from "../../src/slack/thread-notifier.js";
import { type FakeSlack, startFakeSlack } from "../helpers/fake-slack.js";
import { sampleBatch, sampleMembers } from "./ui/batch-fixtures.js";

let slack: FakeSlack;
let client: InstanceType<typeof webApi.WebClient>;
const logger = createLogger({ level: "error", write: () => {} });

beforeAll(async () => {
  slack = await startFakeSlack();
  client = new webApi.WebClient("xoxb-test", {
    slackApiUrl: slack.apiUrl,
    retryConfig: { retries: 0 },
    logLevel: webApi.LogLevel.ERROR,
  });
});
afterAll(() => slack.close());
beforeEach(() => slack.reset());

/** A batch, its requests, and the bot's two notifiers over them, as main.ts wires them. */
async function world(count: number, minRedrawMs = 20) {
  const posted = await client.chat.postMessage({ channel: "CDKIMOPS", text: "card" });
  const state = {
    batch: sampleBatch(count, { messageTs: posted.ts ?? "" }),
    members: [] as DkimRequest[],
  };
  state.members = sampleMembers(state.batch, () => ({}));
  const delivered: number[] = [];
  const told: Array<{ notice?: BatchNotice; runId?: string }> = [];
  const batches: BatchNotifier = createBatchNotifier({
    client,
    dryRun: false,
    approvers: ["UAPPROVER1"],
    logger,
    load: async () => ({ batch: state.batch, members: state.members }),
    markDelivered: async (id) => {
      delivered.push(id);
    },
    markTold: async (_batchId, what, ref) => {
      told.push(what);
      if ("notice" in what)
        state.batch = { ...state.batch, told: { ...state.batch.told, [what.notice]: ref } };
      else
        state.batch = {
          ...state.batch,
          runs: state.batch.runs.map((run) =>
            run.id === what.runId ? { ...run, toldTs: ref } : run,
          ),
        };
    },
    minRedrawMs,
  });
  const thread = createThreadNotifier({
    client,
    dryRun: false,
    logger,
    markDelivered: async (id) => {
      delivered.push(id);
    },
    batches,
  });
  let nextId = 1;
  const event = (member: DkimRequest, kind: AuditEventKind, details = {}): AuditEvent => ({
    id: nextId++,
    requestId: member.id,
    at: "2026-12-07T09:00:00.000Z",
    actorId: "system",
    kind,
    details,
  });
  return { state, batches, thread, delivered, told, event, ts: posted.ts ?? "" };
}

describe("the batch notifier", () => {
  it("folds a hundred requests' events into a few redraws of the card, and delivers each once", async () => {
    const w = await world(100);
    const ids: number[] = [];
    for (const member of w.state.members) {
      for (const kind of [
        "created",
        "dns-live",
        "approved",
        "certificate-installed",
        "active",
      ] as const) {
        const e = w.event(member, kind, kind === "dns-live" ? { status: "live" } : {});
        ids.push(e.id);
        w.thread.onEvent(e, member);
      }
    }
    w.state.members = w.state.members.map((member) => ({ ...member, state: "active" }));
    w.batches.redraw(w.state.batch.id);
    await w.batches.idle();
    expect(slack.threadReplies("CDKIMOPS", w.ts)).toEqual([]);
    expect(slack.calls("chat.update").length).toBeLessThanOrEqual(3);
    expect([...w.delivered].sort((a, b) => a - b)).toEqual(ids);
    expect(JSON.stringify(slack.message("CDKIMOPS", w.ts)?.blocks)).toContain("100 active");
  });

  it("redraws a card at most once per minRedrawMs, also when it went quiet in between", async () => {
    const w = await world(3, 400);
    // Each event comes once the last redraw is done (as a batch's requests come back one by
    // one during its apply): the card's pace holds all the same.
    for (const member of w.state.members) {
      w.thread.onEvent(w.event(member, "created"), member);
      await w.batches.idle();
    }
    // Seen at fake Slack, where a busy machine can bring two calls closer than they were
    // sent; without the pace they came a few milliseconds apart.
    const times = slack.calls("chat.update").map((call) => call.at.getTime());
    expect(times.length).toBeGreaterThanOrEqual(2);
    for (let index = 1; index < times.length; index += 1) {
      expect((times[index] ?? 0) - (times[index - 1] ?? 0)).toBeGreaterThanOrEqual(200);
    }
  });

  it("keeps a batch's events undelivered until its card is posted", async () => {
    const w = await world(2);
    w.state.batch = { ...w.state.batch, messageTs: null };
    const [member] = w.state.members;
    if (member === undefined) throw new Error("a member");
    w.thread.onEvent(w.event(member, "created"), member);
    await w.batches.idle();
    expect(w.delivered).toEqual([]);
    w.state.batch = { ...w.state.batch, messageTs: w.ts };
    w.batches.redraw(w.state.batch.id);
    await w.batches.idle();
    expect(w.delivered).toEqual([1]);
  });

  it("tells what comes after Active in the batch's thread, as for a single request", async () => {
    const w = await world(1);
    const member = { ...(w.state.members[0] as DkimRequest), state: "active" as const };
    w.state.members = [member];
    w.thread.onEvent(
      w.event(member, "monitor-problem", { status: "missing", message: "No record." }),
      member,
    );
    await w.thread.idle();
    await w.batches.idle();
    const [notice] = slack.threadReplies("CDKIMOPS", w.ts);
    expect(notice?.text).toContain("DNS record gone");
    // The card stays the batch's: never redrawn as a single request's card.
    expect(JSON.stringify(slack.message("CDKIMOPS", w.ts)?.blocks)).toContain("DKIM for 1 domain");
  });

  it("posts a finished run's summary and the once-only replies once", async () => {
    const w = await world(2);
    w.state.members = w.state.members.map((member) => ({
      ...member,
      lastDnsCheck: { status: "live", problemCode: null, summary: "Live.", checkedAt: "x" },
    }));
    w.batches.redraw(w.state.batch.id);
    await w.batches.idle();
    w.state.members = w.state.members.map((member) => ({ ...member, state: "active" }));
    w.state.batch = {
      ...w.state.batch,
      runs: [
        {
          id: "r1",
          kind: "approve",
          actorId: "UAPPROVER1",
          via: "UAPPROVER1",
          reason: null,
          at: "x",
          items: w.state.members.map((member) => ({
            requestId: member.id,
            domain: member.domain,
            fingerprint: member.fingerprint,
          })),
          leftOut: [],
          refused: [],
          finishedAt: "y",
          toldTs: null,
        },
      ],
    };
    w.batches.redraw(w.state.batch.id);
    await w.batches.idle();
    w.batches.redraw(w.state.batch.id);
    await w.batches.idle();
    const replies = slack.threadReplies("CDKIMOPS", w.ts).map((reply) => reply.text ?? "");
    expect(
      replies.filter((text) => text.includes("Every record of this batch is live")),
    ).toHaveLength(1);
    expect(replies.filter((text) => text.includes("*Approved* by"))).toHaveLength(1);
    expect(w.told).toEqual([{ notice: "all-live" }, { runId: "r1" }]);
  });

  it("leaves what was not drawn undelivered at a stop", async () => {
    const w = await world(1);
    const member = w.state.members[0] as DkimRequest;
    w.batches.stop();
    w.thread.onEvent(w.event(member, "dns-live", { status: "live" }), member);
    await w.batches.idle();
    expect(w.delivered).toEqual([]);
    expect(slack.calls("chat.update")).toEqual([]);
  });
});
