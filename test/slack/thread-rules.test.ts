import { describe, expect, it } from "vitest";
import type { DkimCheckStatus } from "../../src/dkim/check.js";
import type { AuditDetails, AuditEvent, AuditEventKind } from "../../src/requests/model.js";
import {
  dnsStatusOf,
  failureButtonsApply,
  foldsIntoBatch,
  planReply,
  previousDnsOf,
  tellsDnsNews,
} from "../../src/slack/thread-rules.js";

function event(kind: AuditEventKind, details: AuditDetails = {}): AuditEvent {
  return {
    id: 7,
    requestId: "r1",
    at: "2026-11-03T10:42:00.000Z",
    actorId: "system",
    kind,
    details,
  };
}

describe("tellsDnsNews", () => {
  const statuses: Array<DkimCheckStatus | null> = [
    null,
    "missing",
    "live",
    "wrong",
    "lookup-failed",
  ];

  it("is silent about a record not published yet: the card already says so", () => {
    expect(tellsDnsNews(null, "missing")).toBe(false);
    expect(tellsDnsNews("lookup-failed", "missing")).toBe(false);
    expect(tellsDnsNews("missing", "missing")).toBe(false);
  });

  it("tells when the record turns live, or something wrong is published", () => {
    for (const previous of statuses) {
      expect(tellsDnsNews(previous, "live")).toBe(true);
      expect(tellsDnsNews(previous, "wrong")).toBe(true);
    }
  });

  it("tells when a published record goes away", () => {
    expect(tellsDnsNews("live", "missing")).toBe(true);
    expect(tellsDnsNews("wrong", "missing")).toBe(true);
  });

  it("never tells a failed lookup, which says nothing about the record", () => {
    for (const previous of statuses) expect(tellsDnsNews(previous, "lookup-failed")).toBe(false);
  });
});

describe("planReply", () => {
  it("opens the thread with the record's split form", () => {
    expect(planReply(event("created"), null).post).toBe("record");
  });

  it("folds the apply's steps into one reply, opened by the approval, a retry or a resume", () => {
    for (const kind of ["approved", "retried", "resumed"] as const) {
      expect(planReply(event(kind), null)).toEqual({
        post: "apply",
        fold: false,
        closeApply: false,
        alert: false,
      });
    }
    for (const kind of ["certificate-installed", "selector-enabled"] as const) {
      expect(planReply(event(kind), null)).toEqual({
        post: "none",
        fold: true,
        closeApply: false,
        alert: false,
      });
    }
  });

  it("gives the outcome a reply of its own and closes the apply's reply", () => {
    expect(planReply(event("active"), null)).toEqual({
      post: "event",
      fold: true,
      closeApply: true,
      alert: false,
    });
    expect(planReply(event("failed"), null)).toEqual({
      post: "failure",
      fold: true,
      closeApply: true,
      alert: false,
    });
  });

  it("tells what people must act on after Active as notices, in the alert channel too", () => {
    for (const kind of ["monitor-problem", "rotation-due", "retire-due"] as const) {
      expect(planReply(event(kind), null)).toMatchObject({ post: "notice", alert: true });
    }
    expect(planReply(event("monitor-recovered"), null)).toMatchObject({
      post: "event",
      alert: true,
    });
    for (const kind of ["rotation-started", "retiring", "retired"] as const) {
      expect(planReply(event(kind), null)).toMatchObject({ post: "event", alert: false });
    }
  });

  it("tells decisions, the reminder before expiry, and expiry, each as a reply of its own", () => {
    for (const kind of ["rejected", "cancelled", "expiry-reminder", "expired"] as const) {
      expect(planReply(event(kind), null)).toMatchObject({ post: "event", alert: false });
    }
  });

  it("applies the DNS rule to DNS events", () => {
    const missing = event("dns-problem", { status: "missing" });
    expect(planReply(missing, null).post).toBe("none");
    expect(planReply(missing, "live").post).toBe("event");
    expect(planReply(event("dns-live", { status: "live" }), null).post).toBe("event");
    expect(planReply(event("dns-problem", { status: "lookup-failed" }), "live").post).toBe("none");
  });

  it("a happy path with one outgoing user makes at most 5 replies", () => {
    const kinds: AuditEventKind[] = [
      "created",
      "dns-problem",
      "dns-live",
      "approved",
      "certificate-installed",
      "selector-enabled",
      "active",
    ];
    let previous: DkimCheckStatus | null = null;
    let posted = 0;
    for (const kind of kinds) {
      const status = kind === "dns-live" ? "live" : "missing";
      const each = event(kind, kind.startsWith("dns") ? { status } : {});
      if (planReply(each, previous).post !== "none") posted++;
      if (kind.startsWith("dns")) previous = status;
    }
    expect(posted).toBe(4);
  });
});

describe("the DNS verdicts of events", () => {
  it("reads the status an event carries, or what its kind implies", () => {
    expect(dnsStatusOf(event("dns-problem", { status: "wrong" }))).toBe("wrong");
    expect(dnsStatusOf(event("dns-live"))).toBe("live");
    expect(dnsStatusOf(event("dns-problem", { status: "nonsense" }))).toBe("missing");
  });

  it("prefers the event's own `previous` to what the notifier remembers", () => {
    expect(previousDnsOf(event("dns-problem", { previous: "live" }), "missing")).toBe("live");
    expect(previousDnsOf(event("dns-problem", { previous: null }), "live")).toBe(null);
    expect(previousDnsOf(event("dns-problem"), "wrong")).toBe("wrong");
    expect(previousDnsOf(event("dns-problem"), undefined)).toBe(null);
  });
});

describe("failureButtonsApply", () => {
  it("keeps Retry only while the request is failed", () => {
    expect(failureButtonsApply({ state: "failed" })).toBe(true);
    for (const state of ["applying", "active", "pending"] as const) {
      expect(failureButtonsApply({ state })).toBe(false);
    }
  });
});

describe("foldsIntoBatch", () => {
  it("folds everything up to the key signing into the batch card, not what comes after", () => {
    for (const kind of [
      "created",
      "dns-live",
      "approved",
      "selector-enabled",
      "active",
      "failed",
    ] as const) {
      expect(foldsIntoBatch({ kind }), kind).toBe(true);
    }
    for (const kind of [
      "monitor-problem",
      "monitor-recovered",
      "rotation-due",
      "retire-due",
      "retiring",
    ] as const) {
      expect(foldsIntoBatch({ kind }), kind).toBe(false);
    }
  });
});
