import type { Button } from "@slack/types";
import { describe, expect, it } from "vitest";
import type {
  AuditDetails,
  AuditEvent,
  AuditEventKind,
  DkimRequest,
} from "../../../src/requests/model.js";
import { ACTION_IDS, BLOCK_IDS, decodeActionValue } from "../../../src/slack/ui/ids.js";
import {
  failedEventBlocks,
  threadEventMessage,
  threadEventText,
} from "../../../src/slack/ui/thread-event.js";
import { sampleRequest } from "../../helpers/sample-request.js";

const AT = "2026-11-03T10:42:00.000Z";
const UNIX = Date.parse(AT) / 1000;

const request: DkimRequest = sampleRequest({
  publicKeyBase64: "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA",
  recordValue: "v=DKIM1; k=rsa; p=MIIB",
  state: "failed",
  decidedBy: "U0APPROVER",
  decidedAt: AT,
  createdAt: AT,
  updatedAt: AT,
});

function event(kind: AuditEventKind, actorId: string, details: AuditDetails = {}): AuditEvent {
  return { id: 1, requestId: request.id, at: AT, actorId, kind, details };
}

const ALL_KINDS: AuditEventKind[] = [
  "created",
  "dns-live",
  "dns-problem",
  "approved",
  "certificate-installed",
  "selector-enabled",
  "active",
  "failed",
  "retried",
  "rejected",
  "cancelled",
  "expired",
  "resumed",
];

