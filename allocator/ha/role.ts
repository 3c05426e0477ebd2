/**
 * An allocator's role among several sharing one database (pure): `standby` until it takes the
 * leader lease, `leader` while it renews it in time, back to `standby` when a renewal fails, runs
 * late or a write is fenced, and `stopped` for good once it shuts down. `nextRole` is the only gate.
 */

/** What an allocator is doing now. */
export type Role = 'standby' | 'leader' | 'stopped';

/** Where it stands: the role, the lease's epoch while leading (0 otherwise), and why it got here. */
export interface RoleState {
  role: Role;
  epoch: number;
  reason: string;
}

/** What can happen to the role. */
export type RoleEvent =
  | { kind: 'acquired'; epoch: number }
  | { kind: 'renewed' }
  | { kind: 'lost'; reason: string }
  | { kind: 'stop' };

/** The state an allocator starts in. */
export const INITIAL_ROLE: RoleState = { role: 'standby', epoch: 0, reason: 'starting' };

/** Which role an event leads to from each role; absent means the event changes nothing there. */
const TRANSITIONS: Readonly<Record<Role, Partial<Record<RoleEvent['kind'], Role>>>> = {
  standby: { acquired: 'leader', stop: 'stopped' },
  leader: { renewed: 'leader', lost: 'standby', stop: 'stopped' },
  stopped: {},
};

/**
 * The state after `event`, or the same object when the event means nothing in this role (a late
 * renewal answer after stepping down, a loss reported twice): callers compare by identity.
 */
export function nextRole(state: RoleState, event: RoleEvent): RoleState {
  const to = TRANSITIONS[state.role][event.kind];
  if (to === undefined) return state;
  switch (event.kind) {
    case 'acquired':
      return { role: to, epoch: event.epoch, reason: `took the lease at epoch ${event.epoch}` };
    case 'renewed':
      return state;
    case 'lost':
      return { role: to, epoch: 0, reason: event.reason };
    case 'stop':
      return { role: to, epoch: 0, reason: 'shutting down' };
  }
}
