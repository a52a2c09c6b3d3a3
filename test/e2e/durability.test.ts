/**
 * An acked command is a promise (issue 9): a burst of setups cut short by SIGKILL or SIGTERM,
 * a card Slack did not take before a kill, an answer lost after Slack posted the card, and a
 * disk that fills up during an apply. Every acked setup ends with its card posted once, or
 * its requester told why not; an apply goes on by itself once the store works again.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACTION_IDS } from "../../src/slack/ui/ids.js";
import { faults } from "../helpers/fake-spamexperts.js";
import {
  CERTIFICATE,
  clickApprove,
  eventually,
  publish,
  requestMessagesFor,
  setUp,
  waitForActive,
} from "./flows.js";
import { CHANNEL, type Harness, REQUESTER, startHarness } from "./harness.js";
import { buttonValue, textsOf } from "./support.js";

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
  await harness.startBot();
});
afterAll(async () => {
  await harness?.close();
});

/** Sends `/dkim setup <domain>` for each domain at once; every one must be acked. */
async function burst(domains: readonly string[]): Promise<Map<string, string>> {
  const responseUrls = new Map(domains.map((domain) => [domain, harness.slack.responseUrl()]));
  const acks = await Promise.all(
    domains.map((domain) =>
      harness.command(`setup ${domain}`, { responseUrl: responseUrls.get(domain) ?? "" }),
    ),
  );
  expect(acks.map((ack) => ack.status)).toEqual(domains.map(() => 200));
  return responseUrls;
}

/** Each acked setup: exactly one card in the channel, or its requester told (and no card). */
async function expectAccountedFor(responseUrls: Map<string, string>): Promise<void> {
  for (const [domain, responseUrl] of responseUrls) {
    await harness.slack.waitUntil(
      () =>
        requestMessagesFor(harness, CHANNEL, domain).length > 0 ||
        harness.slack.responses(responseUrl).length > 0 ||
        harness.slack
          .calls("chat.postEphemeral")
          .some((call) => call.params.user === REQUESTER && call.rawBody.includes(domain)),
      `${domain} posted, or its requester told`,
      60_000,
    );
  }
  // Settle, then: never a second card.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  for (const domain of responseUrls.keys()) {
    expect(requestMessagesFor(harness, CHANNEL, domain).length, domain).toBeLessThanOrEqual(1);
  }
}

describe("a burst of setups cut short", () => {
  it("accounts for every acked setup after a SIGKILL in the middle of the burst", async () => {
    const domains = Array.from({ length: 30 }, (_, index) => `kill-burst-${index}.example`);
    const sent = burst(domains);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const responseUrls = await sent;
    await harness.bot.kill();
    await harness.startBot();
    await expectAccountedFor(responseUrls);
    const posted = domains.filter((d) => requestMessagesFor(harness, CHANNEL, d).length === 1);
    // Nothing was refused: every one of them got its card (some of them marked as late).
    expect(posted).toHaveLength(30);
  });

  it("accounts for every acked setup after a SIGTERM right after the burst, and stops cleanly", async () => {
    const domains = Array.from({ length: 30 }, (_, index) => `term-burst-${index}.example`);
    const responseUrls = await burst(domains);
    expect(await harness.bot.stop()).toBe(0);
    await harness.startBot();
    await expectAccountedFor(responseUrls);
    const late = domains.filter((domain) =>
      textsOf(requestMessagesFor(harness, CHANNEL, domain)[0]?.blocks)
        .join("\n")
        .includes("Posted late"),
    );
    // The stop did not wait for 30 keys: what it left was finished at the next start.
    expect(late.length).toBeGreaterThan(0);
  });
});

