/**
 * The reason a standby allocator closes an agent's link with (`WS_CLOSE.notLeader`): the leader's
 * advertised URL, or that none is known yet. Both ends read this one format, so a standby and an
 * agent of different builds still agree on where to go.
 */

/** Prefix of a close reason that names the leader. */
const LEADER_PREFIX = 'leader ';

/** The reason when no allocator holds the lease (an election is under way). */
export const NO_LEADER_REASON = 'no leader yet';

/** Largest close reason RFC 6455 allows (125-byte control frame minus the 2-byte code). */
const MAX_REASON_BYTES = 123;

/**
 * The close reason naming `leaderUrl`; a URL too long for a close frame is left out (the agent then
 * rotates through its own list, which is what it does for `NO_LEADER_REASON` too).
 */
export function leaderCloseReason(leaderUrl: string | null): string {
  if (leaderUrl === null || leaderUrl === '') return NO_LEADER_REASON;
  const reason = `${LEADER_PREFIX}${leaderUrl}`;
  return Buffer.byteLength(reason, 'utf8') <= MAX_REASON_BYTES ? reason : NO_LEADER_REASON;
}

/** The leader's URL a close reason names, or null when it names none or not an http(s)/ws(s) URL. */
export function leaderOfReason(reason: string): string | null {
  if (!reason.startsWith(LEADER_PREFIX)) return null;
  const raw = reason.slice(LEADER_PREFIX.length).trim();
  try {
    const url = new URL(raw);
    return ['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol) ? raw : null;
  } catch {
    return null;
  }
}
