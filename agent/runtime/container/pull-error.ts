/**
 * What a failed `podman pull` said, reduced to the registry's own words and whether another try
 * could help (pure). Podman 4.3 prints, e.g.:
 *   Error: initializing source docker://127.0.0.1:1/x/y:1: pinging container registry 127.0.0.1:1:
 *     Get "https://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused
 *   Error: initializing source docker://r:5000/nope/img:1: reading manifest 1 in r:5000/nope/img:
 *     manifest unknown: manifest unknown
 */

/** A classified pull failure. */
export interface PullFailure {
  /** The message after podman's `Error: initializing source docker://<ref>: ` preamble. */
  message: string;
  /** True when the same pull may succeed later (network, registry overload); false for denied, not found, bad reference. */
  transient: boolean;
}

/** Failures no retry fixes: the registry answered, and the answer was no. Checked before TRANSIENT. */
const PERMANENT: readonly RegExp[] = [
  /manifest unknown/i,
  /name unknown/i,
  /not found/i,
  /unauthorized/i,
  /authentication required/i,
  /requested access to the resource is denied/i,
  /denied/i,
  /invalid reference format/i,
  /invalid username\/password/i,
  /server gave HTTP response to HTTPS client/i,
  /x509:/i,
  /certificate/i,
  /short-name .* did not resolve/i,
];

/** Failures that say the registry could not be reached or could not answer now. */
const TRANSIENT: readonly RegExp[] = [
  /connection refused/i,
  /connection reset/i,
  /no such host/i,
  /i\/o timeout/i,
  /TLS handshake timeout/i,
  /network is unreachable/i,
  /no route to host/i,
  /unexpected EOF/i,
  /too many requests/i,
  /toomanyrequests/i,
  /received unexpected HTTP status: 5\d\d/i,
  /\b50[0234] /,
  /context deadline exceeded/i,
  /timed out/i,
];

/** Classifies podman pull's stderr; unknown messages count as permanent, so nothing retries blindly. */
export function classifyPullError(stderr: string): PullFailure {
  const message = pullErrorMessage(stderr);
  if (PERMANENT.some((re) => re.test(message))) return { message, transient: false };
  return { message, transient: TRANSIENT.some((re) => re.test(message)) };
}

/** The last `Error: ` line of podman's stderr, less its preamble; the whole text when there is none. */
export function pullErrorMessage(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim());
  const last = [...lines].reverse().find((l) => l.startsWith('Error: '));
  const text = last === undefined ? lines.filter(Boolean).join(' ') : last.slice('Error: '.length);
  const stripped = text.replace(/^initializing source [^ ]+: /, '');
  return stripped === '' ? 'podman pull failed without a message' : stripped;
}

/** The delay before retry `attempt` (1-based): base doubled per attempt, capped. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
}
