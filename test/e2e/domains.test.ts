/**
 * `/dkim domains` end to end (issue 13, the inventory): the built bot against a SpamExperts
 * stand-in serving 2,000 domains in each output form of facts.md (a domain per line,
 * `domain:…` per line, a JSON array) and an ERROR; the counts, a filter by state and by part
 * of the name, the next page, Refresh, the cache, Download CSV (the uploaded bytes parsed),
 * domains the cluster no longer lists, the visibility rule, and the dry run.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ACTION_IDS } from "../../src/slack/ui/ids.js";
import { faults } from "../helpers/fake-spamexperts.js";
import { batchCards, cardText, waitForCard } from "./batch-flows.js";
import {
  type Answer,
  clickApprove,
  commandAnswer,
  publish,
  responseAt,
  setUp,
  waitForActive,
} from "./flows.js";
import { CHANNEL, OUTSIDER, REQUESTER, useBot } from "./harness.js";
import { answerText, buttonsOf } from "./support.js";

/** Private, with the requester in it but not the outsider. */
const PRIVATE = "CPRIVATEOPS";
const CLUSTER = Array.from(
  { length: 2000 },
  (_, index) => `${index % 3 === 0 ? "shop" : "mail"}-${String(index).padStart(4, "0")}.example`,
);
const ACTIVE = "mail-0001.example";
const PENDING = "mail-0002.example";
const SECRET = "mail-0004.example";
const LEAVING = "shop-0003.example";

const harness = useBot({ DKIM_INVENTORY_MINUTES: "60" });

/** Domains the batch button set up (they are the bot's own domains in the dry run after). */
const batched: string[] = [];

beforeAll(async () => {
  await harness.slack.waitForCall("auth.test");
  harness.slack.setChannel(PRIVATE, { isPrivate: true, members: [REQUESTER] });
});

function listCalls(): number {
  return harness.spamExperts.requests.filter(
    (request) => request.params.call === "api_list_domains",
  ).length;
}

/** The blocks of an answer as it was posted (the ack or the response_url's JSON). */
function blocksOf(answer: { body: unknown }): unknown[] {
  const blocks = (answer.body as { blocks?: unknown }).blocks;
  return Array.isArray(blocks) ? blocks : [];
}

/** The lines of an answer naming domains: `• *name* · state · …`, links read as their label. */
function domainLines(text: string): string[] {
  return text
    .split("\n")
    .filter((line) => line.startsWith("• *"))
    .map((line) => line.replace(/<https:[^|>]+\|([^>]+)>/g, "$1"));
}

function lineOf(text: string, domain: string): string | undefined {
  return domainLines(text).find((line) => line.startsWith(`• *${domain}*`));
}

/** Clicks a button of an ephemeral answer (as `userId`, in `channelId`); what Slack gets for it. */
async function clickOn(
  answer: { body: unknown },
  actionId: string,
  userId = REQUESTER,
  channelId = CHANNEL,
) {
  const button = buttonsOf(blocksOf(answer)).find((each) => each.action_id === actionId);
  if (button === undefined) throw new Error(`no ${actionId} button on the answer`);
  const responseUrl = harness.slack.responseUrl();
  const ack = await harness.click({
    actionId,
    ...(button.value === undefined ? {} : { value: button.value }),
    userId,
    channelId,
    messageTs: "0.0",
    responseUrl,
    isEphemeral: true,
  });
  expect(ack.status).toBe(200);
  return { responseUrl, ...(await responseAt(harness, responseUrl)) };
}

