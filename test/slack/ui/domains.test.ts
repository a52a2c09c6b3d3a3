import type { ActionsBlock, Button, KnownBlock, SectionBlock } from "@slack/types";
import { describe, expect, it } from "vitest";
import type {
  DomainEntry,
  InventoryCounts,
  InventoryPage,
  InventoryWhole,
} from "../../../src/requests/service.js";
import type { CurrentKey } from "../../../src/requests/store.js";
import {
  DOMAINS_PAGE_SIZE,
  type DomainsAnswerOptions,
  domainLine,
  domainListFailedText,
  domainsAnswer,
} from "../../../src/slack/ui/domains.js";
import { DOMAINS_CSV_COLUMNS, domainsCsv } from "../../../src/slack/ui/domains-csv.js";
import { LIMITS } from "../../../src/slack/ui/format.js";
import { ACTION_IDS, decodeDomainsValue, encodeDomainsValue } from "../../../src/slack/ui/ids.js";
import { SpamExpertsApiError } from "../../../src/spamexperts/errors.js";

const NOW = new Date("2026-11-05T10:00:00.000Z");
const DAY = 86_400_000;

function key(domain: string, overrides: Partial<CurrentKey> = {}): CurrentKey {
  return {
    id: `r${domain.replace(/\W/g, "")}`,
    domain,
    selector: "s202605",
    state: "active",
    channelId: "C0OPS",
    messageTs: "1762165200.000100",
    teamId: null,
    enterpriseId: null,
    createdAt: new Date(NOW.getTime() - 200 * DAY).toISOString(),
    activatedAt: new Date(NOW.getTime() - 183 * DAY).toISOString(),
    dnsStatus: "live",
    dnsCheckedAt: new Date(NOW.getTime() - 2 * 3_600_000).toISOString(),
    rotation: false,
    ...overrides,
  };
}

/** A domain in each state, by its index: the mix a large cluster has. */
function entryAt(index: number): DomainEntry {
  const domain = `customer-${String(index).padStart(5, "0")}.example-hosting.net`;
  const base = { domain, onCluster: true, active: undefined, open: undefined };
  switch (index % 7) {
    case 0:
      return { ...base, state: "active", active: key(domain) };
    case 1:
      return {
        ...base,
        state: "rotating",
        active: key(domain),
        open: key(domain, {
          id: `n${index}`,
          selector: "s202611",
          state: "pending",
          rotation: true,
          activatedAt: null,
          dnsStatus: "missing",
          createdAt: new Date(NOW.getTime() - 3 * DAY).toISOString(),
        }),
      };
    case 2:
      return { ...base, state: "problem", active: key(domain, { dnsStatus: "missing" }) };
    case 3:
      return {
        ...base,
        state: "failed",
        open: key(domain, { state: "failed", activatedAt: null, dnsStatus: "live" }),
      };
    case 4:
      return { ...base, state: "private" };
    default:
      return { ...base, state: "none" };
  }
}

const COUNTS: InventoryCounts = {
  onCluster: 2000,
  active: 858,
  rotating: 286,
  pending: 0,
  failed: 286,
  problems: 286,
  none: 570,
  private: 286,
  gone: 3,
};

function page(overrides: Partial<InventoryPage> = {}): InventoryPage {
  const entries = Array.from({ length: DOMAINS_PAGE_SIZE }, (_, index) => entryAt(index + 50));
  return {
    source: {
      kind: "cluster",
      fetchedAt: new Date(NOW.getTime() - 5 * 60_000).toISOString(),
      ignored: 0,
      ignoredExamples: [],
    },
    counts: COUNTS,
    query: { page: 2, pageSize: DOMAINS_PAGE_SIZE },
    entries,
    matching: 2003,
    page: 2,
    pages: 41,
    nextBatch: Array.from({ length: 100 }, (_, index) => `none-${index}.example`),
    ...overrides,
  };
}

const OPTIONS: DomainsAnswerOptions = {
  now: NOW,
  inventoryMinutes: 60,
  batchMax: 100,
  permalink: (each) =>
    `https://fake-team.slack.com/archives/${each.channelId}/p${(each.messageTs ?? "").replace(".", "")}`,
};

