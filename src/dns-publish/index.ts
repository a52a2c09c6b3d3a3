/**
 * DNS publishing: the bot writes a key's TXT record into a zone it is allowed to write, and
 * removes or revokes it later. Knows nothing of Slack or of requests; the flows call a
 * DnsPublisher (publisher.ts) made here from the configuration (config.ts `dnsPublish`).
 */
import { createPowerDnsPublisher, type PowerDnsOptions } from "./powerdns.js";
import type { DnsPublisher } from "./publisher.js";
import { createRfc2136Publisher, type Rfc2136Options } from "./rfc2136.js";
import type { DnsPublishSettings } from "./settings.js";

export { DnsPublishError, type DnsPublishReason, isDnsPublishError } from "./errors.js";
export type { DnsPublisher, DnsRecord } from "./publisher.js";
export type { DnsPublishSettings } from "./settings.js";

/** The bot's revoked record (RFC 6376 §3.6.1: an empty p= means the key is revoked). */
export const REVOKED_RSA_VALUE = "v=DKIM1; k=rsa; p=";

export type DnsPublisherOptions = Rfc2136Options & PowerDnsOptions;

export function createDnsPublisher(
  settings: DnsPublishSettings,
  options: DnsPublisherOptions = {},
): DnsPublisher {
  return settings.provider === "rfc2136"
    ? createRfc2136Publisher(settings, options)
    : createPowerDnsPublisher(settings, options);
}
