/**
 * The bot publishes the records itself (issue 15), end to end against a real BIND 9 with a
 * TSIG key whose update-policy allows only TXT at *._domainkey.example.test (started by
 * scripts/test-servers/start-bind.sh): setup -> published -> live -> approved -> active;
 * rotation -> the old record revoked -> retired; a request that ends unused (cancelled,
 * rejected, expired) gets its record removed; a foreign record at the name left alone; a
 * domain outside the zones stays manual; a wrong TSIG secret is refused by BIND. Against
 * PowerDNS's API: the same life, and a bulk setup that publishes every record of its batch.
 * Each outcome is checked in DNS itself, as a resolver asking the zone's server sees it.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createTxtLookup } from "../../src/dkim/dns.js";
import { ACTION_IDS } from "../../src/slack/ui/ids.js";
import { bindFromEnv, describeWithServer, powerDnsFromEnv } from "../dns-publish/test-servers.js";
import { attachedRecords, bulkSetUp, waitForCard } from "./batch-flows.js";
import {
  clickApprove,
  clickButton,
  openRejectForm,
  publish,
  type RequestInSlack,
  recordName,
  requestMessagesFor,
  setUp,
  submitRejectForm,
  waitForActive,
  waitForFinal,
  waitForReply,
  waitForState,
} from "./flows.js";
import { CHANNEL, type Harness, REQUESTER, startHarness } from "./harness.js";
import { recordValueShown, textsOf } from "./support.js";

/** The values the zone's server gives for `name` (strings joined), [] when it has none. */
function servedBy(server: string): (name: string) => Promise<string[]> {
  const lookup = createTxtLookup({ servers: [server], timeoutMs: 3000, tries: 2 });
  return async (name) => {
    const result = await lookup(name);
    if (result.kind === "nxdomain" || result.kind === "no-txt") return [];
    if (result.kind !== "found") throw new Error(`lookup of ${name}: ${result.kind}`);
    return result.records.map((strings) => strings.join(""));
  };
}

