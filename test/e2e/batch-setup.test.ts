/**
 * Bulk setup end to end with three domains (design.md flow 8): one command, one card posted at
 * once, the bad and the skipped domains listed with why, every record attached as a zone file
 * (loaded by named-checkzone) and a CSV, Approve all live approving exactly what the card
 * showed, each domain applied once however many clicks, and one summary in the thread.
 */
import { describe, expect, it } from "vitest";
import { checkZoneFragment, namedCheckzoneAvailability } from "../helpers/named-checkzone.js";
import {
  attachedRecords,
  BATCH_ACTIONS,
  batchCards,
  bulkSetUp,
  buttonLabel,
  cardText,
  clickCard,
  publishRows,
  replyTextsOf,
  waitForBatchReply,
  waitForCard,
} from "./batch-flows.js";
import {
  answersAt,
  apiCallsFor,
  clickApprove,
  commandAnswer,
  publish,
  setUp,
  statusLines,
  waitForActive,
} from "./flows.js";
import { APPROVER, CHANNEL, OUTSIDER, REQUESTER, useBot } from "./harness.js";
import { buttonsOf } from "./support.js";

const harness = useBot();

const zoneCheck = namedCheckzoneAvailability();

describe("/dkim setup with three domains", () => {
  it("checks every domain, posts one card at once, attaches the records, and approves each once", async () => {
    // One domain already signs with a key of the bot; one has an open request.
    const active = await setUp(harness, "active.batch.example", "old");
    publish(harness, active);
    await clickApprove(harness, active);
    await waitForActive(harness, active);
    await setUp(harness, "open.batch.example", "other");

    const domains = ["one.batch.example", "two.batch.example", "three.batch.example"];
    const batch = await bulkSetUp(
      harness,
      [
        domains[0],
        `${domains[1]},`,
        domains[2],
        "bad_name!.example",
        "active.batch.example",
        "open.batch.example",
      ].map(String),
    );
    // The card: who asked, how many, the approvers mentioned, the table.
    const first = batch.posted;
    const firstText = [
      first.text ?? "",
      ...(JSON.stringify(first.blocks).match(/"text":"[^"]*"/g) ?? []),
    ].join("\n");
    expect(firstText).toContain("DKIM for 3 domains");
    expect(firstText).toContain(`<@${REQUESTER}>`);
    expect(first.text).toContain(`<@${APPROVER}>`);
    expect(batchCards(harness)).toHaveLength(1);

    // The domains not set up, each with why, in one reply.
    const checked = await waitForBatchReply(harness, batch, /Not set up/);
    const checkedText = JSON.stringify(checked.blocks);
    expect(checkedText).toContain("bad_name!.example");
    expect(checkedText).toContain("/dkim rotate active.batch.example");
    expect(checkedText).toMatch(/open\.batch\.example has an open request/);

    // Every record, as a zone file and a CSV, in the thread.
    const { zone, rows } = await attachedRecords(harness, batch);
    expect(rows.map((row) => row[0]?.replace(/^[^.]+\._domainkey\./, ""))).toEqual(domains);
    expect(rows.every((row) => row[1] === "TXT" && row[2]?.startsWith("v=DKIM1; k=rsa; p="))).toBe(
      true,
    );
    if (zoneCheck.available || process.env.CI === "true") {
      const loaded = checkZoneFragment(zone.bytes?.toString("utf8") ?? "");
      expect(loaded.ok, loaded.output).toBe(true);
      for (const row of rows) expect(loaded.txt.get(`${row[0]}.`)?.join("")).toBe(row[2]);
    }
    await waitForCard(harness, batch, /not checked yet/);

    // Published; Check DNS tells the clicker, and the card offers Approve all live (3).
    publishRows(harness, rows);
    await waitForCard(harness, batch, /Check DNS/);
    const checkedDns = await clickCard(harness, batch, BATCH_ACTIONS.batchCheckDns);
    expect((await answersAt(harness, checkedDns, 1))[0]).toContain("3 live and matching");
    await waitForCard(harness, batch, /Approve all live \(3\)/);
    const allLive = await waitForBatchReply(harness, batch, /Every record of this batch is live/);
    expect(allLive.text).toContain(`<@${APPROVER}>`);

    // Neither the requester (not an approver here) nor an outsider may approve.
    const own = await clickCard(harness, batch, BATCH_ACTIONS.batchApproveLive, {
      userId: REQUESTER,
    });
    expect((await answersAt(harness, own, 1))[0]).toMatch(/Only .* can approve/);
    const outsider = await clickCard(harness, batch, BATCH_ACTIONS.batchApproveLive, {
      userId: OUTSIDER,
    });
    expect((await answersAt(harness, outsider, 1))[0]).toMatch(/Only .* can approve/);
    expect(domains.flatMap((domain) => apiCallsFor(harness, domain))).toEqual([]);

    // Two clicks of Approve all live: each domain applied once.
    const [click1, click2] = await Promise.all([
      clickCard(harness, batch, BATCH_ACTIONS.batchApproveLive),
      clickCard(harness, batch, BATCH_ACTIONS.batchApproveLive),
    ]);
    const answers = [
      ...(await answersAt(harness, click1, 1)),
      ...(await answersAt(harness, click2, 1)),
    ];
    expect(answers.filter((text) => text.startsWith("Approving 3 requests"))).toHaveLength(1);
    expect(answers.filter((text) => text.startsWith("Nothing was done"))).toHaveLength(1);
    await waitForCard(harness, batch, /3 active/);
    for (const domain of domains) {
      expect(apiCallsFor(harness, domain)).toEqual([
        "api_set_dkim_certificate",
        "api_set_dkim_selector",
      ]);
    }
    const summary = await waitForBatchReply(harness, batch, /\*Approved\* by/);
    expect(JSON.stringify(summary.blocks)).toContain("3 active");
    // No buttons but Check DNS? None at all: nothing is pending any more.
    expect(buttonsOf((harness.slack.message(CHANNEL, batch.ts) ?? first).blocks)).toEqual([]);
    expect(buttonLabel(harness, batch, BATCH_ACTIONS.batchApproveLive)).toBeUndefined();

    // One reply per step, none per domain.
    const thread = replyTextsOf(harness, batch);
    expect(thread.filter((text) => /\*Active\*/.test(text))).toEqual([]);
    expect(thread.filter((text) => /Approved/.test(text))).toHaveLength(1);

    // Each domain is a request of its own, linked to the batch card.
    const [line] = await statusLines(harness, "two.batch.example");
    expect(line).toContain("Active");
    expect(line).toContain(`p${batch.ts.replace(".", "")}`);
    expect(line).toContain("batch card");
    expect(cardText(harness, batch)).toContain("3 active");
  });

  it("refuses user= with several domains, and more than DKIM_BATCH_MAX with the count", async () => {
    const users = await commandAnswer(harness, "setup a.example b.example user=mailer@a.example");
    expect(users.text).toContain('"user=" works with one domain only');
    const many = Array.from({ length: 101 }, (_, index) => `d${index}.example`).join(" ");
    const tooMany = await commandAnswer(harness, `setup ${many}`);
    expect(tooMany.text).toContain("That is 101 domains, and one batch takes at most 100");
  });
});
