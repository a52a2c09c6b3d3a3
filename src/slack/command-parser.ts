import { INVENTORY_FILTERS, type InventoryFilter, NAME_PART } from "../requests/inventory.js";
import { MAX_DOMAINS_PAGE } from "./ui/ids.js";

/**
 * Parses the text of `/dkim ...` into a command. Pure and total: any text gives either a
 * command or `{ kind: "error", message }`, never a throw. It checks the grammar only; whether
 * a domain, selector, key size or username is acceptable is the request service's call, so
 * that the Slack modal, the slash command and the CLI share one set of rules.
 */

export type SetupCommand = {
  kind: "setup";
  domain: string;
  selector?: string;
  /** Digits only here; whether the size is allowed (1024/2048/4096) is decided by the service. */
  bits?: number;
  /** Outgoing usernames in the order given, without repeats; empty means "the domain itself". */
  users: string[];
  /** `testing`: publish the record with `t=y`. */
  testing: boolean;
  reason?: string;
};

/**
 * `/dkim setup a.com b.com, c.com …`: several domains (spaces, commas or newlines between
 * them), one batch. The options apply to every domain; `user=` is refused (each domain signs
 * for itself). Whether each name is a domain, and repeats, are the service's to judge.
 */
export type BulkSetupCommand = {
  kind: "bulk-setup";
  /** As typed, in order, at least two. */
  domains: string[];
  selector?: string;
  bits?: number;
  testing: boolean;
  reason?: string;
};

export type DkimCommand =
  | { kind: "help" }
  /** `/dkim setup` with nothing after it: open the modal form. */
  | { kind: "setup-modal" }
  | SetupCommand
  | BulkSetupCommand
  /** `/dkim rotate <domain>`: a new key replacing the domain's active one. */
  | { kind: "rotate"; domain: string; selector?: string; bits?: number }
  | { kind: "status"; domain?: string }
  /** `/dkim domains [<state> | <part of a name>]… [page=<n>]`: the cluster's domains. */
  | { kind: "domains"; filter?: InventoryFilter; namePart?: string; page?: number }
  | { kind: "check"; domain: string; selector?: string };

export type ParseError = { kind: "error"; message: string };

export type ParseResult = DkimCommand | ParseError;

export interface ParseOptions {
  /** The slash command as configured in Slack, for usage lines. */
  command?: string;
}

export const DEFAULT_COMMAND = "/dkim";

/** Usage lines without the command name, so that help texts and errors agree. */
export const USAGE = {
  setup:
    'setup <domain> [<domain>...] [selector=<s>] [bits=1024|2048|4096] [user=<outgoing user>]... [testing] [reason="<text>"]',
  rotate: "rotate <domain> [selector=<s>] [bits=1024|2048|4096]",
  status: "status [<domain> | open | active | failed]",
  domains: `domains [${INVENTORY_FILTERS.join(" | ")} | <part of a name>] [page=<n>]`,
  check: "check <domain> [<selector>]",
  help: "help",
} as const;

export type Subcommand = keyof typeof USAGE;

export function usageOf(subcommand: Subcommand, command: string = DEFAULT_COMMAND): string {
  return `${command} ${USAGE[subcommand]}`;
}

const SETUP_KEYS = ["selector", "bits", "user", "reason"] as const;
type SetupKey = (typeof SETUP_KEYS)[number];
const TESTING_FLAG = "testing";

export function parseDkimCommand(text: string, options: ParseOptions = {}): ParseResult {
  const command = options.command ?? DEFAULT_COMMAND;
  const tokenized = tokenize(unwrapSlackMarkupMarked(text));
  if (!tokenized.ok) {
    return { kind: "error", message: tokenized.message };
  }
  const [first, ...rest] = tokenized.tokens;
  if (first === undefined) {
    return { kind: "help" };
  }
  // A quoted subcommand ("setup") is still the subcommand; only the bare word matters.
  const subcommand = first.text.toLowerCase();
  switch (subcommand) {
    case "help":
      // `help setup` and the like: there is one help text, so extra words are harmless.
      return { kind: "help" };
    case "setup":
      return parseSetup(rest, command);
    case "rotate":
      return parseRotate(rest, command);
    case "status":
      return parseStatus(rest, command);
    case "domains":
      return parseDomains(rest, command);
    case "check":
      return parseCheck(rest, command);
    default:
      return {
        kind: "error",
        message:
          `Unknown subcommand "${first.text}". Use one of: ` +
          (Object.keys(USAGE) as Subcommand[]).map((name) => usageOf(name, command)).join(" · "),
      };
  }
}

