/**
 * Files attached to a message, the way Slack takes them since `files.upload` was retired
 * (facts.md, "Slack platform"): files.getUploadURLExternal for each file, the bytes POSTed to
 * the URL it gives, then one files.completeUploadExternal that shares them in a channel (and a
 * thread), with an optional comment posted with them. @slack/web-api's `filesUploadV2` makes
 * those calls; this module gives it a small interface of plain values, so a flow names its
 * files and where they go and never deals with the three steps.
 *
 * Needs the `files:write` bot scope. Errors are the Web API client's (a Slack error code in
 * `data.error`, e.g. not_in_channel); the caller says what they mean to the person.
 */
import type { SlackClient } from "./slack-client.js";

export interface FileToUpload {
  /** The name people download it as, e.g. `dkim-records.csv`. */
  filename: string;
  /** Text (UTF-8) or bytes. */
  content: string | Uint8Array;
  /** Shown above the file in Slack; the filename when absent. */
  title?: string;
}

export interface UploadTarget {
  channelId: string;
  /** The thread to post them in (the ts of its first message); absent: the channel itself. */
  threadTs?: string | undefined;
  /** Posted with the files, as one message (mrkdwn). */
  comment?: string | undefined;
}

export interface UploadedFile {
  id: string;
  /** As Slack stored it. */
  name: string;
}

export type UploadFiles = (
  target: UploadTarget,
  files: readonly FileToUpload[],
) => Promise<UploadedFile[]>;

/** An uploader that sends through `client` (its token, its API URL, its retries). */
export function createFileUploader(client: SlackClient): UploadFiles {
  return async (target, files) => {
    if (files.length === 0) return [];
    const result = await client.filesUploadV2({
      channel_id: target.channelId,
      ...(target.threadTs === undefined ? {} : { thread_ts: target.threadTs }),
      ...(target.comment === undefined ? {} : { initial_comment: target.comment }),
      file_uploads: files.map((file) => ({
        file: Buffer.from(file.content),
        filename: file.filename,
        title: file.title ?? file.filename,
      })),
    });
    return uploadedFilesOf(result);
  };
}

/**
 * The files of filesUploadV2's answer: one completion per channel/thread, each listing files.
 * Read as unknown: the typings describe the answer loosely.
 */
function uploadedFilesOf(result: unknown): UploadedFile[] {
  const completions = (result as { files?: unknown }).files;
  if (!Array.isArray(completions)) return [];
  const uploaded: UploadedFile[] = [];
  for (const completion of completions) {
    const files = (completion as { files?: unknown } | null)?.files;
    if (!Array.isArray(files)) continue;
    for (const file of files) {
      const { id, name, title } = (file ?? {}) as { id?: unknown; name?: unknown; title?: unknown };
      if (typeof id !== "string") continue;
      uploaded.push({ id, name: typeof name === "string" ? name : String(title ?? id) });
    }
  }
  return uploaded;
}