function mrkdwnTexts(blocks: readonly KnownBlock[]): string[] {
  return blocks.flatMap((block) => {
    if (block.type === "section") {
      return [block.text?.text ?? "", ...(block.fields ?? []).map((field) => field.text)];
    }
    if (block.type === "context") {
      return block.elements.map((element) => ("text" in element ? element.text : ""));
    }
    return [];
  });
}

function buttons(blocks: readonly KnownBlock[]): Button[] {
  return blocks
    .filter((block): block is ActionsBlock => block.type === "actions")
    .flatMap((block) => block.elements as Button[]);
}

/** Every limit of facts.md, and text Slack would show wrongly. */
function expectWithinSlackLimits(blocks: readonly KnownBlock[]): void {
  expect(blocks.length).toBeLessThanOrEqual(LIMITS.blocksPerMessage);
  for (const block of blocks) {
    if (block.type === "section") {
      expect(block.text?.text.length ?? 0).toBeLessThanOrEqual(LIMITS.sectionText);
      expect(block.fields?.length ?? 0).toBeLessThanOrEqual(LIMITS.fieldsPerSection);
      for (const field of block.fields ?? []) {
        expect(field.text.length).toBeLessThanOrEqual(LIMITS.sectionField);
      }
    }
  }
  for (const text of mrkdwnTexts(blocks)) {
    // Escaped once, never twice; links, mentions and dates left as Slack reads them.
    expect(text).not.toMatch(/&amp;(lt|gt|amp);|&lt;(https|@|!date|#)/);
  }
  for (const each of buttons(blocks)) {
    expect(each.text.text.length).toBeLessThanOrEqual(LIMITS.buttonText);
    expect(each.value?.length ?? 0).toBeLessThanOrEqual(LIMITS.buttonValue);
    // Plain text shows entities as typed: none may appear there.
    expect(each.text.text).not.toMatch(/&(lt|gt|amp);/);
    expect(each.confirm?.text.text ?? "").not.toMatch(/&(lt|gt|amp);/);
    expect(each.confirm?.text.text.length ?? 0).toBeLessThanOrEqual(LIMITS.confirmText);
  }
}

describe("domainsAnswer", () => {
  it("puts the counts first, each with the word that lists it", () => {
    const answer = domainsAnswer(page(), OPTIONS);
    expect(answer.blocks[0]?.type).toBe("section");
    expect((answer.blocks[0] as SectionBlock).text?.text).toContain("*Domains of the cluster*");
    expect((answer.blocks[0] as SectionBlock).text?.text).toContain("kept for 60 minutes");
    const fields = ((answer.blocks[1] as SectionBlock).fields ?? []).map((field) => field.text);
    expect(fields).toEqual([
      "*2,000* On the cluster",
      "*858* Signed with a key of the bot · `active`",
      "*286* Rotation under way · `rotating`",
      "*0* Pending · `pending`",
      "*286* Failed · `failed`",
      "*286* Monitoring problem · `problems`",
      "*570* Without DKIM · `none`",
      "*286* Keys in private channels · `private`",
      "*3* Not on the cluster any more · `gone`",
    ]);
    expect(answer.text).toBe("Domains: 2,000 on the cluster, 858 signed, 570 without DKIM");
  });

  it("shows a page of 50 of 2,000 domains within Slack's limits, and how to see more", () => {
    const answer = domainsAnswer(page(), OPTIONS);
    expectWithinSlackLimits(answer.blocks);
    const texts = mrkdwnTexts(answer.blocks).join("\n");
    const lines = texts.split("\n").filter((line) => line.startsWith("• "));
    expect(lines).toHaveLength(DOMAINS_PAGE_SIZE);
    expect(texts).toContain("*All domains* · 51–100 of 2,003, page 2 of 41");
    expect(texts).toContain("1,903 more: *Next page* or `/dkim domains page=3`");
    expect(texts).toContain("`/dkim domains none`");
    expect(texts).toContain("`/dkim domains &lt;part&gt;`");
    expect(answer.blocks.length).toBeLessThan(15);
  });

  it("draws each state with its selector, key age and last DNS verdict, linked to the card", () => {
    const line = (index: number) => domainLine(entryAt(index), OPTIONS);
    expect(line(0)).toBe(
      "• *<https://fake-team.slack.com/archives/C0OPS/p1762165200000100|customer-00000.example-hosting.net>* · :white_check_mark: Active · `s202605` key 183 d · DNS :white_check_mark: live",
    );
    expect(line(1)).toContain(":arrows_counterclockwise: Rotating · `s202605` key 183 d");
    expect(line(1)).toContain(
      "new key `s202611` waiting for DNS and approval, asked 3 d ago · DNS :hourglass: not published",
    );
    expect(line(2)).toContain(
      ":warning: DNS problem · `s202605` key 183 d · DNS :hourglass: not published",
    );
    expect(line(3)).toContain(":x: Failed · `s202605` apply failed: Retry on its card");
    // A private channel's key: nothing of it, not even a link.
    expect(line(4)).toBe(
      "• *customer-00004.example-hosting.net* · :lock: In a private channel you are not in",
    );
    expect(line(5)).toBe("• *customer-00005.example-hosting.net* · No DKIM");
    const gone: DomainEntry = {
      domain: "old.example",
      state: "gone",
      onCluster: false,
      active: key("old.example"),
      open: undefined,
    };
    expect(domainLine(gone, OPTIONS)).toContain(":ghost: Not on the cluster any more · `s202605`");
    const applying: DomainEntry = {
      domain: "new.example",
      state: "pending",
      onCluster: true,
      active: undefined,
      open: key("new.example", { state: "applying", activatedAt: null, dnsStatus: null }),
    };
    expect(domainLine(applying, OPTIONS)).toContain(":gear: Applying · `s202605` being applied");
    expect(domainLine(applying, OPTIONS)).toContain("DNS not checked yet");
  });

  it("has the buttons: pages, Refresh, Download CSV, and a batch of at most DKIM_BATCH_MAX", () => {
    const answer = domainsAnswer(
      page({ query: { page: 2, pageSize: 50, filter: "none", namePart: "shop" } }),
      OPTIONS,
    );
    const shown = buttons(answer.blocks);
    expect(shown.map((each) => each.text.text)).toEqual([
      "Previous page",
      "Next page",
      "Refresh",
      "Download CSV",
      "Set up DKIM for 100 domains without it",
    ]);
    expect(shown.map((each) => each.action_id)).toEqual([
      ACTION_IDS.domainsPrevious,
      ACTION_IDS.domainsNext,
      ACTION_IDS.domainsRefresh,
      ACTION_IDS.domainsCsv,
      ACTION_IDS.domainsSetupBatch,
    ]);
    expect(shown.slice(0, 3).map((each) => decodeDomainsValue(each.value))).toEqual([
      { page: 1, filter: "none", namePart: "shop" },
      { page: 3, filter: "none", namePart: "shop" },
      { page: 2, filter: "none", namePart: "shop" },
    ]);
    expect(shown[4]?.confirm?.text.text).toContain("none-0.example … none-99.example");
    expect(mrkdwnTexts(answer.blocks).join("\n")).toContain(
      "The setup button takes the first 100 domains without DKIM in name order",
    );

    const lastPage = domainsAnswer(
      page({ page: 41, counts: { ...COUNTS, none: 0 }, nextBatch: [] }),
      OPTIONS,
    );
    expect(buttons(lastPage.blocks).map((each) => each.text.text)).toEqual([
      "Previous page",
      "Refresh",
      "Download CSV",
    ]);
    const small = domainsAnswer(
      page({ page: 1, pages: 1, counts: { ...COUNTS, none: 3 }, nextBatch: ["a", "b", "c"] }),
      OPTIONS,
    );
    expect(buttons(small.blocks).map((each) => each.text.text)).toEqual([
      "Refresh",
      "Download CSV",
      "Set up DKIM for 3 domains without it",
    ]);
  });

  it("says what is empty, marks a dry run, and shows an old list with the cluster's error", () => {
    const empty = domainsAnswer(
      page({
        entries: [],
        matching: 0,
        page: 1,
        pages: 1,
        query: { page: 1, pageSize: 50, filter: "failed" },
      }),
      OPTIONS,
    );
    expect(mrkdwnTexts(empty.blocks).join("\n")).toContain("No domain here: failed.");
    expectWithinSlackLimits(empty.blocks);

    const dryRun = domainsAnswer(page({ source: { kind: "dry-run" } }), OPTIONS);
    expect(mrkdwnTexts(dryRun.blocks)[0]).toContain("*DRY RUN*");
    expect(dryRun.text).toContain("(DRY RUN)");

    const stale = domainsAnswer(
      page({
        source: {
          kind: "cluster",
          fetchedAt: new Date(NOW.getTime() - 2 * 3_600_000).toISOString(),
          ignored: 2,
          ignoredExamples: ["<b>junk</b>", "total: 2"],
          stale: new SpamExpertsApiError(
            'SpamExperts rejected api_list_domains: "ERROR: <busy>".',
            {
              call: "api_list_domains",
              attempts: 1,
            },
          ),
        },
      }),
      OPTIONS,
    );
    const texts = mrkdwnTexts(stale.blocks).join("\n");
    expect(texts).toContain("the cluster could not be asked again just now");
    expect(texts).toContain("&lt;busy&gt;");
    expect(texts).toContain(
      "2 lines of the cluster's answer were not a domain name and are left out (`&lt;b&gt;junk&lt;/b&gt;`, `total: 2`).",
    );
    expectWithinSlackLimits(stale.blocks);
  });
});

describe("domainListFailedText", () => {
  it("is one sentence saying nothing can be shown, then the client's own, escaped", () => {
    const text = domainListFailedText(new Error('SpamExperts rejected api_list_domains: "<x>".'));
    expect(text).toBe(
      'The cluster\'s domain list could not be read, so there is nothing to show yet. SpamExperts rejected api_list_domains: "&lt;x&gt;".',
    );
  });
});

describe("the domains buttons' values", () => {
  it("read back what was written, and nothing else", () => {
    for (const value of [
      { page: 1 },
      { page: 7, filter: "gone" as const },
      { page: 2, namePart: "bücher.de" },
      { page: 100_000, filter: "none" as const, namePart: ".nl" },
    ]) {
      expect(decodeDomainsValue(encodeDomainsValue(value))).toEqual(value);
    }
    for (const forged of [
      "",
      "p=0",
      "p=1;p=2",
      "p=1;f=everything",
      "p=1;n=a;b",
      "p=1;n=<!here>",
      "p=1;x=1",
      "p=1000000",
      42,
      undefined,
    ]) {
      expect(decodeDomainsValue(forged), String(forged)).toBeUndefined();
    }
    expect(() => encodeDomainsValue({ page: 1, namePart: "a;b" })).toThrow();
  });
});

describe("domainsCsv", () => {
  it("has a row for every domain: state, selector, key age, last DNS verdict, open request", () => {
    const entries = Array.from({ length: 2000 }, (_, index) => entryAt(index));
    const whole: InventoryWhole = {
      source: { kind: "dry-run" },
      counts: COUNTS,
      entries,
    };
    const csv = domainsCsv(whole, NOW);
    expect(csv.filename).toBe("dkim-domains-2026-11-05.csv");
    expect(csv.rows).toBe(2000);
    const lines = csv.content.split("\r\n");
    expect(lines[0]).toBe(DOMAINS_CSV_COLUMNS.join(","));
    expect(lines).toHaveLength(2002);
    expect(lines.at(-1)).toBe("");
    expect(lines.slice(1, 7)).toEqual([
      `customer-00000.example-hosting.net,active,s202605,183,live,${entries[0]?.active?.dnsCheckedAt},,`,
      `customer-00001.example-hosting.net,rotating,s202605,183,live,${entries[1]?.active?.dnsCheckedAt},pending,s202611`,
      `customer-00002.example-hosting.net,problem,s202605,183,missing,${entries[2]?.active?.dnsCheckedAt},,`,
      `customer-00003.example-hosting.net,failed,s202605,,live,${entries[3]?.open?.dnsCheckedAt},failed,s202605`,
      "customer-00004.example-hosting.net,private,,,,,,",
      "customer-00005.example-hosting.net,none,,,,,,",
    ]);
  });
});