function parseSetup(tokens: Token[], command: string): ParseResult {
  if (tokens.length === 0) {
    return { kind: "setup-modal" };
  }
  const usage = `Use: ${usageOf("setup", command)}`;
  const error = (message: string): ParseError => ({
    kind: "error",
    message: `${message} ${usage}`,
  });

  const domains: string[] = [];
  const seen = new Set<string>();
  const users: string[] = [];
  const result: Omit<SetupCommand, "domain"> = { kind: "setup", users, testing: false };

  for (const token of tokens) {
    const option = splitOption(token);
    if (option === undefined) {
      const word = token.text;
      const lower = word.toLowerCase();
      if (!token.quoted && lower === TESTING_FLAG) {
        if (seen.has(TESTING_FLAG)) return error('Option "testing" is given twice.');
        seen.add(TESTING_FLAG);
        result.testing = true;
        continue;
      }
      if (!token.quoted && isSetupKey(lower)) {
        return error(`Missing value for "${lower}": write ${lower}=<value>.`);
      }
      if (domains.length === 0 && word === "") {
        // `setup ""`: quotes around nothing are no domain.
        return error("Missing domain.");
      }
      // `a.com, b.com` or `a.com,b.com`: commas separate domains as spaces do.
      const pieces = token.quoted ? [word] : word.split(",").filter((piece) => piece !== "");
      for (const piece of pieces) {
        if (token.fromMention) return error(mentionMessage(piece, "a domain name", "example.com"));
        // A word without a dot after the first domain is a forgotten `key=` (`setup a.com s1`),
        // not a domain: a domain name has at least two labels.
        if (domains.length > 0 && !piece.includes(".")) {
          return error(
            `Unexpected "${piece}": after the domain, options are key=value (e.g. selector=${piece}).`,
          );
        }
        domains.push(piece);
      }
      continue;
    }

    const key = option.key.toLowerCase();
    if (key === TESTING_FLAG) {
      return error('"testing" takes no value: write testing on its own.');
    }
    if (!isSetupKey(key)) {
      const hint = closestKey(key);
      return error(`Unknown option "${option.key}".${hint ? ` Did you mean "${hint}"?` : ""}`);
    }
    if (key !== "user" && seen.has(key)) {
      return error(`Option "${key}" is given twice.`);
    }
    seen.add(key);
    if (option.value === "") {
      return error(`Missing value for "${key}".`);
    }
    // A reason may mention people; a selector or username that Slack made out of a mention
    // (`user=<!channel>` arrives as `user=@channel`) would be taken as a name.
    if (token.fromMention && key !== "reason") {
      const [what, example] =
        key === "user"
          ? ["an outgoing username", "user=mailer@example.com"]
          : ["a selector", "selector=s1"];
      return error(mentionMessage(`${key}=${option.value}`, what, example));
    }
    switch (key) {
      case "selector":
        result.selector = option.value;
        break;
      case "bits":
        if (!/^\d{1,6}$/.test(option.value)) {
          return error(`"bits" must be a number such as 2048, not "${option.value}".`);
        }
        result.bits = Number(option.value);
        break;
      case "reason":
        result.reason = option.value;
        break;
      case "user": {
        // `user=a,b user=c`: commas and repetition both add users; empty entries are typos.
        const names = option.value.split(",").map((name) => name.trim());
        if (names.some((name) => name === "")) {
          return error(`Empty username in "user=${option.value}".`);
        }
        for (const name of names) {
          if (!users.includes(name)) users.push(name);
        }
        break;
      }
    }
  }

  const [domain] = domains;
  if (domain === undefined) {
    return error("Missing domain.");
  }
  if (domains.length === 1) return { ...result, domain };
  if (users.length > 0) {
    return error(
      `"user=" works with one domain only, and ${domains.length} are given: in a batch each domain signs for itself. Set up a domain with its own outgoing users on its own.`,
    );
  }
  const { kind: _kind, users: _users, ...options } = result;
  return { kind: "bulk-setup", domains, ...options };
}