/** Waits until the zone's server gives `values` at `name` (asking every 200 ms). */
async function untilServed(
  served: (name: string) => Promise<string[]>,
  name: string,
  values: string[],
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string[] = [];
  while (Date.now() < deadline) {
    last = await served(name);
    if (JSON.stringify(last) === JSON.stringify(values)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${name}: served ${JSON.stringify(last)}, not ${JSON.stringify(values)}`);
}

const bind = bindFromEnv();

describeWithServer("publishing to BIND (RFC 2136 with TSIG)", bind, "start-bind.sh", (server) => {
  let harness: Harness;
  const env = (secret = process.env.DKIM_TEST_BIND_TSIG_SECRET ?? "") => ({
    DKIM_DNS_PUBLISH_PROVIDER: "rfc2136",
    DKIM_DNS_PUBLISH_SERVER: server.address,
    DKIM_DNS_PUBLISH_TSIG_NAME: process.env.DKIM_TEST_BIND_TSIG_NAME ?? "",
    DKIM_DNS_PUBLISH_TSIG_ALGORITHM: process.env.DKIM_TEST_BIND_TSIG_ALGORITHM ?? "hmac-sha256",
    DKIM_DNS_PUBLISH_TSIG_SECRET: secret,
    DKIM_DNS_PUBLISH_ZONES: server.zone,
    // Lookups go to the zone's own server, as the world's resolvers would end up there.
    DKIM_DNS_SERVERS: server.address,
    DKIM_DNS_POLL_SECONDS: "1",
    DKIM_MONITOR_HOURS: "0.0003",
    DKIM_ROTATION_OVERLAP_DAYS: "0.00003",
  });
  beforeAll(async () => {
    harness = await startHarness();
    await harness.startBot(env());
  });
  afterAll(async () => {
    await harness?.close();
  });
  /** A selector no other run of the tests used on the shared server. */
  const fresh = (prefix: string) => `${prefix}${randomBytes(3).toString("hex")}`;

  it("publishes the record itself, sees it live, and the approval makes it active", async () => {
    const request = await setUp(harness, server.zone, fresh("p"));
    old = request;
    expect(textsOf(request.posted.blocks).join("\n")).toContain(
      `dkim-bot publishes the TXT record in zone \`${server.zone}\` itself`,
    );
    await waitForReply(harness, request, /\*Published\* in zone `example\.test` by dkim-bot/);
    await waitForReply(harness, request, /DNS record is live/, 20_000);
    await clickApprove(harness, request);
    await waitForActive(harness, request);
  });

  /**
   * The zone's policy lets the key write only <selector>._domainkey.example.test, so the tests
   * go through one domain's life: each further key is a rotation of example.test.
   */
  async function rotation(selector: string): Promise<RequestInSlack> {
    const before = requestMessagesFor(harness, CHANNEL, server.zone).length;
    await harness.command(`rotate ${server.zone} selector=${selector}`);
    const card = await harness.slack.waitUntil(
      () => requestMessagesFor(harness, CHANNEL, server.zone)[before],
      "the rotation's card",
    );
    return {
      domain: server.zone,
      selector,
      channel: CHANNEL,
      ts: card.ts,
      value: recordValueShown(card),
      posted: structuredClone(card),
    };
  }
  let old: RequestInSlack;

  it("revokes the old record after a rotation's overlap, and the old key is retired", async () => {
    const next = await rotation(fresh("n"));
    await waitForReply(harness, next, /DNS record is live/, 20_000);
    await clickApprove(harness, next);
    await waitForActive(harness, next);
    await waitForState(harness, old, "Retiring");
    await waitForReply(
      harness,
      old,
      /\*Record revoked\* in zone `example\.test` by dkim-bot/,
      30_000,
    );
    await waitForState(harness, old, "Retired", 30_000);
    // Revoked, not removed: the name holds the empty key, and the new key's record is there.
    const served = servedBy(server.address);
    expect(await served(recordName(old))).toEqual(["v=DKIM1; k=rsa; p="]);
    expect(await served(recordName(next))).toEqual([next.value]);
  });

  it("removes the record of a request that ends without being used", async () => {
    const request = await rotation(fresh("c"));
    await waitForReply(harness, request, /\*Published\* in zone/, 20_000);
    await clickButton(harness, request.posted, ACTION_IDS.cancel, { userId: REQUESTER });
    await waitForReply(
      harness,
      request,
      /\*Record removed\* from zone `example\.test` by dkim-bot/,
      20_000,
    );
    expect(await servedBy(server.address)(recordName(request))).toEqual([]);
  });

  it("removes the record of a rejected request", async () => {
    const served = servedBy(server.address);
    const request = await rotation(fresh("r"));
    await waitForReply(harness, request, /\*Published\* in zone/, 20_000);
    await untilServed(served, recordName(request), [request.value]);
    const form = await openRejectForm(harness, request);
    await submitRejectForm(harness, form, "not this one");
    await waitForFinal(harness, request, "Rejected");
    await waitForReply(
      harness,
      request,
      /\*Record removed\* from zone `example\.test` by dkim-bot/,
      20_000,
    );
    expect(await served(recordName(request))).toEqual([]);
  });

  it("leaves a record it did not write alone, and says so", async () => {
    // start-bind.sh puts someone else's DKIM record at foreign._domainkey.example.test.
    const request = await rotation("foreign");
    const reply = await waitForReply(harness, request, /Could not publish the record/, 20_000);
    expect(reply.text).toMatch(/another TXT record .* the bot did not write/);
    expect(reply.text).toContain("publish it by hand");
    // The requester withdraws it; the foreign record is still there, untouched.
    await clickButton(harness, request.posted, ACTION_IDS.cancel, { userId: REQUESTER });
    await waitForState(harness, request, "Cancelled");
  });

  it("keeps a domain outside the managed zones manual", async () => {
    const request = await setUp(harness, `manual-${randomBytes(2).toString("hex")}.example`, "s1");
    expect(textsOf(request.posted.blocks).join("\n")).toContain("publishes the TXT record below");
    publish(harness, request);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(
      harness.slack
        .threadReplies(request.channel, request.ts)
        .some((reply) => /Published/.test(reply.text ?? "")),
    ).toBe(false);
  });

  it("tells a TSIG secret BIND refuses in the thread, with what to fix", async () => {
    await harness.bot.stop();
    await harness.startBot(env(randomBytes(32).toString("base64")));
    const request = await rotation(fresh("t"));
    const reply = await waitForReply(harness, request, /Could not publish the record/, 20_000);
    expect(reply.text).toContain("refused the TSIG signature");
    expect(reply.text).toContain("DKIM_DNS_PUBLISH_TSIG_SECRET");
  });
});

