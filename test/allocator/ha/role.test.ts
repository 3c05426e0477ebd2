import { describe, expect, it } from 'vitest';
import { INITIAL_ROLE, nextRole, type RoleState } from '../../../allocator/ha/role.ts';

describe('allocator role', () => {
  it('standby -> leader on taking the lease, back to standby on losing it, stopped for good', () => {
    const leader = nextRole(INITIAL_ROLE, { kind: 'acquired', epoch: 7 });
    expect(leader).toMatchObject({ role: 'leader', epoch: 7 });
    expect(nextRole(leader, { kind: 'renewed' })).toBe(leader);
    const standby = nextRole(leader, { kind: 'lost', reason: 'fenced' });
    expect(standby).toEqual({ role: 'standby', epoch: 0, reason: 'fenced' });
    const stopped = nextRole(standby, { kind: 'stop' });
    expect(stopped.role).toBe('stopped');
    expect(nextRole(stopped, { kind: 'acquired', epoch: 8 })).toBe(stopped);
  });

  it('ignores what means nothing in a role: a late renewal or a loss while standing by, a second acquire', () => {
    const s: RoleState = INITIAL_ROLE;
    expect(nextRole(s, { kind: 'renewed' })).toBe(s);
    expect(nextRole(s, { kind: 'lost', reason: 'x' })).toBe(s);
    const leader = nextRole(s, { kind: 'acquired', epoch: 1 });
    expect(nextRole(leader, { kind: 'acquired', epoch: 2 })).toBe(leader);
  });
});
