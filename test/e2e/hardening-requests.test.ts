/**
 * Issue 9, attacked from outside: correctly signed requests that Bolt cannot read, malformed
 * clicks and forms, input that only looks valid, SIGHUP, and a DNS server that does not answer.
 * No request may stop the bot (it still answers /healthz after each, and it is the same
 * process), every signed request is answered at once (400, or 200 and a sentence for the
 * person), and nothing reaches the last-resort guard.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAST_RESORT_MESSAGE } from "../../src/keep-running.js";
import { ACTION_IDS, CALLBACK_IDS, SETUP_FIELDS } from "../../src/slack/ui/ids.js";
import {
  blockActionPayload,
  type SlackHttpResponse,
  sendJsonBody,
  sendPayload,
  sendRawPayload,
  sendSignedRequest,
  viewSubmissionPayload,
} from "../helpers/slack-requests.js";
import {
  answersAt,
  commandAnswer,
  eventually,
  healthStatus,
  postsMentioning,
  setUp,
  statusLines,
  submitSetupForm,
} from "./flows.js";
import {
  APPROVER,
  BOT_TOKEN,
  CHANNEL,
  MAIN,
  REQUESTER,
  SIGNING_SECRET,
  useBot,
} from "./harness.js";
import { answerText, buttonValue } from "./support.js";

const harness = useBot();
const FORM = "application/x-www-form-urlencoded" as const;

type Fields = Record<string, unknown>;

beforeAll(async () => {
  await harness.slack.waitForCall("auth.test");
});

afterAll(() => {
  // Every request above was answered by the guard or a listener, never by the last resort,
  // and it was all one process: started once, never restarted.
  expect(harness.allLines.filter((line) => line.includes(LAST_RESORT_MESSAGE))).toEqual([]);
  expect(
    harness.bot.lines.filter((line) => line.includes('"msg":"dkim-bot is running"')),
  ).toHaveLength(1);
});

/** Log lines of the current bot with this message. */
function logged(message: string): number {
  return harness.bot.lines.filter((line) => line.includes(`"msg":"${message}"`)).length;
}

async function expectStillServing(): Promise<void> {
  expect(await healthStatus(harness)).toBe(200);
}

const send = {
  raw: (body: string, type: typeof FORM | "application/json" = FORM) =>
    sendSignedRequest(harness.bot.url, SIGNING_SECRET, body, type),
  payloadText: (text: string) => sendRawPayload(harness.bot.url, SIGNING_SECRET, text),
  json: (value: unknown) => sendJsonBody(harness.bot.url, SIGNING_SECRET, value),
  payload: (payload: Fields) => sendPayload(harness.bot.url, SIGNING_SECRET, payload),
};

describe("signed requests that Bolt cannot read", () => {
  const cases: Array<[string, () => Promise<SlackHttpResponse>]> = [
    ["payload=null", () => send.payloadText("null")],
    ["a JSON body null", () => send.json(null)],
    ["a JSON body []", () => send.json([])],
    ["a JSON body 5", () => send.json(5)],
    ['a JSON body "x"', () => send.json("x")],
    ["payload=[]", () => send.payloadText("[]")],
    ["payload=7", () => send.payloadText("7")],
    ["a payload without type", () => send.payload({ user: { id: APPROVER } })],
    [
      "a block_actions payload without user",
      () => send.payload({ type: "block_actions", actions: [{ action_id: ACTION_IDS.approve }] }),
    ],
    ["a form of unknown fields", () => send.raw("foo=bar")],
    ["an event that is a number", () => send.json({ type: "event_callback", event: 5 })],
    [
      "a slash command without text",
      () =>
        send.raw(
          new URLSearchParams({
            command: "/dkim",
            user_id: REQUESTER,
            channel_id: CHANNEL,
          }).toString(),
        ),
    ],
  ];

  for (const [name, request] of cases) {
    it(`answers ${name} with 400 and one log line, and keeps serving`, async () => {
      const before = logged("Refused a signed Slack request the bot cannot read");
      const response = await request();
      expect(response.status).toBe(400);
      await expectStillServing();
      expect(logged("Refused a signed Slack request the bot cannot read")).toBe(before + 1);
    });
  }

  it("still answers an unsigned or badly signed payload=null with 401", async () => {
    const body = new URLSearchParams({ payload: "null" }).toString();
    for (const signature of ["missing", "bad"] as const) {
      const response = await sendSignedRequest(harness.bot.url, SIGNING_SECRET, body, FORM, {
        signature,
      });
      expect(response.status).toBe(401);
    }
    await expectStillServing();
  });

  it("still serves a command after all of them", async () => {
    const answer = await commandAnswer(harness, "help");
    expect(answer.text).toContain("/dkim setup");
  });
});