const powerDns = powerDnsFromEnv();

/** The bot's settings to publish through PowerDNS's API and watch its DNS server. */
function publishingTo(server: { zone: string; dnsAddress: string }): Record<string, string> {
  return {
    DKIM_DNS_PUBLISH_PROVIDER: "powerdns",
    DKIM_DNS_PUBLISH_URL: process.env.DKIM_TEST_PDNS_URL ?? "",
    DKIM_DNS_PUBLISH_API_KEY: process.env.DKIM_TEST_PDNS_API_KEY ?? "",
    DKIM_DNS_PUBLISH_SERVER_ID: process.env.DKIM_TEST_PDNS_SERVER_ID ?? "localhost",
    DKIM_DNS_PUBLISH_ZONES: server.zone,
    DKIM_DNS_SERVERS: server.dnsAddress,
    DKIM_DNS_POLL_SECONDS: "1",
  };
}

describeWithServer(
  "publishing to PowerDNS (its HTTP API)",
  powerDns,
  "start-powerdns.sh",
  (server) => {
    let harness: Harness;
    beforeAll(async () => {
      harness = await startHarness();
      await harness.startBot({
        ...publishingTo(server),
      });
    });
    afterAll(async () => {
      await harness?.close();
    });

    it("publishes through the API, sees the record live at PowerDNS, and applies on approval", async () => {
      const domain = `shop-${randomBytes(3).toString("hex")}.${server.zone}`;
      const request = await setUp(harness, domain, "s1");
      await waitForReply(harness, request, /\*Published\* in zone/, 20_000);
      await waitForReply(harness, request, /DNS record is live/, 20_000);
      await clickApprove(harness, request);
      await waitForActive(harness, request);
      // The API key never appears in what the bot sent to Slack or logged.
      const key = process.env.DKIM_TEST_PDNS_API_KEY ?? "unset";
      expect(harness.slack.calls().some((call) => call.rawBody.includes(key))).toBe(false);
      expect(harness.allLines.some((line) => line.includes(key))).toBe(false);
    });

    it("publishes every record of a bulk setup, and the batch sees them all live", async () => {
      const served = servedBy(server.dnsAddress);
      const tag = randomBytes(3).toString("hex");
      const domains = [1, 2, 3].map((n) => `bulk${n}-${tag}.${server.zone}`);
      const batch = await bulkSetUp(harness, domains);
      const { rows } = await attachedRecords(harness, batch);
      expect(rows.map((row) => row[0]?.replace(/^[^.]+\._domainkey\./, ""))).toEqual(domains);
      // Nobody published anything by hand: every record is in the zone, as the CSV gives it.
      for (const [name, , value] of rows) {
        await untilServed(served, name ?? "", [value ?? ""]);
      }
      await waitForCard(harness, batch, /Approve all live \(3\)/);
    });
  },
);

describeWithServer(
  "publishing to PowerDNS, for a request that expires",
  powerDns,
  "start-powerdns.sh",
  (server) => {
    let harness: Harness;
    beforeAll(async () => {
      harness = await startHarness();
      await harness.startBot({
        ...publishingTo(server),
        // About 17 s: the request expires unapproved during the test.
        DKIM_REQUEST_TTL_DAYS: "0.0002",
      });
    });
    afterAll(async () => {
      await harness?.close();
    });

    it("removes the record of a request that expires unapproved", async () => {
      const served = servedBy(server.dnsAddress);
      const domain = `expiring-${randomBytes(3).toString("hex")}.${server.zone}`;
      const request = await setUp(harness, domain, "s1");
      await waitForReply(harness, request, /\*Published\* in zone/, 20_000);
      await untilServed(served, recordName(request), [request.value]);
      await waitForReply(harness, request, /\*Expired\*/, 40_000);
      await waitForFinal(harness, request, "Expired");
      await waitForReply(harness, request, /\*Record removed\* from zone `example\.test`/, 20_000);
      expect(await served(recordName(request))).toEqual([]);
    });
  },
);
