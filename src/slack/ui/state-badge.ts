import type { RequestState } from "../../requests/model.js";

/**
 * The one name and emoji of each request state. Every message (request, thread, status,
 * refusals) uses these, so people learn one word per state.
 */
export const STATE_BADGES: Readonly<Record<RequestState, { emoji: string; label: string }>> = {
  pending: { emoji: ":hourglass_flowing_sand:", label: "Waiting for DNS and approval" },
  applying: { emoji: ":gear:", label: "Applying" },
  active: { emoji: ":white_check_mark:", label: "Active" },
  failed: { emoji: ":x:", label: "Failed" },
  rejected: { emoji: ":no_entry:", label: "Rejected" },
  cancelled: { emoji: ":heavy_multiplication_x:", label: "Cancelled" },
  expired: { emoji: ":zzz:", label: "Expired" },
  retiring: { emoji: ":twisted_rightwards_arrows:", label: "Retiring" },
  retired: { emoji: ":card_file_box:", label: "Retired" },
};

/** `:gear: Applying` */
export function stateBadge(state: RequestState): string {
  const badge = STATE_BADGES[state];
  return `${badge.emoji} ${badge.label}`;
}
