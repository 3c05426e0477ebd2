import { describe, expect, it } from 'vitest';
import { agentEndpoint, createTargets } from '../../../agent/link/targets.ts';
import { leaderCloseReason, leaderOfReason, NO_LEADER_REASON } from '../../../common/leader-close.ts';

const A = 'ws://a:1/api/v1/agents/connect';
const B = 'ws://b:2/api/v1/agents/connect';
const C = 'ws://c:3/api/v1/agents/connect';

describe('agentEndpoint', () => {
  it('turns an allocator base URL into its agent endpoint and refuses other schemes', () => {
    expect(agentEndpoint('http://a:1')).toBe(A);
    expect(agentEndpoint('https://x.example/t/')).toBe('wss://x.example/t/api/v1/agents/connect');
    expect(agentEndpoint(A)).toBe(A);
    expect(agentEndpoint('ftp://a')).toBeNull();
    expect(agentEndpoint('not a url')).toBeNull();
  });
});

describe('link targets', () => {
  it('moves round robin through the list on each failed dial', () => {
    const t = createTargets([A, B, C]);
    const seen = [t.current()];
    for (let i = 0; i < 4; i++) {
      t.failed();
      seen.push(t.current());
    }
    expect(seen).toEqual([A, B, C, A, B]);
  });

  it('follows a leader a standby names, listed or not, and falls back to the list when it fails', () => {
    const t = createTargets([A, B]);
    expect(t.follow('http://b:2')).toBe(true);
    expect(t.current()).toBe(B);
    // A failure of the listed leader moves on from its place in the list.
    t.failed();
    expect(t.current()).toBe(A);
    expect(t.follow('http://elsewhere:9')).toBe(true);
    expect(t.current()).toBe('ws://elsewhere:9/api/v1/agents/connect');
    t.failed();
    expect(t.current()).toBe(A);
    expect(t.follow('garbage')).toBe(false);
    expect(t.current()).toBe(A);
  });
});

describe('leader close reason', () => {
  it('names the leader so the agent can parse it back; none or too long says there is none', () => {
    expect(leaderOfReason(leaderCloseReason('http://10.0.0.2:7400'))).toBe('http://10.0.0.2:7400');
    expect(leaderCloseReason(null)).toBe(NO_LEADER_REASON);
    expect(leaderOfReason(NO_LEADER_REASON)).toBeNull();
    expect(leaderCloseReason(`http://${'x'.repeat(200)}:1`)).toBe(NO_LEADER_REASON);
    expect(leaderOfReason('leader javascript:alert(1)')).toBeNull();
  });
});
