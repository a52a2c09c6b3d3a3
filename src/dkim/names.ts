/**
 * Validation and normalisation of what people type: the domain, the DKIM selector and the
 * outgoing username. Runs before any key is generated or any call is made; every rejection
 * is an `InputError` whose message names the exact problem and how to fix it.
 */
import { isIP } from "node:net";
import { domainToASCII, domainToUnicode } from "node:url";
import { InputError } from "../errors.js";
import { isKeyBits, type KeyBits } from "./keys.js";

const MAX_LABEL = 63;
const MAX_NAME = 253;
const MAX_USERNAME = 254;
const MAX_SHOWN = 80;
const LDH_FIX = "use letters, digits and hyphens";
const DOMAIN_EXAMPLE = "e.g. example.com";

/** The DNS name of a DKIM key record. */
export function dkimRecordName(selector: string, domain: string): string {
  return `${selector}._domainkey.${domain}`;
}

/** RFC 8301: signers SHOULD use 2048 bits, which RFC 2119 spells RECOMMENDED. */
export const RECOMMENDED_BITS: KeyBits = 2048;
/** The one word for it, in the form, the help and the refusal alike. */
export const RECOMMENDED_WORD = "recommended";
/** `1024, 2048 (recommended) or 4096` */
export const KEY_SIZE_CHOICES = `1024, ${RECOMMENDED_BITS} (${RECOMMENDED_WORD}) or 4096`;

/**
 * A key size as typed: one of the sizes offered, or an `InputError("bits", …)` that says what is
 * wrong with it before it says what to choose.
 */
export function validateKeyBits(bits: number): KeyBits {
  if (isKeyBits(bits)) return bits;
  const choose = `choose ${KEY_SIZE_CHOICES}`;
  if (!Number.isSafeInteger(bits) || bits <= 0) {
    throw new InputError("bits", `bits ${shown(String(bits))} is not a key size: ${choose}`);
  }
  if (bits < 1024) {
    throw new InputError(
      "bits",
      `${bits}-bit keys are too weak (RFC 8301 requires at least 1024): ${choose}`,
    );
  }
  if (bits > 4096) {
    throw new InputError(
      "bits",
      `${bits}-bit keys are larger than verifiers must handle (RFC 8301: up to 4096), so some would fail them: ${choose}`,
    );
  }
  throw new InputError("bits", `${bits}-bit keys are not offered: ${choose}`);
}

/**
 * A DKIM record name typed whole into a DNS panel that appends the zone itself lands at the
 * name with the zone twice (`s1._domainkey.example.com.example.com`): the usual mistake. These
 * are the names where it would land, for each zone the domain may sit in (the domain itself,
 * then its parents down to two labels), nearest first, with the part the panel wants instead.
 */
export interface DoubledZoneName {
  /** Where the record lands, e.g. `s1._domainkey.example.com.example.com`. */
  name: string;
  /** The zone the panel appended, e.g. `example.com`. */
  zone: string;
  /** What to type into that zone's panel, e.g. `s1._domainkey` (or `s1._domainkey.mail`). */
  relativeName: string;
}

/** Zones looked at: a mail domain is rarely more than two levels below its zone. */
const MAX_DOUBLED_ZONES = 3;

export function doubledZoneNames(selector: string, domain: string): DoubledZoneName[] {
  const full = dkimRecordName(selector, domain);
  const labels = domain.split(".");
  const names: DoubledZoneName[] = [];
  for (let at = 0; at <= labels.length - 2 && names.length < MAX_DOUBLED_ZONES; at++) {
    const zone = labels.slice(at).join(".");
    const name = `${full}.${zone}`;
    if (name.length > MAX_NAME) continue;
    names.push({ name, zone, relativeName: nameRelativeToZone(full, zone) });
  }
  return names;
}

/** The part of a record name to type into a panel that appends `zone` itself. */
export function nameRelativeToZone(name: string, zone: string): string {
  return name.endsWith(`.${zone}`) ? name.slice(0, name.length - zone.length - 1) : name;
}

/** The documented default selector: `s` + the UTC year and month, e.g. `s202611`. */
export function defaultSelector(now: Date): string {
  const month = String(now.getUTCMonth() + 1).padStart(2, "0");
  return `s${now.getUTCFullYear()}${month}`;
}

/**
 * Slack turns what looks like a link into `<http://example.com|example.com>` (or
 * `<mailto:a@example.com|a@example.com>`) before a command reaches us: keep what the person typed.
 * Mentions (`<@U1>`, `<#C1|general>`, `<!channel>`) are not links: they stay as they are, and
 * the checks below refuse them.
 */
function unwrapSlackLink(text: string): string {
  const match = /^<([^<>|]*)(?:\|([^<>|]*))?>$/.exec(text);
  if (!match || isSlackMention(text)) return text;
  return match[2] ?? match[1] ?? text;
}

