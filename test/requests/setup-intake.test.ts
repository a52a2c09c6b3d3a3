import { afterEach, describe, expect, it } from "vitest";
import { ActionRefusedError } from "../../src/requests/errors.js";
import { DIALECTS } from "../helpers/test-stores.js";
import {
  APPROVER,
  CHANNEL,
  createHarness,
  type Harness,
  type HarnessOptions,
  REQUESTER,
} from "./support.js";

const setupInput = (domain = "example.com") => ({
  domain,
  selector: "s1",
  bits: 1024,
  requesterId: REQUESTER,
  channelId: CHANNEL,
  teamId: "TTEAM",
});

describe.each(DIALECTS)("acked setups and workspaces on %s", (dialect) => {
  const harnesses: Harness[] = [];
  afterEach(async () => {
    for (const h of harnesses.splice(0)) await h.close();
  });
  async function harness(options: HarnessOptions = {}): Promise<Harness> {
    const h = await createHarness({ dialect, ...options });
    harnesses.push(h);
    return h;
  }

  it("records a setup before any key exists, makes it once, and forgets it once told", async () => {
    const h = await harness();
    const setup = await h.service.setups.enqueue(setupInput(), { responseUrl: "https://r/1" });
    expect(h.generated).toHaveLength(0);
    expect(await h.store.getSetup(setup.id)).toMatchObject({ state: "queued", requestId: null });

    const outcome = await h.service.setups.process(setup);
    if (outcome.kind !== "created") throw new Error(`expected created, got ${outcome.kind}`);
    expect(outcome.created.request.teamId).toBe("TTEAM");
    expect(await h.store.getSetup(setup.id)).toMatchObject({
      state: "created",
      requestId: outcome.created.request.id,
    });
    // Processing again (a restart between storing the request and telling) makes no second key.
    const again = await h.service.setups.process((await h.store.getSetup(setup.id)) ?? setup);
    expect(again.kind === "created" && again.created.request.id).toBe(outcome.created.request.id);
    expect(h.generated).toHaveLength(1);

    await h.service.setups.forget(setup.id);
    expect(await h.store.getSetup(setup.id)).toBeUndefined();
  });

  it("records a refusal with its sentence, and makes no key", async () => {
    const h = await harness();
    const setup = await h.service.setups.enqueue({ ...setupInput(), domain: "not a domain" });
    const outcome = await h.service.setups.process(setup);
    expect(outcome.kind).toBe("refused");
    expect(outcome.kind === "refused" && outcome.message).toMatch(/not a domain/);
    expect(await h.store.getSetup(setup.id)).toMatchObject({ state: "refused" });
    expect(h.generated).toHaveLength(0);
  });

  it("hands the setups of a dead replica to another one, once", async () => {
    const h = await harness();
    const setup = await h.service.setups.enqueue(setupInput());
    const replica = await h.replica();
    // Still held by the replica that acked it.
    expect(await replica.service.setups.claimUnfinished()).toEqual([]);
    // A single bot restarting on its own database takes its holds back (SQLite, or the hold ran out).
    await h.store.forgetHolds();
    const [first, second] = await Promise.all([
      replica.service.setups.claimUnfinished(),
      h.service.setups.claimUnfinished(),
    ]);
    expect([...(first ?? []), ...(second ?? [])].map((each) => each.id)).toEqual([setup.id]);
  });

  it("refuses actions from another workspace or org, saying so, and changes nothing", async () => {
    const h = await harness({ homeTeamId: "THOME" });
    const { request } = await h.service.create(setupInput());
    const elsewhere = { actorId: APPROVER, teamId: "TOTHER" };
    const refusals = await Promise.all(
      [
        h.service.approve(request.id, { ...elsewhere, fingerprintShown: request.fingerprint }),
        h.service.reject(request.id, { ...elsewhere, reason: "no" }),
        h.service.cancel(request.id, { actorId: REQUESTER, teamId: "TOTHER" }),
        h.service.recordDnsCheck(request.id, elsewhere),
        h.service.approve(request.id, {
          actorId: APPROVER,
          teamId: "TTEAM",
          enterpriseId: "EORG",
          fingerprintShown: request.fingerprint,
        }),
      ].map((action) =>
        action.then(
          () => undefined,
          (error: unknown) => error,
        ),
      ),
    );
    for (const refusal of refusals) {
      expect(refusal).toBeInstanceOf(ActionRefusedError);
      expect((refusal as ActionRefusedError).reason).toBe("other-workspace");
      expect((refusal as ActionRefusedError).message).toContain("another Slack workspace");
    }
    expect((await h.service.get(request.id))?.state).toBe("pending");
    expect(h.api.calls).toEqual([]);
    // From its own workspace it goes through.
    const done = await h.service.approve(request.id, {
      actorId: APPROVER,
      teamId: "TTEAM",
      fingerprintShown: request.fingerprint,
    });
    expect(done.state).toBe("active");
  });

  it("binds requests made before workspaces were recorded to the bot's own", async () => {
    const h = await harness({ homeTeamId: "THOME" });
    const { teamId: _none, ...withoutTeam } = setupInput();
    const { request } = await h.service.create(withoutTeam);
    expect(request.teamId).toBeNull();
    await expect(
      h.service.approve(request.id, {
        actorId: APPROVER,
        teamId: "TOTHER",
        fingerprintShown: request.fingerprint,
      }),
    ).rejects.toThrow("another Slack workspace");
    const done = await h.service.approve(request.id, {
      actorId: APPROVER,
      teamId: "THOME",
      fingerprintShown: request.fingerprint,
    });
    expect(done.state).toBe("active");
  });
});
