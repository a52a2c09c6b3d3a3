/**
 * Which managed zone (DKIM_DNS_PUBLISH_ZONES) a record name belongs to. Names and zones are
 * compared in one form: lower case, no trailing dot, IDN as punycode; the longest matching
 * zone wins, so with "example.com" and "eu.example.com" managed, a key of shop.eu.example.com
 * goes into eu.example.com. A name equal to a zone or below it matches; "badexample.com" does
 * not match "example.com".
 */
import { domainToASCII } from "node:url";
import { normaliseDomain } from "../dkim/names.js";
import { InputError } from "../errors.js";

const MAX_NAME = 253;
const MAX_LABEL = 63;
/** Record names carry underscores (`_domainkey`), which host names do not allow. */
const NON_ASCII = /[^ -~]/;
const RECORD_LABEL = /^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$/;

/** A zone as DKIM_DNS_PUBLISH_ZONES may give it; throws InputError("zone", ...) with the reason. */
export function normaliseZone(input: string): string {
  try {
    return normaliseDomain(input);
  } catch (error) {
    if (error instanceof InputError) {
      throw new InputError("zone", error.message.replace(/^domain /, "zone "));
    }
    throw error;
  }
}

/**
 * A record name in the compared form. Throws InputError("recordName", ...) for a name DNS
 * cannot carry (an empty or over-long label, characters other than LDH and underscore).
 */
export function normaliseRecordName(input: string): string {
  let name = input.trim().toLowerCase().replace(/\.$/, "");
  if (NON_ASCII.test(name)) {
    // Each label on its own: domainToASCII would refuse the whole name for its underscores.
    name = name
      .split(".")
      .map((label) => (NON_ASCII.test(label) ? domainToASCII(label) : label))
      .join(".");
  }
  const bad = name
    .split(".")
    .find((label) => label.length > MAX_LABEL || !RECORD_LABEL.test(label));
  if (name === "" || bad !== undefined || name.length > MAX_NAME) {
    throw new InputError(
      "recordName",
      `The record name ${JSON.stringify(input)} is not a DNS name the bot can write: labels of letters, digits, hyphens and underscores, at most ${MAX_LABEL} characters each and ${MAX_NAME} in all.`,
    );
  }
  return name;
}

export interface ZoneMatcher {
  /** The managed zones, normalised, longest first. */
  readonly zones: readonly string[];
  /** The longest managed zone that holds `recordName`, or undefined (the domain stays manual). */
  zoneFor(recordName: string): string | undefined;
}

export function createZoneMatcher(zones: readonly string[]): ZoneMatcher {
  const normalised = [...new Set(zones.map(normaliseZone))].sort((a, b) => b.length - a.length);
  return {
    zones: normalised,
    zoneFor(recordName) {
      let name: string;
      try {
        name = normaliseRecordName(recordName);
      } catch {
        return undefined;
      }
      return normalised.find((zone) => name === zone || name.endsWith(`.${zone}`));
    },
  };
}
