/**
 * The batch card's other buttons end to end: Retry failed (N) after SpamExperts refused some
 * domains, Reject all (an approver, with a reason) and Cancel (the requester), and who may
 * not; the setup form with several domains; and a dry run's card.
 */
import { describe, expect, it } from "vitest";
import { CALLBACK_IDS, REJECT_FIELDS } from "../../src/slack/ui/ids.js";
import {
  attachedRecords,
  BATCH_ACTIONS,
  type BatchInSlack,
  batchCards,
  bulkSetUp,
  buttonLabel,
  cardText,
  clickCard,
  publishRows,
  waitForBatchReply,
  waitForCard,
} from "./batch-flows.js";
import {
  answersAt,
  apiCallsFor,
  CERTIFICATE,
  newTriggerId,
  openedView,
  SELECTOR,
  submitSetupForm,
} from "./flows.js";
import {
  APPROVER,
  CHANNEL,
  GROUP_MEMBER,
  OUTSIDER,
  REQUESTER,
  startHarness,
  useBot,
} from "./harness.js";

const harness = useBot();

/** A batch with every record published and checked: Approve all live (N) on its card. */
async function liveBatch(domains: string[]): Promise<BatchInSlack> {
  const batch = await bulkSetUp(harness, domains);
  const { rows } = await attachedRecords(harness, batch);
  publishRows(harness, rows);
  await waitForCard(harness, batch, /Check DNS/);
  await clickCard(harness, batch, BATCH_ACTIONS.batchCheckDns);
  await waitForCard(harness, batch, new RegExp(`Approve all live \\(${domains.length}\\)`));
  return batch;
}

describe("Retry failed (N)", () => {
  it("retries the domains SpamExperts refused, from the step that failed", async () => {
    const domains = ["ok.retry.example", "nope-1.retry.example", "nope-2.retry.example"];
    const batch = await liveBatch(domains);
    // The cluster does not know two of them yet.
    harness.spamExperts.setDomains(["ok.retry.example"]);
    await clickCard(harness, batch, BATCH_ACTIONS.batchApproveLive);
    const summary = await waitForBatchReply(harness, batch, /\*Approved\* by/);
    const said = JSON.stringify(summary.blocks);
    expect(said).toContain("Now: 1 active · 2 failed.");
    expect(said).toContain("No such domain");
    expect(said).toContain("Retry failed (2)");
    await waitForCard(harness, batch, /Retry failed \(2\)/);

    // An outsider may not retry; an approver may, once the cluster knows the domains.
    const refused = await clickCard(harness, batch, BATCH_ACTIONS.batchRetryFailed, {
      userId: OUTSIDER,
    });
    expect((await answersAt(harness, refused, 1))[0]).toMatch(/Only .* can retry/);
    harness.spamExperts.setDomains(undefined);
    const retried = await clickCard(harness, batch, BATCH_ACTIONS.batchRetryFailed, {
      userId: GROUP_MEMBER,
    });
    expect((await answersAt(harness, retried, 1))[0]).toContain("Retrying 2 requests");
    await waitForCard(harness, batch, /3 active/);
    await waitForBatchReply(harness, batch, /\*Retried\* by/);
    for (const domain of domains.slice(1)) {
      // Refused at the certificate, then the retry from there: certificate, then selector.
      expect(apiCallsFor(harness, domain)).toEqual([CERTIFICATE, CERTIFICATE, SELECTOR]);
    }
    expect(apiCallsFor(harness, domains[0] ?? "")).toEqual([CERTIFICATE, SELECTOR]);
    // The first summary's Retry failed is gone: no stale button anywhere.
    await harness.slack.waitUntil(
      () =>
        !JSON.stringify(harness.slack.message(CHANNEL, summary.ts)?.blocks).includes(
          "Retry failed",
        ),
      "the first summary without its Retry failed button",
    );
  });
});

