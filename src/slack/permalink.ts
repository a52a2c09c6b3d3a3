/**
 * A link to a message, built from the workspace's URL (auth.test) instead of asking Slack for
 * each one (chat.getPermalink): `https://acme.slack.com/archives/C123/p1700000000123456`.
 */
export function permalinkOf(
  workspaceUrl: string | undefined,
  channel: string,
  ts: string,
  threadTs: string | null = null,
): string | undefined {
  if (workspaceUrl === undefined) return undefined;
  const base = workspaceUrl.endsWith("/") ? workspaceUrl : `${workspaceUrl}/`;
  const link = `${base}archives/${channel}/p${ts.replace(".", "")}`;
  return threadTs === null || threadTs === ts
    ? link
    : `${link}?thread_ts=${threadTs}&cid=${channel}`;
}
