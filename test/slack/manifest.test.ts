/**
 * manifest.yml is what operators paste into Slack, so its shape is tested like code.
 * No YAML parser is among the dependencies (`ls node_modules | grep -i yaml` finds none), and
 * writing one for a test is not worth it: these are targeted checks on the text, written
 * against the block style the file uses. The structural checks at the top keep it in that
 * style (spaces only, two-space steps, no flow collections or block scalars), so the
 * targeted checks stay meaningful.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { USAGE } from "../../src/slack/command-parser.js";

const text = readFileSync(new URL("../../manifest.yml", import.meta.url), "utf8");
const lines = text.split("\n");
const content = lines.filter((line) => line.trim() !== "" && !line.trim().startsWith("#"));

const EVENTS_URL = "https://YOUR-HOST/slack/events";
const BOT_SCOPES = [
  "commands",
  "chat:write",
  "usergroups:read",
  "channels:read",
  "groups:read",
  "channels:history",
  "groups:history",
  "files:write",
];

/**
 * The value of `key` directly under the first line matching `parentPattern`: a child two
 * spaces deeper, or, when the children are a list (`- key: ...`), a key of its first item.
 */
function scalar(parentPattern: RegExp, key: string): string | undefined {
  const start = lines.findIndex((line) => parentPattern.test(line));
  if (start === -1) return undefined;
  const parentIndent = (lines[start] ?? "").search(/\S/);
  let inList = false;
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === "" || line.trim().startsWith("#")) continue;
    const indent = line.search(/\S/);
    if (indent <= parentIndent) return undefined;
    const isChild = indent === parentIndent + 2;
    if (isChild) inList = line.trim().startsWith("- ");
    if (!isChild && !(inList && indent === parentIndent + 4)) continue;
    const match = new RegExp(`^\\s*(?:- )?${key}: (.*)$`).exec(line);
    if (match) return unquote(match[1] ?? "");
  }
  return undefined;
}

function unquote(value: string): string {
  const trimmed = value.trim();
  if (trimmed.startsWith('"')) return JSON.parse(trimmed) as string;
  return trimmed;
}

describe("manifest.yml: structure", () => {
  it("is block-style YAML with two-space indentation", () => {
    expect(text).not.toMatch(/\t/);
    for (const line of content) {
      expect(line.search(/\S/) % 2, line).toBe(0);
      // Flow collections, block scalars, anchors and tags would defeat the checks below.
      expect(line, line).not.toMatch(/:\s*[[{|>&*!]/);
    }
  });

  it("has exactly the top-level sections Slack expects, once each", () => {
    const topLevel = content.filter((line) => /^\S/.test(line)).map((line) => line.split(":")[0]);
    expect(topLevel).toEqual([
      "_metadata",
      "display_information",
      "features",
      "oauth_config",
      "settings",
    ]);
  });

  it("targets manifest schema version 1", () => {
    expect(text).toMatch(/^_metadata:\n {2}major_version: 1\n/m);
  });
});

describe("manifest.yml: content", () => {
  it("describes the app within Slack's length limits", () => {
    const name = scalar(/^display_information:/, "name") ?? "";
    const description = scalar(/^display_information:/, "description") ?? "";
    const long = scalar(/^display_information:/, "long_description") ?? "";
    expect(name).toBe("dkim-bot");
    expect(description.length).toBeGreaterThan(0);
    expect(description.length).toBeLessThanOrEqual(140);
    expect(long.length).toBeGreaterThanOrEqual(175);
    expect(long.length).toBeLessThanOrEqual(4000);
  });

  it("has an always-online bot user named dkim-bot", () => {
    expect(scalar(/^ {2}bot_user:/, "display_name")).toBe("dkim-bot");
    expect(scalar(/^ {2}bot_user:/, "always_online")).toBe("true");
  });

  it("declares /dkim, pointed at /slack/events, unescaped, with the documented hint", () => {
    const commands = lines.filter((line) => /^ {4}- command: /.test(line));
    expect(commands).toEqual(["    - command: /dkim"]);
    expect(scalar(/^ {2}slash_commands:/, "url")).toBe(EVENTS_URL);
    expect(scalar(/^ {2}slash_commands:/, "should_escape")).toBe("false");
    expect(scalar(/^ {2}slash_commands:/, "description")?.length).toBeGreaterThan(10);
    const hint = scalar(/^ {2}slash_commands:/, "usage_hint") ?? "";
    expect(hint).toBe(
      "setup <domain> [selector=…] [bits=2048] [user=…] | rotate <domain> | status | check | help",
    );
    // The hint and the parser agree on the subcommands.
    for (const subcommand of Object.keys(USAGE)) expect(hint).toContain(subcommand);
  });

  it("asks for exactly the bot scopes the features need, each with its reason", () => {
    const start = lines.indexOf("    bot:");
    expect(start).toBeGreaterThan(-1);
    const block: string[] = [];
    for (const line of lines.slice(start + 1)) {
      if (!/^ {6}/.test(line)) break;
      block.push(line.trim());
    }
    const scopes = block.filter((line) => line.startsWith("- ")).map((line) => line.slice(2));
    expect(scopes.sort()).toEqual([...BOT_SCOPES].sort());
    block.forEach((line, index) => {
      if (line.startsWith("- ")) expect(block[index - 1], line).toMatch(/^#/);
    });
    expect(text).not.toMatch(/^ {4}user:/m);
  });

  it("enables interactivity at the same URL as the command", () => {
    expect(scalar(/^ {2}interactivity:/, "is_enabled")).toBe("true");
    expect(scalar(/^ {2}interactivity:/, "request_url")).toBe(EVENTS_URL);
    const urls = [...text.matchAll(/https:\/\/YOUR-HOST\S*/g)].map((match) => match[0]);
    expect(new Set(urls)).toEqual(new Set([EVENTS_URL]));
  });

  it("has the Home tab on, fed by app_home_opened at the same URL as everything else", () => {
    expect(scalar(/^ {2}app_home:/, "home_tab_enabled")).toBe("true");
    expect(scalar(/^ {2}event_subscriptions:/, "request_url")).toBe(EVENTS_URL);
    const start = lines.indexOf("    bot_events:");
    expect(start).toBeGreaterThan(-1);
    const events: string[] = [];
    for (const line of lines.slice(start + 1)) {
      if (line.trim().startsWith("#")) continue;
      if (!/^ {6}- /.test(line)) break;
      events.push(line.trim().slice(2));
    }
    expect(events).toEqual(["app_home_opened"]);
  });

  it("runs in HTTP mode and documents how to switch to Socket Mode", () => {
    expect(scalar(/^settings:/, "socket_mode_enabled")).toBe("false");
    expect(scalar(/^settings:/, "org_deploy_enabled")).toBe("false");
    expect(scalar(/^settings:/, "token_rotation_enabled")).toBe("false");
    const before = text.slice(0, text.indexOf("  socket_mode_enabled:"));
    const comment = before.slice(before.lastIndexOf("  org_deploy_enabled"));
    expect(comment).toMatch(/SLACK_APP_TOKEN/);
    expect(comment).toMatch(/connections:write/);
    expect(comment).toMatch(/true/);
  });
});