/**
 * `rotate <domain> [selector=] [bits=]`: the grammar of setup, less what a rotation takes
 * from the active key (its outgoing users, its testing flag).
 */
function parseRotate(tokens: Token[], command: string): ParseResult {
  const usage = `Use: ${usageOf("rotate", command)}`;
  if (tokens.length === 0) return { kind: "error", message: `Missing domain. ${usage}` };
  const setup = parseSetup(tokens, command);
  if (setup.kind === "error") {
    return { kind: "error", message: setup.message.replace(/Use: .*$/s, usage) };
  }
  if (setup.kind === "bulk-setup") {
    return { kind: "error", message: `A rotation takes one domain. ${usage}` };
  }
  if (setup.kind !== "setup") return { kind: "error", message: `Missing domain. ${usage}` };
  if (setup.users.length > 0 || setup.testing || setup.reason !== undefined) {
    return {
      kind: "error",
      message: `A rotation keeps the active key's outgoing users and settings: give only the domain, and selector= or bits= if you want. ${usage}`,
    };
  }
  return {
    kind: "rotate",
    domain: setup.domain,
    ...(setup.selector === undefined ? {} : { selector: setup.selector }),
    ...(setup.bits === undefined ? {} : { bits: setup.bits }),
  };
}

function parseStatus(tokens: Token[], command: string): ParseResult {
  const usage = `Use: ${usageOf("status", command)}`;
  const [domain, ...extra] = tokens;
  if (domain === undefined) return { kind: "status" };
  if (splitOption(domain) !== undefined) {
    return { kind: "error", message: `"status" takes no options. ${usage}` };
  }
  if (extra[0] !== undefined) {
    return { kind: "error", message: `Unexpected "${extra[0].text}". ${usage}` };
  }
  if (domain.fromMention) {
    return {
      kind: "error",
      message: `${mentionMessage(domain.text, "a domain name", "example.com")} ${usage}`,
    };
  }
  return { kind: "status", domain: domain.text };
}

/**
 * `domains [<state>] [<part of a name>] [page=<n>]`, in any order, each at most once: a state
 * word of INVENTORY_FILTERS (or `all`), anything else a part of a name (`shop`, `.nl`;
 * `*` around it as in a shell pattern is dropped).
 */
function parseDomains(tokens: Token[], command: string): ParseResult {
  const usage = `Use: ${usageOf("domains", command)}`;
  const error = (message: string): ParseError => ({
    kind: "error",
    message: `${message} ${usage}`,
  });
  const result: { kind: "domains"; filter?: InventoryFilter; namePart?: string; page?: number } = {
    kind: "domains",
  };
  let all = false;
  for (const token of tokens) {
    if (token.fromMention) {
      return error(mentionMessage(token.text, "part of a domain name", "shop or .nl"));
    }
    const option = splitOption(token);
    if (option !== undefined) {
      if (option.key.toLowerCase() !== "page") return error(`Unknown option "${option.key}".`);
      if (result.page !== undefined) return error('Option "page" is given twice.');
      const page = Number(option.value);
      if (!/^\d{1,6}$/.test(option.value) || page < 1 || page > MAX_DOMAINS_PAGE) {
        return error(`"page" must be a page number such as 2, not "${option.value}".`);
      }
      result.page = page;
      continue;
    }
    const word = token.text.toLowerCase();
    const state = INVENTORY_FILTERS.find((filter) => filter === word);
    if (!token.quoted && (state !== undefined || word === "all")) {
      if (result.filter !== undefined || all) {
        return error(`Give one state, not "${result.filter ?? "all"}" and "${word}".`);
      }
      if (state === undefined) all = true;
      else result.filter = state;
      continue;
    }
    const part = word.replace(/^\*+|\*+$/g, "");
    if (result.namePart !== undefined) {
      return error(`Give one part of a name, not "${result.namePart}" and "${part}".`);
    }
    if (!NAME_PART.test(part)) {
      return error(
        `"${token.text}" is not part of a domain name: give letters, digits, dots or hyphens, e.g. shop or .nl.`,
      );
    }
    result.namePart = part;
  }
  return result;
}

