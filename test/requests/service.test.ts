import { afterEach, describe, expect, it } from "vitest";
import type { DkimKeyPair } from "../../src/dkim/keys.js";
import { CodedError, InputError } from "../../src/errors.js";
import { ActionRefusedError, RequestConflictError } from "../../src/requests/errors.js";
import type { AuditEventKind, DkimRequest } from "../../src/requests/model.js";
import type { CreateRequestInput } from "../../src/requests/service.js";
import { SpamExpertsUnknownDomainError } from "../../src/spamexperts/errors.js";
import { DIALECTS } from "../helpers/test-stores.js";
import {
  APPROVER,
  CHANNEL,
  createHarness,
  dnsResult,
  findKeyMaterial,
  GROUP_MEMBER,
  type Harness,
  OTHER_APPROVER,
  privateOnlyPieces,
  REQUESTER,
  readAllFiles,
  START,
  STRANGER,
} from "./support.js";

/** Past the apply lease of a process that died at START (the service's default is 30 s). */
const AFTER_LEASE = new Date(Date.parse(START) + 60_000).toISOString();

describe.each(DIALECTS)("the request service on %s", (dialect) => {
  const harnesses: Harness[] = [];
  async function harness(overrides: Parameters<typeof createHarness>[0] = {}): Promise<Harness> {
    const created = await createHarness({ dialect, ...overrides });
    harnesses.push(created);
    return created;
  }
  afterEach(async () => {
    for (const each of harnesses.splice(0)) await each.close();
  });

  const input = (overrides: Partial<CreateRequestInput> = {}): CreateRequestInput => ({
    domain: "Example.COM",
    selector: "s1",
    bits: 1024,
    requesterId: REQUESTER,
    channelId: CHANNEL,
    ...overrides,
  });

  async function refusal(action: Promise<unknown>): Promise<ActionRefusedError> {
    try {
      await action;
    } catch (error) {
      if (error instanceof ActionRefusedError) return error;
      throw error;
    }
    throw new Error("expected the action to be refused");
  }

  function generatedKey(h: Harness): DkimKeyPair {
    const keyPair = h.generated[0];
    if (keyPair === undefined) throw new Error("no key was generated");
    return keyPair;
  }

  /** Resolves once `condition` holds, checking on every turn of the event loop. */
  async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
    while (!(await condition())) await new Promise((resolve) => setImmediate(resolve));
  }

  async function kinds(h: Harness, id: string): Promise<AuditEventKind[]> {
    return (await h.store.listEvents(id)).map((event) => event.kind);
  }

  describe("create", () => {
    it("validates, generates, seals and stores, and returns what the UI shows", async () => {
      const h = await harness();
      const { request, record } = await h.service.create(
        input({
          usernames: ["mailer@example.com", "example.com"],
          reason: " rotation ",
          testing: true,
        }),
      );
      const keyPair = h.generated[0];
      expect(h.generated).toHaveLength(1);
      expect(request).toMatchObject({
        domain: "example.com",
        selector: "s1",
        bits: 1024,
        usernames: ["mailer@example.com", "example.com"],
        testing: true,
        reason: "rotation",
        requesterId: REQUESTER,
        channelId: CHANNEL,
        messageTs: null,
        state: "pending",
        publicKeyBase64: keyPair?.publicKeyBase64,
        fingerprint: keyPair?.fingerprint,
        createdAt: "2026-11-26T10:00:00.000Z",
      });
      expect(request.id).toMatch(/^[0-9a-z]{12}$/);
      expect(record.name).toBe("s1._domainkey.example.com");
      expect(record.value).toBe(`v=DKIM1; k=rsa; t=y; p=${keyPair?.publicKeyBase64}`);
      expect(record.strings.join("")).toBe(record.value);
      expect(record.strings.every((piece) => piece.length <= 255)).toBe(true);
      expect(await h.service.get(request.id)).toEqual(request);
      expect(await h.store.readPrivateKey(request.id)).toBe(keyPair?.privateKeyPem);
      expect(h.emitted.map(({ event }) => event.kind)).toEqual(["created"]);
      expect(h.emitted[0]?.event).toMatchObject({ actorId: REQUESTER, requestId: request.id });
    });

    it("defaults: the domain as outgoing user, a dated selector, the configured key size", async () => {
      const h = await harness();
      const { request } = await h.service.create(input({ selector: undefined, bits: undefined }));
      expect(request.usernames).toEqual(["example.com"]);
      expect(request.selector).toBe("s202611");
      expect(request.bits).toBe(1024);
    });

    it("checks every input before a key is generated", async () => {
      const h = await harness();
      const cases: Array<[Partial<CreateRequestInput>, string]> = [
        [{ domain: "exa mple.com" }, "domain"],
        [{ domain: "https://example.com" }, "domain"],
        [{ selector: "-bad" }, "selector"],
        [{ selector: "s1&x=y" }, "selector"],
        [{ bits: 3000 }, "bits"],
        [{ bits: 512 }, "bits"],
        [{ usernames: ["mail er@example.com"] }, "user"],
        [{ reason: "x".repeat(501) }, "reason"],
        [
          {
            selector: "a".repeat(63),
            domain: `${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(50)}.com`,
          },
          "selector",
        ],
      ];
      for (const [overrides, field] of cases) {
        const error = await h.service.create(input(overrides)).then(
          () => undefined,
          (caught: unknown) => caught,
        );
        expect(error, JSON.stringify(overrides)).toBeInstanceOf(InputError);
        expect((error as InputError).field).toBe(field);
      }
      expect(h.generated).toHaveLength(0);
      expect(await h.service.list()).toEqual([]);
    });

    it("finds every input problem at once for a form, and a clash, without making a key", async () => {
      const h = await harness();
      const problems = await h.service.findInputProblems(
        input({
          domain: "exa mple.com",
          selector: "-s",
          bits: 3000,
          usernames: ["a b", "ok@example.com"],
        }),
      );
      expect(problems.map((problem) => problem.field)).toEqual([
        "domain",
        "selector",
        "bits",
        "user",
      ]);
      expect(problems.every((problem) => problem.message.length > 0)).toBe(true);
      expect(await h.service.findInputProblems(input())).toEqual([]);
      const { request } = await h.service.create(input());
      expect(await h.service.findInputProblems(input())).toEqual([
        {
          field: "selector",
          message: expect.stringContaining(
            `Request ${request.id} for s1._domainkey.example.com is still open`,
          ),
        },
      ]);
      expect(h.generated).toHaveLength(1);
    });

    it("says why a key size is refused", async () => {
      const h = await harness();
      await expect(h.service.create(input({ bits: 3000 }))).rejects.toThrow(
        "3000-bit keys are not offered: choose 1024, 2048 (recommended) or 4096",
      );
    });

    it("refuses a second open request for the same domain and selector, before generating", async () => {
      const h = await harness();
      const { request: first } = await h.service.create(input());
      const error = await h.service
        .create(input({ domain: "example.com." }))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RequestConflictError);
      expect((error as RequestConflictError).code).toBe("REQUEST_CONFLICT");
      expect((error as RequestConflictError).message).toBe(
        `Request ${first.id} for s1._domainkey.example.com is still open (pending since ${first.createdAt.slice(0, 10)}; see /dkim status example.com). Finish, reject or cancel it first, or choose another selector.`,
      );
      expect(h.generated).toHaveLength(1);
      await h.service.create(input({ selector: "s2" }));
      await h.service.cancel(first.id, { actorId: REQUESTER });
      await h.service.create(input());
      expect(h.generated).toHaveLength(3);
    });

    it("lets only one of two simultaneous creates for the same pair through", async () => {
      const h = await harness();
      const results = await Promise.allSettled([
        h.service.create(input()),
        h.service.create(input()),
      ]);
      expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(1);
      const failed = results.find((result) => result.status === "rejected");
      expect(failed?.status === "rejected" && failed.reason).toBeInstanceOf(RequestConflictError);
      expect(await h.service.list()).toHaveLength(1);
    });

    it("records where the request message lives", async () => {
      const h = await harness();
      const { request } = await h.service.create(input());
      const attached = await h.service.attachMessage(request.id, "COTHER", "1700000000.000100");
      expect(attached).toMatchObject({ channelId: "COTHER", messageTs: "1700000000.000100" });
      expect((await h.service.get(request.id))?.messageTs).toBe("1700000000.000100");
    });
  });

  describe("approve and apply", () => {
    it("installs the certificate, enables each user, goes active and erases the key", async () => {
      const h = await harness();
      const { request } = await h.service.create(
        input({ usernames: ["mailer@example.com", "example.com"] }),
      );
      const done = await h.service.approve(request.id, {
        actorId: APPROVER,
        fingerprintShown: request.fingerprint,
      });
      expect(done).toMatchObject({
        state: "active",
        decidedBy: APPROVER,
        decidedAt: "2026-11-26T10:00:00.000Z",
        progress: {
          certificateInstalled: true,
          enabledUsernames: ["mailer@example.com", "example.com"],
        },
        lastDnsCheck: { status: "live", problemCode: null },
      });
      expect(h.api.calls.map(({ call, username }) => [call, username])).toEqual([
        ["api_set_dkim_certificate", undefined],
        ["api_set_dkim_selector", "mailer@example.com"],
        ["api_set_dkim_selector", "example.com"],
      ]);
      expect(h.api.certificateCalls()[0]).toMatchObject({
        domain: "example.com",
        selector: "s1",
        privateKeyPem: h.generated[0]?.privateKeyPem,
      });
      expect(h.dns.calls).toEqual([
        { domain: "example.com", selector: "s1", publicKeyBase64: request.publicKeyBase64 },
      ]);
      expect(await kinds(h, request.id)).toEqual([
        "created",
        "dns-live",
        "approved",
        "certificate-installed",
        "selector-enabled",
        "selector-enabled",
        "active",
      ]);
      expect(h.emitted.map(({ event }) => event.kind)).toEqual(await kinds(h, request.id));
      const approved = (await h.store.listEvents(request.id)).find(
        (event) => event.kind === "approved",
      );
      expect(approved).toMatchObject({
        actorId: APPROVER,
        details: { fingerprint: request.fingerprint },
      });
      expect(await h.store.readPrivateKey(request.id)).toBeUndefined();
    });

    it("accepts a member of an approver group", async () => {
      const h = await harness();
      const { request } = await h.service.create(input());
      const done = await h.service.approve(request.id, {
        actorId: GROUP_MEMBER,
        fingerprintShown: request.fingerprint,
      });
      expect(done.state).toBe("active");
      const approved = (await h.store.listEvents(request.id)).find(
        (event) => event.kind === "approved",
      );
      expect(approved?.details.via).toBe("SMAILOPS");
    });

    it("skips the DNS check when DKIM_REQUIRE_DNS is off", async () => {
      const h = await harness({
        policy: { approvers: [APPROVER], allowSelfApproval: false, requireDns: false, ttlDays: 14 },
      });
      h.dns.answer(dnsResult("missing", { problem: "missing" }));
      const { request } = await h.service.create(input());
      const done = await h.service.approve(request.id, {
        actorId: APPROVER,
        fingerprintShown: request.fingerprint,
      });
      expect(done.state).toBe("active");
      expect(h.dns.calls).toHaveLength(0);
    });

    it("works against the dry-run client too", async () => {
      const { createDryRunClient } = await import("../../src/spamexperts/dry-run.js");
      const dryRun = createDryRunClient();
      const h = await harness({ dkimApi: dryRun });
      const { request } = await h.service.create(input());
      const done = await h.service.approve(request.id, {
        actorId: APPROVER,
        fingerprintShown: request.fingerprint,
      });
      expect(done.state).toBe("active");
      expect(dryRun.calls.map((call) => call.call)).toEqual([
        "api_set_dkim_certificate",
        "api_set_dkim_selector",
      ]);
      const installed = (await h.store.listEvents(request.id)).find(
        (e) => e.kind === "certificate-installed",
      );
      expect(installed?.details).toMatchObject({ dryRun: true });
      expect((await h.store.listEvents(request.id)).at(-1)?.details).toMatchObject({
        dryRun: true,
      });
    });
  });

  describe("approval refusals", () => {
    const approveAs = (h: Harness, request: DkimRequest, actorId: string, fingerprint?: string) =>
      h.service.approve(request.id, {
        actorId,
        fingerprintShown: fingerprint ?? request.fingerprint,
      });

    it("refuses someone who is not an approver, naming who can", async () => {
      const h = await harness();
      const { request } = await h.service.create(input());
      const error = await refusal(approveAs(h, request, STRANGER));
      expect(error.code).toBe("APPROVAL_REFUSED");
      expect(error.reason).toBe("not-approver");
      expect(error.message).toBe(
        `Only <@${APPROVER}>, <@${OTHER_APPROVER}> or members of <!subteam^SMAILOPS> can approve DKIM requests: ask one of them.`,
      );
      expect(h.api.calls).toHaveLength(0);
      expect((await h.service.get(request.id))?.state).toBe("pending");
    });

    it("says so plainly when no approver is configured", async () => {
      const h = await harness({
        policy: { approvers: [], allowSelfApproval: false, requireDns: true, ttlDays: 14 },
      });
      const { request } = await h.service.create(input());
      expect((await refusal(approveAs(h, request, APPROVER))).message).toBe(
        "Nobody can approve DKIM requests: DKIM_APPROVERS lists no user or user group. Ask whoever runs dkim-bot to set it.",
      );
    });

    it("says to try again when the group membership cannot be looked up", async () => {
      const h = await harness({
        isMemberOfGroup: async () => {
          throw new Error("usergroups.users.list: ratelimited");
        },
      });
      const { request } = await h.service.create(input());
      const error = await refusal(approveAs(h, request, GROUP_MEMBER));
      expect(error.reason).toBe("approver-lookup-failed");
      expect(error.message).toBe(
        "Could not check whether you are a member of <!subteam^SMAILOPS>, which may approve DKIM requests. Try again in a moment.",
      );
    });

    it("refuses the requester's own approval unless self-approval is allowed", async () => {
      const h = await harness();
      const { request } = await h.service.create(input({ requesterId: APPROVER }));
      const error = await refusal(approveAs(h, request, APPROVER));
      expect(error.reason).toBe("self-approval");
      expect(error.message).toBe(
        "You asked for this request, so another approver must approve it (DKIM_ALLOW_SELF_APPROVAL is off).",
      );

      const lenient = await harness({
        policy: { approvers: [APPROVER], allowSelfApproval: true, requireDns: true, ttlDays: 14 },
      });
      const { request: own } = await lenient.service.create(input({ requesterId: APPROVER }));
      expect((await approveAs(lenient, own, APPROVER)).state).toBe("active");
    });

    it("refuses when the fingerprint shown is not the request's key", async () => {
      const h = await harness();
      const { request } = await h.service.create(input());
      const error = await refusal(approveAs(h, request, APPROVER, "SHA256:somethingElse"));
      expect(error.reason).toBe("fingerprint-mismatch");
      expect(error.message).toBe(
        `The key you were shown (SHA256:somethingElse) is not this request's key (${request.fingerprint}). Look at the request message again and approve from there.`,
      );
      expect(h.dns.calls).toHaveLength(0);
    });

    it("refuses while DNS is not live and matching, quoting the DNS summary", async () => {
      const h = await harness();
      h.dns.answer(
        dnsResult("wrong", {
          problem: "different-key",
          matches: false,
          summary: "A different key is published.",
        }),
      );
      const { request } = await h.service.create(input());
      const error = await refusal(approveAs(h, request, APPROVER));
      expect(error.reason).toBe("dns-not-ready");
      expect(error.message).toBe(
        "The DNS record s1._domainkey.example.com is not ready: A different key is published. Approve again once it is live and matches the key (Check DNS shows its state).",
      );
      const stored = await h.service.get(request.id);
      expect(stored?.state).toBe("pending");
      expect(stored?.lastDnsCheck).toMatchObject({ status: "wrong", problemCode: "different-key" });
      expect(await kinds(h, request.id)).toEqual(["created", "dns-problem"]);
      expect(h.api.calls).toHaveLength(0);

      // A live record that does not match is not enough either.
      h.dns.answer(dnsResult("live", { matches: false, summary: "Live, but another key." }));
      expect((await refusal(approveAs(h, request, APPROVER))).reason).toBe("dns-not-ready");
    });

    it("treats a DNS check that throws as a failed lookup, not as a crash", async () => {
      const h = await harness();
      h.dns.answer(new Error("resolver exploded"));
      const { request } = await h.service.create(input());
      const error = await refusal(approveAs(h, request, APPROVER));
      expect(error.reason).toBe("dns-not-ready");
      expect(error.message).toContain(
        "The DNS lookup failed (resolver exploded); try again in a moment.",
      );
      expect((await h.service.get(request.id))?.lastDnsCheck?.status).toBe("lookup-failed");
    });

    it("refuses an approval of a request already handled, saying who, when and what", async () => {
      const h = await harness();
      const { request } = await h.service.create(input());
      h.setNow("2026-11-26T12:34:00.000Z");
      await approveAs(h, request, APPROVER);
      const error = await refusal(approveAs(h, request, OTHER_APPROVER));
      expect(error.reason).toBe("already-handled");
      expect(error.message).toBe(
        `Already approved by <@${APPROVER}> at 2026-11-26 12:34 UTC and applied: DKIM is active.`,
      );

      const { request: rejected } = await h.service.create(input({ domain: "other.example" }));
      await h.service.reject(rejected.id, { actorId: OTHER_APPROVER, reason: "wrong selector" });
      expect((await refusal(approveAs(h, rejected, APPROVER))).message).toBe(
        `Already rejected by <@${OTHER_APPROVER}> at 2026-11-26 12:34 UTC (wrong selector).`,
      );
    });
  });

  describe("racing approvals", () => {
    it("in one process: exactly one apply, the other is told it was already handled", async () => {
      const h = await harness();
      const { request } = await h.service.create(input());
      const results = await Promise.allSettled([
        h.service.approve(request.id, { actorId: APPROVER, fingerprintShown: request.fingerprint }),
        h.service.approve(request.id, {
          actorId: OTHER_APPROVER,
          fingerprintShown: request.fingerprint,
        }),
      ]);
      expect(h.api.certificateCalls()).toHaveLength(1);
      expect(h.api.selectorCalls()).toHaveLength(1);
      const won = results.filter((result) => result.status === "fulfilled");
      expect(won).toHaveLength(1);
      const lost = results.find((result) => result.status === "rejected");
      expect(lost?.status === "rejected" && lost.reason).toBeInstanceOf(ActionRefusedError);
      expect(lost?.status === "rejected" && (lost.reason as ActionRefusedError).reason).toBe(
        "already-handled",
      );
      expect((await kinds(h, request.id)).filter((kind) => kind === "approved")).toHaveLength(1);
    });

    it("from two store instances on the same file: exactly one certificate call", async () => {
      const h = await harness();
      const replica = await h.replica();
      const { request } = await h.service.create(input());
      expect((await replica.service.get(request.id))?.state).toBe("pending");
      const results = await Promise.allSettled([
        h.service.approve(request.id, { actorId: APPROVER, fingerprintShown: request.fingerprint }),
        replica.service.approve(request.id, {
          actorId: OTHER_APPROVER,
          fingerprintShown: request.fingerprint,
        }),
      ]);
      expect(h.api.certificateCalls()).toHaveLength(1);
      expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(1);
      expect((await replica.service.get(request.id))?.state).toBe("active");
    });

    it("a retry racing a retry applies once", async () => {
      const h = await harness();
      h.api.behaviour = (call) => {
        if (call.call === "api_set_dkim_selector" && h.api.selectorCalls().length === 1) {
          throw new CodedError("SPAMEXPERTS_API_ERROR", "SpamExperts said: ERROR: no permissions");
        }
        return "";
      };
      const { request } = await h.service.create(input());
      await h.service.approve(request.id, {
        actorId: APPROVER,
        fingerprintShown: request.fingerprint,
      });
      const replica = await h.replica();
      const results = await Promise.allSettled([
        h.service.retry(request.id, { actorId: APPROVER }),
        replica.service.retry(request.id, { actorId: OTHER_APPROVER }),
      ]);
      expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(1);
      expect(h.api.selectorCalls()).toHaveLength(2);
      expect(h.api.certificateCalls()).toHaveLength(1);
    });
  });

  describe("failure, retry and resume", () => {
    it("a failed call leaves the request failed with the API's text and the key kept; retry completes it", async () => {
      const h = await harness();
      h.api.behaviour = (call) => {
        if (call.call === "api_set_dkim_selector" && call.username === "b@example.com") {
          if (
            h.api.selectorCalls().filter((each) => each.username === "b@example.com").length === 1
          ) {
            throw new SpamExpertsUnknownDomainError("SpamExperts said: ERROR: No such domain", {
              call: "api_set_dkim_selector",
              apiText: "ERROR: No such domain",
              attempts: 1,
            });
          }
        }
        return "OK";
      };
      const { request } = await h.service.create(
        input({ usernames: ["a@example.com", "b@example.com"] }),
      );
      const failed = await h.service.approve(request.id, {
        actorId: APPROVER,
        fingerprintShown: request.fingerprint,
      });
      expect(failed).toMatchObject({
        state: "failed",
        lastError: "SpamExperts said: ERROR: No such domain",
        progress: { certificateInstalled: true, enabledUsernames: ["a@example.com"] },
      });
      expect(await h.store.readPrivateKey(request.id)).toBe(h.generated[0]?.privateKeyPem);
      const failedEvent = (await h.store.listEvents(request.id)).at(-1);
      expect(failedEvent).toMatchObject({
        kind: "failed",
        actorId: "system",
        details: {
          step: "selector for b@example.com",
          call: "api_set_dkim_selector",
          username: "b@example.com",
          error: "SpamExperts said: ERROR: No such domain",
          apiText: "ERROR: No such domain",
          code: "SPAMEXPERTS_UNKNOWN_DOMAIN",
        },
      });

      // Only approvers retry, and the open request still holds the selector.
      expect((await refusal(h.service.retry(request.id, { actorId: REQUESTER }))).reason).toBe(
        "not-approver",
      );
      await expect(h.service.create(input())).rejects.toBeInstanceOf(RequestConflictError);

      const done = await h.service.retry(request.id, { actorId: OTHER_APPROVER });
      expect(done).toMatchObject({ state: "active", lastError: null });
      expect(h.api.certificateCalls()).toHaveLength(1);
      expect(h.api.selectorCalls().map((call) => call.username)).toEqual([
        "a@example.com",
        "b@example.com",
        "b@example.com",
      ]);
      expect(await kinds(h, request.id)).toEqual([
        "created",
        "dns-live",
        "approved",
        "certificate-installed",
        "selector-enabled",
        "failed",
        "retried",
        "selector-enabled",
        "active",
      ]);
      expect(await h.store.readPrivateKey(request.id)).toBeUndefined();
      expect((await refusal(h.service.retry(request.id, { actorId: APPROVER }))).message).toContain(
        "Already approved by",
      );
    });

    it("a crash during apply resumes after a restart without repeating the certificate", async () => {
      const h = await harness();
      // The process "dies" while the selector call is in flight: that call never returns.
      h.api.behaviour = (call) =>
        call.call === "api_set_dkim_selector" ? new Promise<string>(() => {}) : "";
      const { request } = await h.service.create(input());
      const certificateRecorded = until(
        async () => (await h.store.get(request.id))?.progress.certificateInstalled === true,
      );
      void h.service.approve(request.id, {
        actorId: APPROVER,
        fingerprintShown: request.fingerprint,
      });
      await certificateRecorded;
      await h.store.close();

      // Restarted (or another replica) once the dead process's lease on the apply ran out.
      const restarted = await harness({ database: h.database, encryptionKey: h.encryptionKey });
      restarted.setNow(AFTER_LEASE);
      expect((await restarted.service.get(request.id))?.state).toBe("applying");
      const resumed = await restarted.service.resumeInterrupted();
      expect(resumed.map((each) => [each.id, each.state])).toEqual([[request.id, "active"]]);
      expect(restarted.api.certificateCalls()).toHaveLength(0);
      expect(restarted.api.selectorCalls().map((call) => call.username)).toEqual(["example.com"]);
      expect(await kinds(restarted, request.id)).toEqual([
        "created",
        "dns-live",
        "approved",
        "certificate-installed",
        "resumed",
        "selector-enabled",
        "active",
      ]);
      expect(await restarted.store.readPrivateKey(request.id)).toBeUndefined();
    });

    it("a crash before the certificate was recorded resumes with the certificate step", async () => {
      const h = await harness();
      h.api.behaviour = () => new Promise<string>(() => {});
      const { request } = await h.service.create(input());
      const approving = until(() => h.api.calls.length > 0);
      void h.service.approve(request.id, {
        actorId: APPROVER,
        fingerprintShown: request.fingerprint,
      });
      await approving;
      await h.store.close();

      const restarted = await harness({ database: h.database, encryptionKey: h.encryptionKey });
      restarted.setNow(AFTER_LEASE);
      await restarted.service.resumeInterrupted();
      expect(restarted.api.certificateCalls()).toHaveLength(1);
      expect((await restarted.service.get(request.id))?.state).toBe("active");
    });

    it("never stores key material that an error message carries", async () => {
      const h = await harness();
      h.api.behaviour = (call) => {
        throw new Error(
          `upstream echoed the query: certificate=${encodeURIComponent(call.privateKeyPem ?? "")}`,
        );
      };
      const { request } = await h.service.create(input());
      const failed = await h.service.approve(request.id, {
        actorId: APPROVER,
        fingerprintShown: request.fingerprint,
      });
      const keyPair = generatedKey(h);
      expect(failed.state).toBe("failed");
      expect(failed.lastError).toBe(
        "upstream echoed the query: certificate=[key material redacted]%0A",
      );
      expect(findKeyMaterial(JSON.stringify(failed), keyPair)).toBeUndefined();
      expect(
        findKeyMaterial(JSON.stringify(await h.store.listEvents(request.id)), keyPair),
      ).toBeUndefined();
      expect(findKeyMaterial(JSON.stringify(h.logger.entries), keyPair)).toBeUndefined();
    });
  });

  describe("reject and cancel", () => {
    it("an approver rejects with a reason; the key is erased", async () => {
      const h = await harness();
      const { request } = await h.service.create(input());
      const rejected = await h.service.reject(request.id, {
        actorId: APPROVER,
        reason: "use selector s2",
      });
      expect(rejected).toMatchObject({
        state: "rejected",
        decidedBy: APPROVER,
        rejectReason: "use selector s2",
      });
      expect(await h.store.readPrivateKey(request.id)).toBeUndefined();
      expect((await h.store.listEvents(request.id)).at(-1)).toMatchObject({
        kind: "rejected",
        actorId: APPROVER,
        details: { reason: "use selector s2" },
      });
    });

    it("only approvers reject; the requester is pointed to Cancel, and mayReject says so first", async () => {
      const h = await harness();
      const { request } = await h.service.create(input());
      const stranger = await refusal(h.service.reject(request.id, { actorId: STRANGER }));
      expect(stranger.code).toBe("NOT_ALLOWED");
      expect(stranger.message).toBe(
        `Only <@${APPROVER}>, <@${OTHER_APPROVER}> or members of <!subteam^SMAILOPS> can reject this request: ask one of them.`,
      );
      const requester = await refusal(h.service.reject(request.id, { actorId: REQUESTER }));
      expect(requester.reason).toBe("not-approver");
      expect(requester.message).toBe(
        `Only <@${APPROVER}>, <@${OTHER_APPROVER}> or members of <!subteam^SMAILOPS> can reject a request. You asked for this one: click Cancel on its card to withdraw it.`,
      );
      // The same answers before the form opens, and nothing is written by asking.
      expect((await refusal(h.service.mayReject(request.id, { actorId: STRANGER }))).message).toBe(
        stranger.message,
      );
      expect((await refusal(h.service.mayReject(request.id, { actorId: REQUESTER }))).message).toBe(
        requester.message,
      );
      await h.service.mayReject(request.id, { actorId: APPROVER });
      await h.service.mayReject(request.id, { actorId: GROUP_MEMBER });
      expect((await h.service.get(request.id))?.state).toBe("pending");
      expect(await kinds(h, request.id)).toEqual(["created"]);
      await h.service.cancel(request.id, { actorId: REQUESTER });
      expect((await refusal(h.service.mayReject(request.id, { actorId: APPROVER }))).reason).toBe(
        "already-handled",
      );
    });

    it("only the requester cancels, and only while pending", async () => {
      const h = await harness();
      const { request } = await h.service.create(input());
      const error = await refusal(h.service.cancel(request.id, { actorId: APPROVER }));
      expect(error.reason).toBe("not-requester");
      expect(error.message).toBe(
        `Only <@${REQUESTER}>, who asked for this request, can cancel it; an approver can reject it instead.`,
      );
      const cancelled = await h.service.cancel(request.id, { actorId: REQUESTER });
      expect(cancelled.state).toBe("cancelled");
      expect(await h.store.readPrivateKey(request.id)).toBeUndefined();
      expect((await refusal(h.service.cancel(request.id, { actorId: REQUESTER }))).message).toBe(
        `Already cancelled by <@${REQUESTER}> at 2026-11-26 10:00 UTC.`,
      );
      expect((await refusal(h.service.reject(request.id, { actorId: APPROVER }))).reason).toBe(
        "already-handled",
      );
    });

    it("an unknown request id is a clear REQUEST_NOT_FOUND", async () => {
      const h = await harness();
      await expect(h.service.cancel("nosuchid0000", { actorId: REQUESTER })).rejects.toMatchObject({
        code: "REQUEST_NOT_FOUND",
        message: "There is no DKIM request nosuchid0000. Check the id, or see /dkim status.",
      });
    });
  });

  describe("expiry", () => {
    it("expires pending requests older than the TTL and erases their keys", async () => {
      const h = await harness();
      const { request: old } = await h.service.create(input());
      const { request: approved } = await h.service.create(input({ domain: "active.example" }));
      await h.service.approve(approved.id, {
        actorId: APPROVER,
        fingerprintShown: approved.fingerprint,
      });
      h.setNow("2026-12-05T10:00:00.000Z");
      const { request: young } = await h.service.create(input({ domain: "young.example" }));

      h.setNow("2026-12-10T09:59:00.000Z");
      expect(await h.service.expire()).toEqual([]);

      h.setNow("2026-12-10T10:00:01.000Z");
      const expired = await h.service.expire();
      expect(expired.map((each) => each.id)).toEqual([old.id]);
      expect(expired[0]).toMatchObject({ state: "expired", decidedBy: "system" });
      expect(await h.store.readPrivateKey(old.id)).toBeUndefined();
      expect(await h.store.readPrivateKey(young.id)).toBeDefined();
      expect((await h.service.get(approved.id))?.state).toBe("active");
      expect((await h.store.listEvents(old.id)).at(-1)).toMatchObject({
        kind: "expired",
        actorId: "system",
        details: { ttlDays: 14 },
      });
      expect(
        (
          await refusal(
            h.service.approve(old.id, {
              actorId: APPROVER,
              fingerprintShown: old.fingerprint,
            }),
          )
        ).message,
      ).toBe(
        "This request expired at 2026-12-10 10:00 UTC: nobody approved it within 14 days. Create a new request.",
      );
    });
  });

  describe("DNS watching", () => {
    it("stores every check but tells only of changes: once when live, once per distinct problem", async () => {
      const h = await harness();
      const { request } = await h.service.create(input());
      h.dns.answer(
        dnsResult("missing", { problem: "missing" }),
        dnsResult("missing", { problem: "missing" }),
        dnsResult("wrong", { problem: "truncated" }),
        dnsResult("wrong", { problem: "truncated" }),
        dnsResult("wrong", { problem: "chunks-out-of-order" }),
        dnsResult("live"),
        dnsResult("live"),
      );
      const told: Array<string | null> = [];
      for (let round = 0; round < 7; round++) {
        h.setNow(`2026-11-26T1${round}:00:00.000Z`);
        const outcomes = await h.service.checkPending();
        expect(outcomes).toHaveLength(1);
        told.push(outcomes[0]?.event?.kind ?? null);
      }
      // The first "not published yet" of a fresh request is stored, but is no news.
      expect(told).toEqual([null, null, "dns-problem", null, "dns-problem", "dns-live", null]);
      const problems = (await h.store.listEvents(request.id))
        .filter((event) => event.kind === "dns-problem")
        .map((event) => event.details.problem);
      expect(problems).toEqual(["truncated", "chunks-out-of-order"]);
      expect((await h.service.get(request.id))?.lastDnsCheck).toEqual({
        status: "live",
        problemCode: null,
        summary: "Live and matches the key.",
        checkedAt: "2026-11-26T16:00:00.000Z",
      });
    });

    it("marks only the first live verdict of a request as the one that tells the approvers", async () => {
      const h = await harness();
      const { request } = await h.service.create(input());
      h.dns.answer(dnsResult("live"), dnsResult("missing"), dnsResult("live"));
      for (let round = 0; round < 3; round++) await h.service.checkPending();
      const live = (await h.store.listEvents(request.id)).filter(
        (event) => event.kind === "dns-live",
      );
      expect(live.map((event) => event.details.firstLive)).toEqual([true, false]);
    });

    it("tells once when two checks race (two clicks, or a click and the watcher)", async () => {
      const h = await harness();
      const { request } = await h.service.create(input());
      h.dns.answer(dnsResult("live"));
      const outcomes = await Promise.all([
        h.service.recordDnsCheck(request.id),
        h.service.recordDnsCheck(request.id),
        h.service.checkPending(),
      ]);
      expect(outcomes).toHaveLength(3);
      expect((await kinds(h, request.id)).filter((kind) => kind === "dns-live")).toHaveLength(1);
      expect((await h.service.get(request.id))?.lastDnsCheck?.status).toBe("live");
    });

    it("checks only pending requests", async () => {
      const h = await harness();
      const { request } = await h.service.create(input());
      await h.service.cancel(request.id, { actorId: REQUESTER });
      expect(await h.service.checkPending()).toEqual([]);
      expect(h.dns.calls).toHaveLength(0);
      const outcome = await h.service.recordDnsCheck(request.id);
      expect(outcome.result.status).toBe("live");
    });
  });

  describe("events", () => {
    it("a failing or rejecting event listener does not break the flow", async () => {
      let calls = 0;
      const h = await harness({
        onEvent: (event) => {
          calls++;
          if (event.kind === "created") throw new Error("Slack is down");
          return Promise.reject(new Error("Slack is still down"));
        },
      });
      const { request } = await h.service.create(input());
      const done = await h.service.approve(request.id, {
        actorId: APPROVER,
        fingerprintShown: request.fingerprint,
      });
      await new Promise((resolve) => setImmediate(resolve));
      expect(done.state).toBe("active");
      expect(calls).toBe((await kinds(h, request.id)).length);
      expect(
        h.logger.lines("warn").filter((line) => line.includes("listener failed")),
      ).toHaveLength(calls);
    });

    it("lists events and requests by domain", async () => {
      const h = await harness();
      const { request: first } = await h.service.create(input());
      await h.service.create(input({ domain: "other.example" }));
      const { request: second } = await h.service.create(input({ selector: "s2" }));
      expect((await h.service.listByDomain("EXAMPLE.com")).map((each) => each.id)).toEqual([
        first.id,
        second.id,
      ]);
      const events = await h.service.listEventsByDomain("example.com");
      expect(events.map((event) => [event.requestId, event.kind])).toEqual([
        [first.id, "created"],
        [second.id, "created"],
      ]);
      expect(await h.service.listEvents(first.id)).toEqual([events[0]]);
    });
  });

  describe("the private key at rest and in events", () => {
    it.skipIf(dialect !== "sqlite")(
      "no file in DATA_DIR holds the key unsealed, and no event carries it",
      async () => {
        const h = await harness();
        const { request } = await h.service.create(input({ usernames: ["a@example.com"] }));
        const keyPair = generatedKey(h);
        expect(keyPair.privateKeyPem).toContain("PRIVATE KEY");
        // Most of the private key is private: the check below has plenty to look for.
        expect(privateOnlyPieces(keyPair)).toBeGreaterThan(25);

        const files = readAllFiles(h.database.dataDir);
        expect(files.map((file) => file.name.split("/").at(-1)).sort()).toEqual([
          "dkim-bot.sqlite",
          "dkim-bot.sqlite-shm",
          "dkim-bot.sqlite-wal",
        ]);
        for (const file of files) {
          expect(findKeyMaterial(file.text, keyPair), file.name).toBeUndefined();
        }
        // The scan can see a key: the same check finds it in the PEM itself.
        expect(
          findKeyMaterial(keyPair.privateKeyPem.replace(/PRIVATE KEY/g, "X"), keyPair),
        ).toBeDefined();

        h.api.behaviour = (call) => {
          if (call.call === "api_set_dkim_selector")
            throw new CodedError("SPAMEXPERTS_API_ERROR", "ERROR: nope");
          return "";
        };
        await h.service.approve(request.id, {
          actorId: APPROVER,
          fingerprintShown: request.fingerprint,
        });
        await h.service.retry(request.id, { actorId: APPROVER });
        for (const file of readAllFiles(h.database.dataDir)) {
          expect(findKeyMaterial(file.text, keyPair), file.name).toBeUndefined();
        }
        expect(findKeyMaterial(JSON.stringify(h.emitted), keyPair)).toBeUndefined();
        expect(
          findKeyMaterial(JSON.stringify(await h.store.listEvents(request.id)), keyPair),
        ).toBeUndefined();
        expect(findKeyMaterial(JSON.stringify(h.logger.entries), keyPair)).toBeUndefined();
      },
    );
  });
});