/** `<@U…>`, `<#C…>`, `<!here>`, `<!subteam^S…>`, `<!date^…>`: a mention or other markup. */
function isSlackMention(text: string): boolean {
  return /<[@#!][^<>]*>/.test(text);
}

/** The input as it appears in a message: quoted, escaped, and cut short if long. */
function shown(text: string): string {
  const chars = [...text];
  const cut = chars.length > MAX_SHOWN ? `${chars.slice(0, MAX_SHOWN - 1).join("")}…` : text;
  return JSON.stringify(cut);
}

/** A character as it appears in a message; invisible ones by code point so people can see them. */
export function describeChar(char: string): string {
  if (/^[\p{C}\p{Z}]$/u.test(char) && char !== " ") {
    const codePoint = char.codePointAt(0) ?? 0;
    return `U+${codePoint.toString(16).toUpperCase().padStart(4, "0")}`;
  }
  return JSON.stringify(char);
}

function isAscii(text: string): boolean {
  for (const char of text) if (char.charCodeAt(0) >= 0x80) return false;
  return true;
}

function isLdhChar(char: string): boolean {
  return /^[a-zA-Z0-9-]$/.test(char);
}

/**
 * Checks the dot-separated labels of an ASCII name: 1..63 characters each, LDH, no hyphen at
 * either end. Returns the problem as a sentence, or undefined.
 */
function labelProblem(name: string): string | undefined {
  for (const label of name.split(".")) {
    if (label.length === 0) {
      return "has an empty label (two dots together, or a dot at the start or end); remove the extra dot";
    }
    if (label.length > MAX_LABEL) {
      return `label ${shown(label)} is ${label.length} characters long; a label may have at most ${MAX_LABEL}`;
    }
    if (label.startsWith("-") || label.endsWith("-")) {
      return `label ${shown(label)} ${label.startsWith("-") ? "starts" : "ends"} with a hyphen; a label must start and end with a letter or digit`;
    }
  }
  return undefined;
}

/**
 * A label that starts with `xn--` claims to be the punycode (A-label) form of an
 * internationalised label. It must decode, to something that is not plain ASCII, and encode
 * back to itself: `xn--a` or `xn--abc-` would otherwise reach DNS and SpamExperts as names
 * that no one can type in their own script.
 */
function aLabelProblem(name: string): string | undefined {
  for (const label of name.split(".")) {
    if (!label.startsWith("xn--")) continue;
    const unicode = domainToUnicode(label);
    if (unicode === "" || isAscii(unicode) || domainToASCII(unicode) !== label) {
      return `label ${shown(label)} is not valid punycode (it does not decode to an internationalised name); check the spelling, or type the name in its own script, e.g. bücher.example`;
    }
  }
  return undefined;
}

function domainError(input: string, problem: string): InputError {
  return new InputError("domain", `domain ${shown(input)}: ${problem}`);
}

/**
 * The domain in the form DNS and SpamExperts use: lowercase ASCII (IDN as punycode), no
 * trailing dot. Throws `InputError("domain", ...)`.
 */
export function normaliseDomain(input: string): string {
  const typed = unwrapSlackLink(input.trim());
  if (typed.length === 0) {
    throw new InputError("domain", `domain is empty; give a domain name, ${DOMAIN_EXAMPLE}`);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(typed) || /^mailto:/i.test(typed)) {
    throw domainError(typed, `give the bare domain, ${DOMAIN_EXAMPLE}, not a link`);
  }
  if (isSlackMention(typed)) {
    throw domainError(
      typed,
      `is a Slack mention or channel, not a domain name; give a domain name, ${DOMAIN_EXAMPLE}`,
    );
  }
  if (isIP(typed.replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "")) !== 0) {
    throw domainError(
      typed,
      `an IP address is not a domain name; give a domain name, ${DOMAIN_EXAMPLE}`,
    );
  }

  // Forbidden ASCII first, so the message names the character as typed (before IDN mapping).
  for (const char of typed) {
    if (char.charCodeAt(0) >= 0x80 || isLdhChar(char) || char === ".") continue;
    throw domainError(typed, forbiddenInDomain(char, typed));
  }

  let name = typed.toLowerCase().replace(/\.$/, "");
  if (!isAscii(name)) {
    const ascii = domainToASCII(name);
    if (ascii === "") {
      throw domainError(
        typed,
        "is not a valid internationalised domain name; check the spelling or give its punycode (xn--) form",
      );
    }
    name = ascii.replace(/\.$/, "");
    // IDN mapping can yield characters (e.g. from compatibility forms) that LDH does not allow.
    for (const char of name) {
      if (!isLdhChar(char) && char !== ".")
        throw domainError(typed, forbiddenInDomain(char, typed));
    }
  }

  const problem = labelProblem(name) ?? aLabelProblem(name);
  if (problem !== undefined) throw domainError(typed, problem);
  if (name.length > MAX_NAME) {
    throw domainError(
      typed,
      `is ${name.length} characters long${isAscii(typed) ? "" : " in its punycode form"}; a domain name may have at most ${MAX_NAME}`,
    );
  }
  const labels = name.split(".");
  if (labels.length < 2) {
    throw domainError(
      typed,
      `give the full domain name with its top-level domain, ${DOMAIN_EXAMPLE}`,
    );
  }
  const tld = labels[labels.length - 1] ?? "";
  if (/^[0-9]+$/.test(tld)) {
    throw domainError(
      typed,
      `the last label ${shown(tld)} is all digits, so this is not a domain name; give a domain name, ${DOMAIN_EXAMPLE}`,
    );
  }
  return name;
}

