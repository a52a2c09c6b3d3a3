/**
 * The DNS watcher, end to end, polling every second (DKIM_DNS_POLL_SECONDS=1): it says once in
 * the thread that the record is live, and once per distinct problem, however often it polls.
 */
import { describe, expect, it } from "vitest";
import { splitIntoStrings } from "../../src/dkim/record.js";
import {
  currentMessage,
  eventually,
  publish,
  type RequestInSlack,
  recordName,
  replyTexts,
  setUp,
  waitForReply,
} from "./flows.js";
import { useBot } from "./harness.js";
import { textsOf } from "./support.js";

const harness = useBot({ DKIM_DNS_POLL_SECONDS: "1" });

function lookupsOf(request: RequestInSlack): number {
  const name = recordName(request).toLowerCase();
  return harness.dns.queries().filter((query) => query.name === name && query.type === "TXT")
    .length;
}

/** Waits until the watcher has looked the record up `polls` more times (a positive signal). */
async function waitForPolls(request: RequestInSlack, polls: number): Promise<void> {
  const before = lookupsOf(request);
  await eventually(
    () => lookupsOf(request) >= before + polls,
    `${polls} more DNS lookups of ${recordName(request)}`,
    20_000,
  );
}

function repliesMatching(request: RequestInSlack, pattern: RegExp): string[] {
  return replyTexts(harness, request).filter((text) => pattern.test(text));
}

describe("the DNS watcher", () => {
  it("says once that the record is live, after it is published", async () => {
    const request = await setUp(harness, "watch-live.example", "s1");
    // It polls the new request before the record exists: at most one "missing" reply.
    await waitForPolls(request, 1);
    publish(harness, request);

    await waitForReply(harness, request, /\*DNS record is live\*/);
    await waitForPolls(request, 3);
    expect(repliesMatching(request, /\*DNS record is live\*/)).toHaveLength(1);
    expect(repliesMatching(request, /not right yet/).length).toBeLessThanOrEqual(1);
    // The request message shows the new DNS status.
    await harness.slack.waitUntil(
      () =>
        textsOf(currentMessage(harness, request).blocks).some((text) =>
          text.includes("Live and matches the key"),
        ),
      "the request message showing the record live",
    );
  });

  it("names a different key once, not once per poll", async () => {
    const other = await setUp(harness, "watch-other.example", "s1");
    const domain = "watch-wrong.example";
    // Someone published another key's record at this name before the request was made.
    harness.dns.setTxt(`s1._domainkey.${domain}`, splitIntoStrings(other.value));
    const request = await setUp(harness, domain, "s1");

    await waitForReply(harness, request, /different key/);
    await waitForPolls(request, 3);
    expect(repliesMatching(request, /different key/)).toHaveLength(1);
    // Nothing else was wrong at any poll: that is the only reply.
    expect(replyTexts(harness, request)).toHaveLength(1);
  });

  it("names strings out of order once, and says once that it is live when they are fixed", async () => {
    const request = await setUp(harness, "watch-order.example", "s1");
    const strings = splitIntoStrings(request.value, 100);
    expect(strings.length).toBeGreaterThan(2);
    harness.dns.setTxt(recordName(request), [...strings].reverse());

    const wrong = await waitForReply(harness, request, /out of order/);
    expect(wrong.text).toMatch(/not right yet/);
    await waitForPolls(request, 3);
    expect(repliesMatching(request, /out of order/)).toHaveLength(1);

    publish(harness, request);
    await waitForReply(harness, request, /\*DNS record is live\*/);
    await waitForPolls(request, 3);
    expect(repliesMatching(request, /\*DNS record is live\*/)).toHaveLength(1);
    expect(repliesMatching(request, /out of order/)).toHaveLength(1);
  });
});
