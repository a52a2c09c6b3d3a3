/**
 * Files attached in a thread through files.uploadV2's three calls, against the fake Slack Web
 * API: the bytes arrive whole, in the channel and thread asked for, with the comment.
 */
import { webApi } from "@slack/bolt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createFileUploader, type UploadFiles } from "../../src/slack/upload-file.js";
import { type FakeSlack, startFakeSlack } from "../helpers/fake-slack.js";

const TOKEN = "xoxb-upload-test";

describe("createFileUploader", () => {
  let fake: FakeSlack;
  let upload: UploadFiles;

  beforeAll(async () => {
    fake = await startFakeSlack({ acceptTokens: [TOKEN] });
    const client = new webApi.WebClient(TOKEN, {
      slackApiUrl: fake.apiUrl,
      retryConfig: { retries: 0 },
      logLevel: webApi.LogLevel.ERROR,
    });
    upload = createFileUploader(client);
  });
  afterEach(() => fake.reset());
  afterAll(() => fake.close());

  it("shares the files in the thread with the comment, bytes intact", async () => {
    const card = await new webApi.WebClient(TOKEN, {
      slackApiUrl: fake.apiUrl,
      logLevel: webApi.LogLevel.ERROR,
    }).chat.postMessage({ channel: "C1", text: "card" });
    const csv = 'name,type,value\n"s1._domainkey.é.example",TXT,"v=DKIM1; p=AB"\n';
    const bytes = new Uint8Array([0, 1, 2, 255, 10, 13]);

    const uploaded = await upload({ channelId: "C1", threadTs: card.ts, comment: "*Records*" }, [
      { filename: "records.csv", content: csv, title: "Records (CSV)" },
      { filename: "blob.bin", content: bytes },
    ]);

    expect(uploaded.map((file) => file.name)).toEqual(["records.csv", "blob.bin"]);
    const files = fake.uploadedFiles("C1");
    expect(files.map((file) => [file.filename, file.title, file.threadTs, file.comment])).toEqual([
      ["records.csv", "Records (CSV)", card.ts, "*Records*"],
      ["blob.bin", "blob.bin", card.ts, "*Records*"],
    ]);
    expect(files[0]?.bytes?.toString("utf8")).toBe(csv);
    expect([...(files[1]?.bytes ?? [])]).toEqual([...bytes]);
    // One message in the thread carries the comment and both files.
    const [reply] = fake.threadReplies("C1", card.ts ?? "");
    expect(reply?.text).toBe("*Records*");
    expect(fake.threadReplies("C1", card.ts ?? "")).toHaveLength(1);
    // Each call with the bot's token, and the completion names the channel and thread.
    const complete = fake.calls("files.completeUploadExternal");
    expect(complete).toHaveLength(1);
    expect(complete[0]?.params).toMatchObject({ channel_id: "C1", thread_ts: card.ts });
    expect(fake.calls().every((call) => call.token === TOKEN)).toBe(true);
  });

  it("gives Slack's refusal to the caller (the bot is not in the channel)", async () => {
    fake.setChannel("CNOBOT", { botIsMember: false });
    await expect(
      upload({ channelId: "CNOBOT" }, [{ filename: "a.txt", content: "a" }]),
    ).rejects.toMatchObject({ data: { error: "not_in_channel" } });
    expect(fake.uploadedFiles()).toEqual([]);
  });

  it("makes no call for no files", async () => {
    expect(await upload({ channelId: "C1" }, [])).toEqual([]);
    expect(fake.calls()).toEqual([]);
  });
});