describe("cards", () => {
  it("posts the card of a setup Slack did not take before a kill, once, marked as late", async () => {
    harness.slack.fail("chat.postMessage", { kind: "http", status: 503 }, 50);
    await harness.command("setup slack-down.example");
    await eventually(
      () =>
        harness.slack
          .calls("chat.postMessage")
          .some((call) => call.rawBody.includes("slack-down.example")),
      "a try to post the card",
    );
    await harness.bot.kill();
    harness.slack.reset();
    await harness.startBot();
    const card = await harness.slack.waitUntil(
      () => requestMessagesFor(harness, CHANNEL, "slack-down.example")[0],
      "the card, posted by the restarted bot",
      30_000,
    );
    expect(textsOf(card.blocks).join("\n")).toContain("Posted late");
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(requestMessagesFor(harness, CHANNEL, "slack-down.example")).toHaveLength(1);
  });

  it("does not post a card twice when Slack's answer to the post is lost", async () => {
    harness.slack.fail("chat.postMessage", { kind: "lost-answer" }, 1);
    const request = await setUp(harness, "lost-answer.example", "s1");
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(requestMessagesFor(harness, CHANNEL, "lost-answer.example")).toHaveLength(1);
    // The card it found is the request's own: its buttons act on it.
    publish(harness, request);
    await clickApprove(harness, request);
    await waitForActive(harness, request);
    expect(buttonValue(request.posted, ACTION_IDS.approve)).toContain("|SHA256:");
  });
});

/**
 * Whether this process may mount a small tmpfs for DATA_DIR: tried once, for real (root is not
 * enough: a container without CAP_SYS_ADMIN may not mount). Undefined when it may, otherwise
 * why not.
 */
function whyNoMount(): string | undefined {
  if (process.getuid?.() !== 0) return "it needs root to mount a tmpfs";
  const probe = mkdtempSync(join(tmpdir(), "dkim-mount-probe-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe], { stdio: "pipe" });
    execFileSync("umount", [probe], { stdio: "pipe" });
    return undefined;
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    return `mount -t tmpfs failed here (${stderr || String(error)})`;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

const noMount = whyNoMount();
const DISK_FULL = "the disk fills up during an apply";
if (noMount !== undefined) {
  if (process.env.CI === "true") {
    describe(DISK_FULL, () => {
      it("may mount a tmpfs", () => {
        throw new Error(`${DISK_FULL}: ${noMount} (CI=true: CI runs as root with mount rights)`);
      });
    });
  } else {
    console.warn(`Skipping "${DISK_FULL}": ${noMount}.`);
  }
}

/** A small filesystem for DATA_DIR, to fill it up during an apply. */
describe.skipIf(noMount !== undefined)(DISK_FULL, () => {
  let small: Harness;
  const mountPoint = join("/tmp", `dkim-small-${process.pid}`);
  beforeAll(async () => {
    mkdirSync(mountPoint, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=3m", "tmpfs", mountPoint]);
    small = await startHarness();
    await small.startBot({ DATA_DIR: join(mountPoint, "data"), DKIM_LEASE_SECONDS: "2" });
  });
  afterAll(async () => {
    await small?.close();
    try {
      execFileSync("umount", [mountPoint]);
    } catch {
      // already gone
    }
    rmSync(mountPoint, { recursive: true, force: true });
  });

  it("tells the approver, stays Applying, and goes on by itself once there is space again", async () => {
    const request = await setUp(small, "disk-full.example", "s1");
    publish(small, request);
    // The certificate call takes a while: the disk fills up meanwhile.
    small.spamExperts.failNext(CERTIFICATE, faults.slow(1500));
    const responseUrl = await clickApprove(small, request);
    await eventually(
      () => small.spamExperts.requests.some((call) => call.params.call === CERTIFICATE),
      "the certificate call in flight",
    );
    const filler = join(mountPoint, "filler");
    try {
      execFileSync("dd", ["if=/dev/zero", `of=${filler}`, "bs=64k", "count=100"], {
        stdio: "ignore",
      });
    } catch {
      // dd stops at "no space left": the disk is full, which is the point
    }
    const told = await small.slack.waitForResponse((post) => post.url === responseUrl, 20_000);
    expect(JSON.stringify(told.body)).toMatch(/could not record its progress/);
    expect(JSON.stringify(told.body)).toMatch(/goes on by itself/);
    rmSync(filler, { force: true });
    writeFileSync(join(mountPoint, "probe"), "space is back");
    await waitForActive(small, request);
  });
});