describe("malformed clicks are acked at once and the clicker is told", () => {
  const click = (responseUrl: string, change: (payload: Fields) => void): Fields => {
    const payload = blockActionPayload({
      actionId: ACTION_IDS.checkDns,
      value: "abc123",
      userId: APPROVER,
      channelId: CHANNEL,
      messageTs: "1700000000.000100",
      responseUrl,
    });
    change(payload);
    return payload;
  };
  const action = (payload: Fields): Fields => (payload.actions as Fields[])[0] as Fields;

  const cases: Array<[string, (payload: Fields) => void, RegExp]> = [
    [
      "an unknown action id",
      (p) => {
        action(p).action_id = "dkim_rotate_v9";
      },
      /not one this version of dkim-bot knows/,
    ],
    ["a missing value", (p) => delete action(p).value, /could not be read/],
    [
      "a value that is a number",
      (p) => {
        action(p).value = 42;
      },
      /could not be read/,
    ],
    [
      "a value the bot did not make",
      (p) => {
        action(p).value = "x|y|z";
      },
      /no longer known to the bot/,
    ],
    // A well-formed value of a request this bot does not have: the lookup says so.
    ["no channel", (p) => delete p.channel, /There is no DKIM request abc123/],
    ["no container", (p) => delete p.container, /There is no DKIM request abc123/],
    [
      "no channel, container or message",
      (p) => {
        delete p.channel;
        delete p.container;
        delete p.message;
      },
      /There is no DKIM request abc123/,
    ],
    [
      "channel null",
      (p) => {
        p.channel = null;
      },
      /could not be read/,
    ],
    [
      "channel a string",
      (p) => {
        p.channel = CHANNEL;
      },
      /could not be read/,
    ],
    [
      "actions []",
      (p) => {
        p.actions = [];
      },
      /could not be read/,
    ],
    [
      "actions [null]",
      (p) => {
        p.actions = [null];
      },
      /could not be read/,
    ],
    [
      "actions {}",
      (p) => {
        p.actions = {};
      },
      /could not be read/,
    ],
    ["no action_id", (p) => delete action(p).action_id, /could not be read/],
    [
      "an action_id that is a number",
      (p) => {
        action(p).action_id = 7;
      },
      /could not be read/,
    ],
  ];

  for (const [name, change, sentence] of cases) {
    it(`acks a click with ${name} and answers the clicker`, async () => {
      const responseUrl = harness.slack.responseUrl();
      const response = await send.payload(click(responseUrl, change));
      // 200 at once: Bolt's fallback for a click nobody acks is a 404 after 3 seconds.
      expect(response.status).toBe(200);
      const [answer] = await answersAt(harness, responseUrl, 1);
      expect(answer).toMatch(sentence);
      await expectStillServing();
    });
  }
});

describe("forms and other interactions no listener takes", () => {
  const submission = (callbackId: string, change: (payload: Fields) => void = () => {}) => {
    const payload = viewSubmissionPayload({ callbackId, values: {}, userId: REQUESTER });
    change(payload);
    return payload;
  };

  it.each<[string, Fields]>([
    ["an unknown callback_id", submission("dkim_setup_form_v0")],
    ["no state", submission(CALLBACK_IDS.setupForm, (p) => delete (p.view as Fields).state)],
    [
      "a null view",
      submission(CALLBACK_IDS.setupForm, (p) => {
        p.view = null;
      }),
    ],
  ])("replaces a form with %s by a notice that it is outdated", async (_name, payload) => {
    const response = await send.payload(payload);
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({ response_action: "update", view: { type: "modal" } });
    expect(JSON.stringify(response.json)).toContain("This form is outdated");
    await expectStillServing();
  });

  it.each<[string, Fields]>([
    [
      "a view_closed",
      {
        type: "view_closed",
        user: { id: REQUESTER },
        view: { callback_id: CALLBACK_IDS.setupForm },
      },
    ],
    [
      "a shortcut",
      {
        type: "shortcut",
        callback_id: "dkim_shortcut",
        user: { id: REQUESTER },
        trigger_id: "1.2.3",
      },
    ],
    [
      "a block_suggestion",
      {
        type: "block_suggestion",
        action_id: "x",
        block_id: "b",
        value: "a",
        user: { id: REQUESTER },
      },
    ],
    ["a legacy dialog_submission", { type: "dialog_submission", user: { id: REQUESTER } }],
  ])("acks %s at once", async (_name, payload) => {
    const response = await send.payload(payload);
    expect(response.status).toBe(200);
    await expectStillServing();
  });

  it("answers another slash command with a sentence", async () => {
    const response = await harness.command("help", { command: "/dkim-old" });
    expect(response.status).toBe(200);
    expect(answerText(response.json)).toBe(
      "dkim-bot answers /dkim only, so nothing was done. Type `/dkim help`.",
    );
  });
});

