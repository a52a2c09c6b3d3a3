/**
 * 3-4. The app under concurrent commands and the apply, on the rig
 * of bench/rig.ts (the real app in its own process against the test suite's stand-ins).
 */
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import type { CpuReading, LogTally, LoopReading } from "./protocol.js";
import {
  approveClick,
  CHANNEL,
  expectOk,
  publishRecord,
  REQUESTER,
  SIGNING_SECRET,
  setupCommand,
  startRig,
} from "./rig.js";
import { type SignedRequest, signedCommand } from "./sender.js";

// ---- 3 and 4 --------------------------------------------------------------------------------

export interface CommandRound {
  ackMs: number[];
  /** The same acks measured inside the bot: request headers parsed -> response finished. */
  serverAckMs: number[];
  /** CPU the bot spent on the round (every command until its message was posted). */
  cpu: CpuReading;
  /** 1-minute load average of the machine when the round ended. */
  loadAverage: number;
  postedMs: number[];
  loop: LoopReading;
}

export interface ApplySample {
  ackMs: number;
  /** Click sent -> the last SpamExperts call answered. */
  applyMs: number;
  /** Click sent -> the thread says Active and the message shows its final state. */
  activeMs: number;
}

export interface AppResult {
  commandsPerRound: number;
  /** Acks of as many `/dkim help` at once, before the rounds: the floor. */
  helpAckMs: number[];
  rounds: CommandRound[];
  apply: ApplySample[];
  applyLoop: LoopReading;
  logs: LogTally;
}

export async function measureApp(plan: {
  commandsPerRound: number;
  rounds: number;
  applies: number;
  /** Help commands (and one setup) sent before measuring. */
  warmUp: number;
  /** Variables for the bot on top of the rig's (e.g. DATABASE_URL for PostgreSQL). */
  env?: Record<string, string>;
}): Promise<AppResult> {
  const rig = await startRig(plan.env === undefined ? {} : { env: plan.env });
  try {
    const describe = () => rig.watch.describe();
    // Warm-up, not counted: a bot in service has answered commands before (JIT, lazily loaded
    // code, the first connections). A few help commands and one setup, one at a time.
    for (let index = 0; index < plan.warmUp; index += 1) {
      const help = signedCommand(SIGNING_SECRET, {
        text: "help",
        userId: REQUESTER,
        channelId: CHANNEL,
        responseUrl: rig.slack.responseUrl(),
      });
      expectOk((await rig.send(help)).status, "/dkim help");
    }
    if (plan.warmUp > 0) {
      expectOk((await rig.send(setupCommand(rig, "warmup.example.com"))).status, "setup");
      await rig.watch.milestones.when("posted:warmup.example.com", describe);
    }
    // Reference: as many `/dkim help` at once (acked with the text, no key, no database): the
    // floor that Bolt, HTTP and this machine set for the acks.
    const helps = Array.from({ length: plan.commandsPerRound }, () =>
      signedCommand(SIGNING_SECRET, {
        text: "help",
        userId: REQUESTER,
        channelId: CHANNEL,
        responseUrl: rig.slack.responseUrl(),
      }),
    );
    const helpAckMs = (await Promise.all(helps.map((help) => rig.send(help)))).map(
      (sent) => sent.ms,
    );
    const rounds: CommandRound[] = [];
    const domainsOfFirstRound: string[] = [];
    for (let round = 0; round < plan.rounds; round += 1) {
      await rig.bot.resetLoop();
      await rig.bot.serverTimes();
      const cpuBefore = await rig.bot.cpu();
      const domains = Array.from(
        { length: plan.commandsPerRound },
        (_, index) => `ack${round}-${index}.example.com`,
      );
      if (round === 0) domainsOfFirstRound.push(...domains);
      const prepared = domains.map((domain) => setupCommand(rig, domain));
      const samples = await Promise.all(
        domains.map(async (domain, index) => {
          const sent = performance.now();
          const response = await rig.send(prepared[index] as SignedRequest);
          expectOk(response.status, `/dkim setup ${domain}`);
          const posted = await rig.watch.milestones.when(`posted:${domain}`, describe);
          return { ackMs: response.ms, postedMs: posted - sent };
        }),
      );
      const loop = await rig.bot.readLoop();
      const cpuAfter = await rig.bot.cpu();
      rounds.push({
        cpu: {
          mainMs: cpuAfter.mainMs - cpuBefore.mainMs,
          processMs: cpuAfter.processMs - cpuBefore.processMs,
        },
        loadAverage: loadavg()[0] ?? Number.NaN,
        ackMs: samples.map((sample) => sample.ackMs),
        serverAckMs: await rig.bot.serverTimes(),
        postedMs: samples.map((sample) => sample.postedMs),
        loop,
      });
    }

    // 4: one approval at a time, each request's record published on the DNS server first
    // (DKIM_REQUIRE_DNS=true: approve checks it), waiting for each to finish before the next.
    await rig.bot.resetLoop();
    const apply: ApplySample[] = [];
    for (const domain of domainsOfFirstRound.slice(0, plan.applies)) {
      publishRecord(rig, domain);
      const click = approveClick(rig, domain);
      const sent = performance.now();
      const response = await rig.send(click);
      const ackMs = response.ms;
      expectOk(response.status, `approve ${domain}`);
      const seLast = await rig.watch.milestones.when(`se-last:${domain}`, describe);
      const [activeReply, final] = await Promise.all([
        rig.watch.milestones.when(`active-reply:${domain}`, describe),
        rig.watch.milestones.when(`final:${domain}`, describe),
      ]);
      apply.push({
        ackMs,
        applyMs: seLast - sent,
        activeMs: Math.max(activeReply, final) - sent,
      });
    }
    const applyLoop = await rig.bot.readLoop();
    const logs = await rig.bot.logs();
    return { commandsPerRound: plan.commandsPerRound, helpAckMs, rounds, apply, applyLoop, logs };
  } finally {
    await rig.close();
  }
}
