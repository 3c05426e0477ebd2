/**
 * Which allocator the link dials next (pure). An agent is given one or several allocator URLs
 * (`--allocator URL1,URL2`): several allocators share one PostgreSQL and one of them leads. The link
 * dials the current target; a standby closes the link naming the leader (common/leader-close.ts) and
 * the link follows it; a dial that fails moves on to the next URL of the list, round robin, so an
 * agent finds the new leader after the old one's machine died even when nobody can name it yet.
 */

/** The allocator's agent endpoint path (allocator/link/server.ts `AGENT_CONNECT_PATH`). */
export const AGENT_CONNECT_PATH = '/api/v1/agents/connect';

/**
 * The agent endpoint of an allocator base URL: `http://h:7400` -> `ws://h:7400/api/v1/agents/connect`
 * (https -> wss; a ws(s) URL or one already ending in the path is kept); null for anything else.
 */
export function agentEndpoint(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return null;
  }
  const schemes: Record<string, string> = { 'http:': 'ws:', 'https:': 'wss:', 'ws:': 'ws:', 'wss:': 'wss:' };
  const scheme = schemes[url.protocol];
  if (scheme === undefined) return null;
  url.protocol = scheme;
  const path = url.pathname.replace(/\/+$/, '');
  if (!path.endsWith(AGENT_CONNECT_PATH)) url.pathname = `${path}${AGENT_CONNECT_PATH}`;
  return url.toString();
}

/** The link's dial targets. */
export interface LinkTargets {
  /** The endpoint to dial now. */
  current(): string;
  /** The dial to `current()` failed or its allocator went away: move on to the next URL of the list. */
  failed(): void;
  /** A standby named the leader: dial it next (it need not be in the list). False when it is not a URL. */
  follow(leaderUrl: string): boolean;
}

/** Targets over `endpoints` (agent endpoints, at least one), starting with the first. */
export function createTargets(endpoints: readonly string[]): LinkTargets {
  if (endpoints.length === 0) throw new RangeError('at least one allocator URL is needed');
  let index = 0;
  // A leader a standby named; dialled until a dial to it fails, then the list again.
  let followed: string | null = null;
  return {
    current: () => followed ?? endpoints[index % endpoints.length] ?? '',
    failed() {
      if (followed !== null) {
        followed = null;
        return;
      }
      index = (index + 1) % endpoints.length;
    },
    follow(leaderUrl) {
      const endpoint = agentEndpoint(leaderUrl);
      if (endpoint === null) return false;
      const listed = endpoints.indexOf(endpoint);
      // A listed leader becomes the list's place, so a later failure moves on from it.
      if (listed >= 0) {
        index = listed;
        followed = null;
      } else followed = endpoint;
      return true;
    },
  };
}
