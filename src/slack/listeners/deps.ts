import type { Config } from "../../config.js";
import type { DkimCheckResult, ExpectedKey } from "../../dkim/check.js";
import type { AppLogger } from "../../logger.js";
import type { RequestService } from "../../requests/service.js";
import type { ChannelVisibility } from "../channel-visibility.js";
import type { PostBatchCard, PostCard } from "../post-card.js";
import type { SlackClient } from "../slack-client.js";
import type { UploadFiles } from "../upload-file.js";
import type { ProgressSettings } from "./replies.js";

/** What every listener may use: the request service and the little of config it shows. */
export interface ListenerDeps {
  config: Config;
  service: RequestService;
  /**
   * `/dkim check` for any domain, also one the bot did not set up; with `expected`, the
   * published key must be that one.
   */
  checkDns: (domain: string, selector: string, expected?: ExpectedKey) => Promise<DkimCheckResult>;
  dryRun: boolean;
  logger: AppLogger;
  clock?: () => Date;
  /** When a slow action or command tells the person it is still working (tests shorten it). */
  progress?: ProgressSettings;
  /** Who may see requests of which channel (`/dkim status`); createApp makes one. */
  channelVisibility?: ChannelVisibility;
  /** Posts a request's card once, even when Slack's answer is lost (post-card.ts). */
  postCard: PostCard;
  /** Posts a batch's card once, likewise. */
  postBatchCard: PostBatchCard;
  /** Attaches files in a thread (files.uploadV2, upload-file.ts): a batch's records. */
  uploadFiles: UploadFiles;
  /** The bot's paced client (slack-client.ts), for the few posts a listener makes in a thread. */
  threadClient: SlackClient;
  /** A link to a message, built from the workspace's URL (no chat.getPermalink call). */
  permalink?: (channel: string, ts: string) => string | undefined;
}