function forbiddenInDomain(char: string, typed: string): string {
  const what = `${describeChar(char)} is not allowed`;
  switch (char) {
    case "*":
      return `${what}; a wildcard cannot carry a DKIM key: give the exact domain, ${DOMAIN_EXAMPLE}`;
    case "@": {
      const after = typed.slice(typed.lastIndexOf("@") + 1);
      return `${what}; give the bare domain (the part after "@"), e.g. ${after.length > 0 ? after : "example.com"}`;
    }
    case "/":
    case ":":
      return `${what}; give the bare domain, ${DOMAIN_EXAMPLE}, not a link`;
    default:
      return `${what}; ${LDH_FIX}`;
  }
}

/**
 * An RFC 6376 selector: one or more LDH labels joined by dots, lowercased.
 * Throws `InputError("selector", ...)`.
 */
export function normaliseSelector(input: string): string {
  const typed = unwrapSlackLink(input.trim());
  if (typed.length === 0) {
    throw new InputError(
      "selector",
      `selector is empty; give a selector of letters, digits and hyphens, e.g. ${defaultSelector(new Date())}`,
    );
  }
  for (const char of typed) {
    if (isLdhChar(char) || char === ".") continue;
    throw new InputError(
      "selector",
      `selector ${shown(typed)}: ${describeChar(char)} is not allowed; ${LDH_FIX}`,
    );
  }
  const selector = typed.toLowerCase();
  const problem = labelProblem(selector);
  if (problem !== undefined) {
    throw new InputError("selector", `selector ${shown(typed)}: ${problem}`);
  }
  // With "._domainkey." and the shortest domain ("a.bc") the DNS name must still fit in 253.
  const room = MAX_NAME - "._domainkey.a.bc".length;
  if (selector.length > room) {
    throw new InputError(
      "selector",
      `selector ${shown(typed)}: is ${selector.length} characters long; a selector may have at most ${room}`,
    );
  }
  return selector;
}

/**
 * The DNS name of the key record, checked as a whole: a long selector on a long domain can
 * exceed 253 characters although each is valid alone. Throws `InputError("selector", ...)`.
 */
export function checkedDkimRecordName(selector: string, domain: string): string {
  const name = dkimRecordName(selector, domain);
  if (name.length > MAX_NAME) {
    throw new InputError(
      "selector",
      `selector ${shown(selector)}: the record name ${shown(name)} would be ${name.length} characters long; DNS allows at most ${MAX_NAME}, so use a shorter selector`,
    );
  }
  return name;
}

/**
 * An outgoing username as SpamExperts knows it (a domain or an email-like login): kept as
 * typed but trimmed; printable, no whitespace or control characters, 1..254 characters.
 * Throws `InputError("user", ...)`.
 */
export function validateUsername(input: string): string {
  const typed = unwrapSlackLink(input.trim());
  if (typed.length === 0) {
    throw new InputError(
      "user",
      "user is empty; give the outgoing username, e.g. example.com or mailer@example.com",
    );
  }
  // `user=<!channel>` reaches us as `@channel` once Slack's markup is unwrapped; no SpamExperts
  // login starts with "@" or "#" or holds Slack's brackets.
  if (isSlackMention(typed) || /^[@#]/.test(typed)) {
    throw new InputError(
      "user",
      `user ${shown(typed)}: is a Slack mention or channel, not an outgoing username; give the SpamExperts login, e.g. example.com or mailer@example.com`,
    );
  }
  for (const char of typed) {
    if (char === "<" || char === ">") {
      throw new InputError(
        "user",
        `user ${shown(typed)}: ${describeChar(char)} is not allowed; give the outgoing username without Slack markup, e.g. mailer@example.com`,
      );
    }
    if (/^[\p{C}\p{Z}\s]$/u.test(char)) {
      const kind = /^[\p{Z}\s]$/u.test(char) ? "whitespace" : "control or invisible characters";
      throw new InputError(
        "user",
        `user ${shown(typed)}: ${describeChar(char)} is not allowed; an outgoing username has no ${kind}`,
      );
    }
  }
  const length = [...typed].length;
  if (length > MAX_USERNAME) {
    throw new InputError(
      "user",
      `user ${shown(typed)}: is ${length} characters long; an outgoing username may have at most ${MAX_USERNAME}`,
    );
  }
  return typed;
}