describe("/dkim domains", () => {
  it("tells in one sentence when the cluster answers ERROR or refuses the credentials", async () => {
    harness.spamExperts.setDomains(CLUSTER);
    harness.spamExperts.failNext("api_list_domains", faults.apiError("Maintenance in progress"));
    const error = await commandAnswer(harness, "domains");
    expect(error.text).toBe(
      'The cluster\'s domain list could not be read, so there is nothing to show yet. SpamExperts rejected api_list_domains (HTTP 200): "ERROR: Maintenance in progress"; fix what it says and try again.',
    );
    harness.spamExperts.failNext("api_list_domains", faults.unauthorized());
    const refused = await commandAnswer(harness, "domains");
    expect(refused.text).toContain("SpamExperts refused the credentials (HTTP 401)");
    expect(refused.text).not.toContain("\n");
    // Nothing else broken: the next command gets the list.
    const answer = await commandAnswer(harness, "domains");
    expect(answer.text).toContain("2,000* On the cluster");
  });

  it("counts first, then a page; filters by state and by part of the name; the next page; the cache and Refresh", async () => {
    const active = await setUp(harness, ACTIVE, "s1");
    publish(harness, active);
    await clickApprove(harness, active);
    await waitForActive(harness, active);
    await setUp(harness, PENDING, "s1");
    harness.spamExperts.reset();

    const all = await commandAnswer(harness, "domains");
    expect(all.via).toBe("response_url");
    expect((all.body as { response_type?: string }).response_type).toBe("ephemeral");
    // Counts come first, before any domain.
    const counts = all.text.indexOf("*2,000* On the cluster");
    expect(counts).toBeGreaterThan(-1);
    expect(counts).toBeLessThan(all.text.indexOf("• *"));
    expect(all.text).toContain("*1* Signed with a key of the bot · `active`");
    expect(all.text).toContain("*1* Pending · `pending`");
    expect(all.text).toContain("*1,998* Without DKIM · `none`");
    expect(domainLines(all.text)).toHaveLength(50);
    expect(lineOf(all.text, ACTIVE)).toMatch(
      /:white_check_mark: Active · `s1` key under a day · DNS :white_check_mark: live/,
    );
    expect(lineOf(all.text, PENDING)).toContain("waiting for DNS and approval");
    expect(all.text).toContain("1–50 of 2,000, page 1 of 40");
    expect(blocksOf(all).length).toBeLessThanOrEqual(50);

    const pending = await commandAnswer(harness, "domains pending");
    expect(domainLines(pending.text).map((line) => line.split(" · ")[0])).toEqual([
      `• *${PENDING}*`,
    ]);
    const shops = await commandAnswer(harness, "domains shop-01");
    expect(domainLines(shops.text)).toHaveLength(33);
    expect(domainLines(shops.text).every((line) => line.startsWith("• *shop-01"))).toBe(true);

    const next = await clickOn(all, ACTION_IDS.domainsNext);
    expect((next.body as { replace_original?: boolean }).replace_original).toBe(true);
    expect(next.text).toContain("51–100 of 2,000, page 2 of 40");
    expect(domainLines(next.text)[0]).toMatch(/^• \*mail-0076\.example\*/);
    const typed = await commandAnswer(harness, "domains none page=3");
    expect(typed.text).toContain("101–150 of 1,998, page 3 of 40");

    // Five answers, one list: the cache holds it for DKIM_INVENTORY_MINUTES.
    expect(listCalls()).toBe(0);
    const refreshed = await clickOn(all, ACTION_IDS.domainsRefresh);
    expect(listCalls()).toBe(1);
    expect(refreshed.text).toContain("1–50 of 2,000, page 1 of 40");
  });

  it.each([
    ["colon", "domain:… per line"],
    ["json", "a JSON array"],
    ["lines", "a domain per line"],
  ] as const)("reads the list written as %s (%s)", async (format, _form) => {
    harness.spamExperts.setListFormat(format);
    harness.spamExperts.reset();
    const first = await commandAnswer(harness, "domains");
    const refreshed = await clickOn(first, ACTION_IDS.domainsRefresh);
    expect(listCalls()).toBe(1);
    expect(refreshed.text).toContain("*2,000* On the cluster");
    expect(refreshed.text).not.toContain("not a domain name");
    expect(domainLines(refreshed.text)[0]).toMatch(/^• \*mail-0001\.example\*/);
  });

  it("shows the last list with the cluster's error when Refresh meets an ERROR", async () => {
    const before = await commandAnswer(harness, "domains");
    harness.spamExperts.failNext("api_list_domains", faults.apiError("Try later"));
    const stale = await clickOn(before, ACTION_IDS.domainsRefresh);
    expect(stale.text).toContain("the cluster could not be asked again just now");
    expect(stale.text).toContain("ERROR: Try later");
    expect(stale.text).toContain("*2,000* On the cluster");
  });

  it("hides a key of a private channel from someone not in it: the domain shows as private", async () => {
    await setUp(harness, SECRET, "p1", { channelId: PRIVATE });
    const outsider = await commandAnswer(harness, `domains ${SECRET}`, { userId: OUTSIDER });
    expect(lineOf(outsider.text, SECRET)).toBe(
      `• *${SECRET}* · :lock: In a private channel you are not in`,
    );
    expect(outsider.text).not.toContain("`p1`");
    expect(outsider.text).toContain("*1* Keys in private channels · `private`");
    const outsiderPending = await commandAnswer(harness, "domains pending", { userId: OUTSIDER });
    expect(outsiderPending.text).not.toContain(SECRET);

    const member = await commandAnswer(harness, `domains ${SECRET}`, { userId: REQUESTER });
    expect(lineOf(member.text, SECRET)).toContain("`p1` waiting for DNS and approval");
    expect(member.text).not.toContain("Keys in private channels");
  });

  it("posts every domain as a CSV in the channel, without the keys of private channels", async () => {
    const answer = await commandAnswer(harness, "domains", { userId: REQUESTER });
    const uploadsBefore = harness.slack.uploadedFiles(CHANNEL).length;
    const told = await clickOn(answer, ACTION_IDS.domainsCsv);
    expect(told.text).toContain("Posted the CSV of 2,000 domains in this channel.");
    expect(told.text).toContain("1 domain shows as `private`");
    const files = harness.slack.uploadedFiles(CHANNEL);
    expect(files).toHaveLength(uploadsBefore + 1);
    const file = files.at(-1);
    expect(file?.filename).toMatch(/^dkim-domains-\d{4}-\d\d-\d\d\.csv$/);
    expect(file?.comment).toContain("asked by <@UREQUESTER>");
    const rows = (file?.bytes?.toString("utf8") ?? "").trimEnd().split("\r\n");
    expect(rows[0]).toBe(
      "domain,state,selector,key_age_days,last_dns_verdict,dns_checked_at,open_request,open_selector",
    );
    expect(rows).toHaveLength(2001);
    const row = (domain: string) => rows.find((line) => line.startsWith(`${domain},`));
    expect(row(ACTIVE)).toMatch(new RegExp(`^${ACTIVE},active,s1,0,live,\\d{4}-[^,]+,,$`));
    expect(row(PENDING)).toMatch(/,pending,s1,,[a-z-]*,[^,]*,pending,s1$/);
    // Readable by the whole channel: the private channel's key is not in it, though the
    // requester who clicked is in that channel.
    expect(row(SECRET)).toBe(`${SECRET},private,,,,,,`);
    expect(row("shop-0000.example")).toBe("shop-0000.example,none,,,,,,");
  });

  it("asks to be invited before it posts the CSV in a channel it is not in", async () => {
    const outside = "CNOBOTHERE";
    harness.slack.setChannel(outside, { botIsMember: false });
    const answer = await commandAnswer(harness, "domains failed", { channelId: outside });
    expect(answer.text).toContain("*2,000* On the cluster");
    const told = await clickOn(answer, ACTION_IDS.domainsCsv, REQUESTER, outside);
    expect(told.text).toBe(
      "I am not in this channel yet: invite me with `/invite @dkim-bot`, then try again.",
    );
    expect(harness.slack.uploadedFiles(outside)).toEqual([]);
  });

  it("shows a domain the cluster no longer lists as gone", async () => {
    const leaving = await setUp(harness, LEAVING, "s1");
    publish(harness, leaving);
    await clickApprove(harness, leaving);
    await waitForActive(harness, leaving);
    harness.spamExperts.setDomains(CLUSTER.filter((domain) => domain !== LEAVING));
    const before = await commandAnswer(harness, "domains gone");
    const gone = await clickOn(before, ACTION_IDS.domainsRefresh);
    expect(gone.text).toContain("*1,999* On the cluster");
    expect(gone.text).toContain("*1* Not on the cluster any more · `gone`");
    expect(domainLines(gone.text)).toHaveLength(1);
    expect(lineOf(gone.text, LEAVING)).toContain(":ghost: Not on the cluster any more · `s1`");
  });

  it("sets up the first domains without DKIM in one batch, in name order, and the next click takes the next ones", async () => {
    await harness.bot.stop();
    await harness.startBot({ DKIM_BATCH_MAX: "3", DKIM_DEFAULT_BITS: "1024" });
    const firstNames = async (count: number) =>
      domainLines((await commandAnswer(harness, "domains none")).text)
        .slice(0, count)
        .map((line) => line.split("*")[1]);
    const expected = await firstNames(3);
    expect(expected).toHaveLength(3);

    const answer = await commandAnswer(harness, "domains");
    expect(answer.text).toContain("Set up DKIM for 3 domains without it");
    const before = batchCards(harness).length;
    const setup = buttonsOf(blocksOf(answer)).find(
      (each) => each.action_id === ACTION_IDS.domainsSetupBatch,
    );
    const ack = await harness.click({
      actionId: ACTION_IDS.domainsSetupBatch,
      value: setup?.value ?? "",
      userId: REQUESTER,
      channelId: CHANNEL,
      messageTs: "0.0",
      responseUrl: harness.slack.responseUrl(),
      isEphemeral: true,
    });
    expect(ack.status).toBe(200);
    const card = await harness.slack.waitUntil(
      () => batchCards(harness)[before],
      "the batch card of the domains without DKIM",
      30_000,
    );
    const batch = { channel: CHANNEL, ts: card.ts, posted: card };
    await waitForCard(harness, batch, /3 domains/);
    // Once its keys are made, its domains are pending requests, no longer without DKIM.
    await harness.slack.waitUntil(
      () => !/Making keys/.test(cardText(harness, batch)),
      "the batch's keys made",
      60_000,
    );
    for (const domain of expected) expect(cardText(harness, batch)).toContain(domain ?? "?");
    batched.push(...(expected as string[]));

    // Those three are being set up now: the next three are offered.
    const next = await firstNames(3);
    expect(next.some((domain) => expected.includes(domain))).toBe(false);
  });

  it("lists the bot's own domains in a dry run, marked DRY RUN", async () => {
    await harness.bot.stop();
    await harness.startBot({ SPAMEXPERTS_URL: "" });
    harness.spamExperts.reset();
    const answer: Answer = await commandAnswer(harness, "domains");
    expect(answer.text).toContain("*DRY RUN*");
    expect(answer.text).toContain("These are the domains the bot has requests for.");
    // The bot's own domains: those set up above, and the batch's, in name order.
    const own = [ACTIVE, PENDING, SECRET, LEAVING, ...batched].sort();
    expect(domainLines(answer.text).map((line) => line.split(" · ")[0])).toEqual(
      own.map((domain) => `• *${domain}*`),
    );
    expect(answerText(answer.body)).toContain(`*${own.length}* On the cluster`);
    expect(listCalls()).toBe(0);
  });
});