function parseCheck(tokens: Token[], command: string): ParseResult {
  const usage = `Use: ${usageOf("check", command)}`;
  const error = (message: string): ParseError => ({
    kind: "error",
    message: `${message} ${usage}`,
  });
  const [domainToken, selectorToken, ...extra] = tokens;
  if (domainToken === undefined || domainToken.text === "") return error("Missing domain.");
  if (splitOption(domainToken) !== undefined) return error("Missing domain.");
  if (extra[0] !== undefined) return error(`Unexpected "${extra[0].text}".`);
  if (domainToken.fromMention) {
    return error(mentionMessage(domainToken.text, "a domain name", "example.com"));
  }
  if (selectorToken?.fromMention) {
    return error(mentionMessage(selectorToken.text, "a selector", "s1"));
  }
  if (selectorToken === undefined) return { kind: "check", domain: domainToken.text };

  // `check example.com selector=s1` reads naturally after `setup`, so accept it too.
  const option = splitOption(selectorToken);
  if (option === undefined) {
    return { kind: "check", domain: domainToken.text, selector: selectorToken.text };
  }
  if (option.key.toLowerCase() !== "selector") {
    return error(`Unknown option "${option.key}".`);
  }
  if (option.value === "") return error('Missing value for "selector".');
  return { kind: "check", domain: domainToken.text, selector: option.value };
}

function mentionMessage(typed: string, what: string, example: string): string {
  return `"${typed}" is a Slack mention (a person, channel, group, @here or @channel) or other Slack markup, not ${what}: give ${what}, e.g. ${example}.`;
}

function isSetupKey(key: string): key is SetupKey {
  return (SETUP_KEYS as readonly string[]).includes(key);
}

/** A hint for typos such as `bitz` or `selecter`: the known key within two edits, if any. */
function closestKey(key: string): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of [...SETUP_KEYS, TESTING_FLAG]) {
    const distance = editDistance(key, name);
    if (distance <= 2 && (best === undefined || distance < best.distance)) {
      best = { name, distance };
    }
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  // Inputs are short words; the text is bounded by Slack, so quadratic is fine.
  if (a.length > 32 || b.length > 32) return Number.POSITIVE_INFINITY;
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? Number.POSITIVE_INFINITY;
}

interface Token {
  text: string;
  /** The whole token was in quotes: never a keyword, flag or key=value. */
  quoted: boolean;
  /** Part of the token was a Slack mention or other markup that Slack turned into a word. */
  fromMention: boolean;
  /** Where `key=` ends in `text` when the key part was bare (not quoted). */
  equalsAt?: number;
}

function splitOption(token: Token): { key: string; value: string } | undefined {
  if (token.quoted || token.equalsAt === undefined) return undefined;
  const key = token.text.slice(0, token.equalsAt);
  if (key === "") return undefined;
  return { key, value: token.text.slice(token.equalsAt + 1) };
}

// Phones and macOS turn straight quotes into typographic ones as people type.
const CLOSING_QUOTE: Record<string, string> = {
  '"': '"',
  "'": "'",
  "\u201c": "\u201d",
  "\u201d": "\u201d",
  "\u2018": "\u2019",
  "\u2019": "\u2019",
  "\u201e": "\u201c",
};

type TokenizeResult = { ok: true; tokens: Token[] } | { ok: false; message: string };

/**
 * Splits on whitespace; quotes group words (`reason="ticket 42"` or `"two words"`) and a
 * backslash inside quotes escapes the next character.
 */
