import { randomBytes } from "node:crypto";

/** Lower-case letters and digits without look-alikes (no i, l, o, u): easy to read out in chat. */
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";
const LENGTH = 12;

/** 12 characters of a 32-letter alphabet: 60 random bits, URL-safe, short enough to type. */
export function newRequestId(): string {
  // 32 divides 256, so taking each byte modulo 32 keeps every letter equally likely.
  const bytes = randomBytes(LENGTH);
  let id = "";
  for (const byte of bytes) id += ALPHABET[byte % ALPHABET.length];
  return id;
}