describe("Reject all and Cancel", () => {
  it("lets an approver reject all with a reason, and not the requester nor an outsider", async () => {
    const batch = await bulkSetUp(harness, ["r1.reject.example", "r2.reject.example"]);
    await attachedRecords(harness, batch);
    await waitForCard(harness, batch, /Reject all/);
    for (const [userId, expected] of [
      [REQUESTER, /click Cancel on its card to withdraw it/],
      [OUTSIDER, /Only .* can reject a batch/],
    ] as const) {
      const url = await clickCard(harness, batch, BATCH_ACTIONS.batchRejectAll, { userId });
      expect((await answersAt(harness, url, 1))[0]).toMatch(expected);
    }
    const triggerId = newTriggerId();
    await clickCard(harness, batch, BATCH_ACTIONS.batchRejectAll, { triggerId });
    const view = await openedView(harness, triggerId);
    expect(JSON.stringify(view.blocks)).toContain("Reject the 2 open requests of this batch?");
    const submitted = await harness.submit({
      callbackId: CALLBACK_IDS.batchRejectForm,
      privateMetadata: String(view.private_metadata),
      values: {
        [REJECT_FIELDS.reason.blockId]: { [REJECT_FIELDS.reason.actionId]: "wrong cluster" },
      },
      userId: APPROVER,
    });
    expect(submitted.status).toBe(200);
    const rejected = await waitForBatchReply(harness, batch, /\*Rejected\* by/);
    expect(rejected.text).toContain("wrong cluster");
    await waitForCard(harness, batch, /2 ended/);
    expect(buttonLabel(harness, batch, BATCH_ACTIONS.batchRejectAll)).toBeUndefined();
  });

  it("lets the requester cancel, and nobody else", async () => {
    const batch = await bulkSetUp(harness, ["c1.cancel.example", "c2.cancel.example"]);
    await attachedRecords(harness, batch);
    await waitForCard(harness, batch, /Cancel/);
    const other = await clickCard(harness, batch, BATCH_ACTIONS.batchCancel, { userId: APPROVER });
    expect((await answersAt(harness, other, 1))[0]).toContain(
      `Only <@${REQUESTER}>, who asked for this batch, can cancel it`,
    );
    const own = await clickCard(harness, batch, BATCH_ACTIONS.batchCancel, { userId: REQUESTER });
    expect((await answersAt(harness, own, 1))[0]).toContain("Cancelling 2 requests");
    await waitForBatchReply(harness, batch, /\*Cancelled\* by/);
    await waitForCard(harness, batch, /2 ended/);
  });
});

describe("the setup form with several domains", () => {
  it("makes one batch, and keeps outgoing users for a single domain", async () => {
    const withUsers = await submitSetupForm(harness, {
      channelId: CHANNEL,
      domain: "f1.form.example\nf2.form.example",
      selector: "",
      users: "mailer@f1.form.example",
    });
    expect(JSON.stringify(withUsers.json)).toContain("Outgoing users work with one domain only");
    const before = batchCards(harness).length;
    const ok = await submitSetupForm(harness, {
      channelId: CHANNEL,
      domain: "f1.form.example\nf2.form.example, f3.form.example",
      selector: "",
    });
    expect(ok.status).toBe(200);
    const card = await harness.slack.waitUntil(() => batchCards(harness)[before], "a batch card");
    expect(JSON.stringify(card.blocks)).toContain("DKIM for 3 domains");
  });
});

describe("a dry run", () => {
  it("says DRY RUN on the card and claims nothing is signed", async () => {
    const dry = await startHarness();
    try {
      await dry.startBot(
        {},
        { unset: ["SPAMEXPERTS_URL", "SPAMEXPERTS_USERNAME", "SPAMEXPERTS_PASSWORD"] },
      );
      const ack = await dry.command("setup d1.dry.example d2.dry.example");
      expect(ack.status).toBe(200);
      const card = await dry.slack.waitUntil(() => batchCards(dry)[0], "a batch card");
      const batch = { channel: CHANNEL, ts: card.ts, posted: card };
      const { rows } = await attachedRecords(dry, batch);
      publishRows(dry, rows);
      await waitForCard(dry, batch, /Check DNS/);
      await clickCard(dry, batch, BATCH_ACTIONS.batchCheckDns);
      await waitForCard(dry, batch, /Approve all live \(2\)/);
      expect(cardText(dry, batch)).toContain("*DRY RUN*");
      await clickCard(dry, batch, BATCH_ACTIONS.batchApproveLive);
      await waitForCard(dry, batch, /2 done \(DRY RUN: nothing is signed\)/);
      const summary = await waitForBatchReply(dry, batch, /\*Approved\* \(DRY RUN\)/);
      expect(JSON.stringify(summary.blocks)).toContain("nothing was changed on the cluster");
      expect(cardText(dry, batch)).not.toMatch(/\d+ active|SpamExperts signs/);
      expect(dry.spamExperts.requests).toEqual([]);
    } finally {
      await dry.close();
    }
  });
});