function tokenize({ text, fromMention }: MarkedText): TokenizeResult {
  const tokens: Token[] = [];
  let index = 0;
  while (index < text.length) {
    while (index < text.length && /\s/u.test(text[index] ?? "")) index++;
    if (index >= text.length) break;

    let value = "";
    let equalsAt: number | undefined;
    let quotedParts = 0;
    let bareChars = 0;
    let mention = false;
    while (index < text.length && !/\s/u.test(text[index] ?? "")) {
      const char = text[index] ?? "";
      mention ||= fromMention[index] === true;
      const closing = CLOSING_QUOTE[char];
      if (closing === undefined) {
        if (char === "=" && equalsAt === undefined && quotedParts === 0) equalsAt = value.length;
        value += char;
        bareChars++;
        index++;
        continue;
      }
      const start = index;
      index++;
      let closed = false;
      while (index < text.length) {
        const inner = text[index] ?? "";
        mention ||= fromMention[index] === true;
        if (inner === "\\" && index + 1 < text.length) {
          value += text[index + 1];
          index += 2;
          continue;
        }
        if (inner === closing || (closing !== char && inner === char)) {
          closed = true;
          index++;
          break;
        }
        value += inner;
        index++;
      }
      if (!closed) {
        return {
          ok: false,
          message: `Unterminated quote in ${JSON.stringify(text.slice(start, start + 40))}: close it with ${closing}.`,
        };
      }
      quotedParts++;
    }
    const token: Token = {
      text: value,
      quoted: quotedParts > 0 && bareChars === 0,
      fromMention: mention,
    };
    if (equalsAt !== undefined) token.equalsAt = equalsAt;
    tokens.push(token);
  }
  return { ok: true, tokens };
}

/**
 * Slack rewrites what people type: links become `<http://example.com|example.com>`, e-mail
 * addresses `<mailto:a@b.c|a@b.c>`, and `&`, `<`, `>` are always sent as entities. One pass
 * turns it back into the typed text, so a label can never be decoded twice.
 */
export function unwrapSlackMarkup(text: string): string {
  return unwrapSlackMarkupMarked(text).text;
}

/** Text after unwrapping, and for each UTF-16 unit of it whether it came from a mention. */
interface MarkedText {
  text: string;
  fromMention: boolean[];
}

function unwrapSlackMarkupMarked(text: string): MarkedText {
  let out = "";
  const fromMention: boolean[] = [];
  const append = (piece: string, mention: boolean): void => {
    out += piece;
    for (let i = 0; i < piece.length; i++) fromMention.push(mention);
  };
  let last = 0;
  for (const match of text.matchAll(/<([^<>]*)>|&(amp|lt|gt);/g)) {
    append(text.slice(last, match.index), false);
    last = match.index + match[0].length;
    const entity = match[2];
    if (entity !== undefined) {
      append(entity === "amp" ? "&" : entity === "lt" ? "<" : ">", false);
      continue;
    }
    const { word, mention } = unwrapOne(match[1] ?? "");
    append(word, mention);
  }
  append(text.slice(last), false);
  return { text: out, fromMention };
}

/** One `<…>` of Slack's markup, by what is inside the brackets. */
function unwrapOne(body: string): { word: string; mention: boolean } {
  const bar = body.indexOf("|");
  const target = bar === -1 ? body : body.slice(0, bar);
  const label = bar === -1 ? undefined : body.slice(bar + 1);
  // Mentions (<@U1|bob>, <#C1|general>) keep their sigil so they stay readable; special
  // mentions (<!here>, <!subteam^S1|@ops>, <!date^…|…>) carry it in the label already.
  if (target.startsWith("!")) {
    return { word: label ? decodeEntities(label) : `@${target.slice(1)}`, mention: true };
  }
  const sigil = target.startsWith("@") || target.startsWith("#") ? target.charAt(0) : "";
  if (label) return { word: `${sigil}${decodeEntities(label)}`, mention: sigil !== "" };
  // A bare mention stays in Slack's form, which Slack renders as the name when shown.
  if (sigil !== "") return { word: `<${target}>`, mention: true };
  return { word: decodeEntities(target.replace(/^mailto:/i, "")), mention: false };
}

function decodeEntities(text: string): string {
  return text.replace(/&(amp|lt|gt);/g, (_match, entity: string) =>
    entity === "amp" ? "&" : entity === "lt" ? "<" : ">",
  );
}