describe("threadEventText", () => {
  it.each(ALL_KINDS)("%s shows the actor and the time", (kind) => {
    for (const dryRun of [false, true]) {
      const person = threadEventText(event(kind, "U0PERSON"), request, { dryRun });
      expect(person).toContain("<@U0PERSON>");
      expect(person).toContain(`<!date^${UNIX}^{date_short_pretty} {time}|2026-11-03 10:42 UTC>`);
      const system = threadEventText(event(kind, "system"), request, { dryRun });
      expect(system).toContain("dkim-bot");
      expect(system).not.toContain("<@system>");
      expect(person.length).toBeLessThan(4000);
    }
  });

  it("each kind reads differently", () => {
    const heads = ALL_KINDS.map(
      (kind) =>
        threadEventText(event(kind, "U0PERSON"), request, { dryRun: false }).split(" · ")[0],
    );
    expect(new Set(heads).size).toBe(ALL_KINDS.length);
  });

  it("quotes the API's own words on success and on failure", () => {
    const installed = threadEventText(
      event("certificate-installed", "U0APPROVER", {
        call: "api_set_dkim_certificate",
        apiText: "DKIM certificate set",
      }),
      request,
      { dryRun: false },
    );
    expect(installed).toContain("The API said:\n> DKIM certificate set");

    const failed = threadEventText(
      event("failed", "U0APPROVER", {
        call: "api_set_dkim_selector",
        username: "mailer@example.com",
        apiText: "ERROR: Unknown user\nsecond line",
      }),
      request,
      { dryRun: false },
    );
    expect(failed).toContain("`api_set_dkim_selector` for `mailer@example.com` failed.");
    expect(failed).toContain("> ERROR: Unknown user\n> second line");
    expect(failed).toContain("Retry");
  });

  it("shows a plain error when there is no API text", () => {
    const failed = threadEventText(
      event("failed", "system", { error: "The cluster did not answer in 15 s." }),
      request,
      { dryRun: false },
    );
    expect(failed).toContain("> The cluster did not answer in 15 s.");
  });

  it("shows the bot's sentence with what to do, and the API's text once", () => {
    const sentence =
      'SpamExperts does not know the domain example.com: "ERROR: No such domain"; add the domain to the cluster (or check its spelling) and try again.';
    const failed = threadEventText(
      event("failed", "system", {
        step: "certificate",
        error: sentence,
        apiText: "ERROR: No such domain",
      }),
      request,
      { dryRun: false },
    );
    expect(failed).toContain(`> ${sentence}`);
    expect(failed.split("ERROR: No such domain")).toHaveLength(2);
    expect(failed).not.toContain("The API said:");
  });

  it("shows the DNS summary and problem sentence", () => {
    const live = threadEventText(
      event("dns-live", "system", { summary: "Live and matches the key." }),
      request,
      { dryRun: false },
    );
    expect(live).toContain("Live and matches the key.");
    const problem = threadEventText(
      event("dns-problem", "system", {
        summary: "Published, but the key is cut short.",
        message: "The record is cut short: p= has 200 of 392 characters.",
      }),
      request,
      { dryRun: false },
    );
    expect(problem).toContain("Published, but the key is cut short.");
    expect(problem).toContain("p= has 200 of 392 characters.");
  });

  it("shows the reject reason, escaped", () => {
    const text = threadEventText(
      event("rejected", "U0APPROVER", { reason: "Wrong selector <!channel>" }),
      request,
      { dryRun: false },
    );
    expect(text).toContain("> Wrong selector &lt;!channel&gt;");
    expect(text).not.toContain("<!channel>");
  });

  it("in a dry run says which call would have been made, in code", () => {
    const description =
      "api_set_dkim_certificate(domain=example.com, certificate=[redacted: 2048-bit RSA private key, SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU], selector=s202611)";
    const cert = threadEventText(
      event("certificate-installed", "U0APPROVER", { description }),
      request,
      { dryRun: true },
    );
    expect(cert).toContain("DRY RUN");
    expect(cert).toContain(`\`\`\`${description}\`\`\``);
    const selector = threadEventText(
      event("selector-enabled", "U0APPROVER", { username: "example.com" }),
      request,
      { dryRun: true },
    );
    expect(selector).toContain("DRY RUN");
    expect(selector).toContain(
      "```api_set_dkim_selector(domain=example.com, selector=s202611, username=example.com)```",
    );
    const real = threadEventText(
      event("selector-enabled", "U0APPROVER", { username: "example.com" }),
      request,
      { dryRun: false },
    );
    expect(real).not.toContain("DRY RUN");
  });

  it("reads the details as the request service writes them", () => {
    const installed = threadEventText(
      event("certificate-installed", "system", {
        call: "api_set_dkim_certificate",
        text: "Certificate saved",
        attempts: 1,
        dryRun: false,
      }),
      request,
      { dryRun: false },
    );
    expect(installed).toContain("> Certificate saved");

    const recorded = threadEventText(
      event("certificate-installed", "system", {
        call: "api_set_dkim_certificate",
        text: "",
        attempts: 0,
        dryRun: true,
      }),
      request,
      { dryRun: false },
    );
    expect(recorded).toContain("DRY RUN");
    expect(recorded).toContain(
      `\`\`\`api_set_dkim_certificate(domain=example.com, certificate=[redacted: 2048-bit RSA private key, ${request.fingerprint}], selector=s202611)\`\`\``,
    );
    expect(recorded).not.toContain(request.publicKeyBase64);

    const approved = threadEventText(
      event("approved", "U0APPROVER", {
        fingerprint: request.fingerprint,
        via: "button",
        dns: "Live and matches the key.",
      }),
      request,
      { dryRun: false },
    );
    expect(approved).toContain("DNS: Live and matches the key.");

    for (const [step, expected] of [
      ["certificate", "Installing the certificate failed."],
      ["selector for mailer@example.com", "Enabling signing for `mailer@example.com` failed."],
    ]) {
      const failed = threadEventText(
        event("failed", "system", {
          step: step ?? "",
          error: 'The API refused api_set_dkim_selector: "ERROR: no such user"',
          code: "SPAMEXPERTS_API_ERROR",
        }),
        request,
        { dryRun: false },
      );
      expect(failed).toContain(expected ?? "");
      expect(failed).toContain('> The API refused api_set_dkim_selector: "ERROR: no such user"');
    }

    const expired = threadEventText(event("expired", "system", { ttlDays: 14 }), request, {
      dryRun: false,
    });
    expect(expired).toContain("within 14 days");
  });

  it("never shows key material, even if a detail carried some by mistake", () => {
    const text = threadEventText(
      event("failed", "system", {
        apiText: "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
      }),
      request,
      { dryRun: false },
    );
    expect(text).not.toContain("BEGIN RSA");
    expect(text).not.toContain("MIIEowIBAAKCAQEA");
  });
});

describe("failedEventBlocks", () => {
  it("puts a Retry button for the request under the failure while it is failed", () => {
    const blocks = failedEventBlocks(event("failed", "U0APPROVER"), request, { dryRun: false });
    const actions = blocks.find((block) => block.type === "actions");
    expect(actions?.block_id).toBe(BLOCK_IDS.failedActions);
    const retry = actions?.type === "actions" ? (actions.elements[0] as Button) : undefined;
    expect(retry?.action_id).toBe(ACTION_IDS.retry);
    expect(decodeActionValue(retry?.value)).toEqual({ requestId: request.id });
  });

  it("leaves the button out once the request moved on", () => {
    const blocks = failedEventBlocks(
      event("failed", "U0APPROVER"),
      { ...request, state: "active" },
      { dryRun: false },
    );
    expect(blocks.some((block) => block.type === "actions")).toBe(false);
  });

  it("threadEventMessage adds blocks only for failures", () => {
    expect(threadEventMessage(event("approved", "U0A"), request, { dryRun: false }).blocks).toBe(
      undefined,
    );
    expect(
      threadEventMessage(event("failed", "U0A"), request, { dryRun: false }).blocks?.length,
    ).toBe(2);
  });
});