describe("input that only looks valid", () => {
  it("refuses invalid punycode as a domain, with the reason", async () => {
    const answer = await commandAnswer(harness, "setup xn--a.example selector=p1");
    expect(answer.text).toContain('label "xn--a" is not valid punycode');
    expect(postsMentioning(harness, "xn--a.example")).toEqual([]);
    expect(await statusLines(harness, "xn--a.example")).toEqual([]);
  });

  it.each(["<!channel>", "<!here>", "<!everyone>", "<@UOUTSIDER>", "<#CDKIMOPS|dkim-ops>"])(
    "refuses user=%s as a username, with the reason",
    async (mention) => {
      const answer = await commandAnswer(
        harness,
        `setup mention.example selector=m1 user=${mention}`,
      );
      expect(answer.text).toMatch(/is a Slack mention .* not an outgoing username/);
      expect(postsMentioning(harness, "mention.example")).toEqual([]);
    },
  );

  it("refuses a mention typed into the setup form's users box, on that field", async () => {
    const response = await submitSetupForm(harness, {
      channelId: CHANNEL,
      domain: "mention-form.example",
      selector: "m1",
      users: "@channel",
    });
    expect(response.json).toEqual({
      response_action: "errors",
      errors: {
        [SETUP_FIELDS.usernames.blockId]: expect.stringContaining(
          "is a Slack mention or channel, not an outgoing username",
        ),
      },
    });
    expect(postsMentioning(harness, "mention-form.example")).toEqual([]);
  });

  it.each([
    ["D0DIRECT1", "a direct message"],
    ["UREQUESTER", "a person"],
  ])("refuses a setup form whose channel is %s, and creates nothing", async (channelId, what) => {
    const domain = `form-${channelId.toLowerCase()}.example`;
    const response = await submitSetupForm(harness, { channelId, domain, selector: "f1" });
    expect(response.json).toMatchObject({ response_action: "update" });
    expect(JSON.stringify(response.json)).toContain(`this is ${what}, so nothing was created`);
    expect(postsMentioning(harness, domain)).toEqual([]);
    expect(await statusLines(harness, domain)).toEqual([]);
  });

  it("refuses /dkim setup typed in a direct message", async () => {
    const answer = await commandAnswer(harness, "setup dm.example", { channelId: "D0DIRECT1" });
    expect(answer.via).toBe("ack");
    expect(answer.text).toContain("this is a direct message, so nothing was created");
  });
});

describe("a DNS server that does not answer", () => {
  it("tells the person who asked that /dkim check is waiting on DNS, then the outcome", async () => {
    harness.dns.setBehaviour("s1._domainkey.silent.example", "no-answer");
    const answer = await commandAnswer(harness, "check silent.example s1");
    const [first, second] = await answersAt(harness, answer.responseUrl, 2, 40_000);
    expect(first).toBe("Still working: waiting on DNS…");
    expect(second).toMatch(/lookup|did not answer|timed out/i);
  });

  it("does the same for Check DNS on a request", async () => {
    const request = await setUp(harness, "silent-click.example", "s1");
    harness.dns.setBehaviour("s1._domainkey.silent-click.example", "no-answer");
    const responseUrl = harness.slack.responseUrl();
    const ack = await harness.click({
      actionId: ACTION_IDS.checkDns,
      value: buttonValue(request.posted, ACTION_IDS.checkDns),
      messageTs: request.ts,
      responseUrl,
    });
    expect(ack.status).toBe(200);
    const [first, second] = await answersAt(harness, responseUrl, 2, 40_000);
    expect(first).toBe("Still working: waiting on DNS…");
    expect(second).not.toContain("Still working");
  });
});

describe("SIGHUP", () => {
  it("stops the bot cleanly, as SIGTERM does", async () => {
    // A bot of its own on the harness's fakes (another data directory), so the shared one runs on.
    const { mkdtemp, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dataDir = await mkdtemp(join(tmpdir(), "dkim-sighup-"));
    const child: ChildProcess = spawn(process.execPath, [MAIN], {
      cwd: dataDir,
      env: {
        PATH: process.env.PATH ?? "",
        SLACK_BOT_TOKEN: BOT_TOKEN,
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        PORT: "0",
        SLACK_API_URL: harness.slack.apiUrl,
        DKIM_APPROVERS: APPROVER,
        DATA_DIR: dataDir,
        LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      let output = "";
      const running = new Promise<void>((resolve, reject) => {
        child.stdout?.on("data", (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('"msg":"dkim-bot is running"')) resolve();
        });
        child.once("exit", () => reject(new Error(`exited before running:\n${output}`)));
      });
      await running;
      // The handlers are installed once start-up is done, a moment after that line: wait until
      // the process catches SIGHUP (bit 0 of SigCgt), rather than guess how long that takes.
      await eventually(
        () => catchesSighup(child.pid ?? 0),
        "the bot to install its SIGHUP handler",
      );
      const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
        child.once("exit", (code, signal) => resolve({ code, signal })),
      );
      child.kill("SIGHUP");
      expect(await exited).toEqual({ code: 0, signal: null });
      expect(output).toContain('"msg":"Stopping","signal":"SIGHUP"');
      expect(output).toContain('"msg":"Stopped"');
    } finally {
      child.kill("SIGKILL");
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

/** Whether process `pid` has a handler for SIGHUP (Linux: the SigCgt mask in /proc/<pid>/status). */
function catchesSighup(pid: number): boolean {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const mask = /^SigCgt:\s*([0-9a-f]+)$/m.exec(status)?.[1];
    return mask !== undefined && (BigInt(`0x${mask}`) & 1n) === 1n;
  } catch {
    return false;
  }
}
