import { describe, expect, it } from 'vitest';
import {
  ackAfterMs,
  allocatorSilentMs,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_LEASE_MS,
} from '../../common/disconnect.ts';

describe('link quiet limits', () => {
  it('gives up on an allocator after three heartbeats or a quarter lease, whichever is longer', () => {
    expect(allocatorSilentMs(DEFAULT_HEARTBEAT_MS, DEFAULT_LEASE_MS)).toBe(10_000);
    expect(allocatorSilentMs(5_000, DEFAULT_LEASE_MS)).toBe(15_000);
  });

  it('asks for an Ack after half of that, or half the shortest fencing time of its pods', () => {
    expect(ackAfterMs(DEFAULT_HEARTBEAT_MS, DEFAULT_LEASE_MS)).toBe(5_000);
    expect(ackAfterMs(DEFAULT_HEARTBEAT_MS, DEFAULT_LEASE_MS, null)).toBe(5_000);
    expect(ackAfterMs(DEFAULT_HEARTBEAT_MS, DEFAULT_LEASE_MS, 4_000)).toBe(2_000);
    // A long fencing time never stretches it past the silent limit's half.
    expect(ackAfterMs(DEFAULT_HEARTBEAT_MS, DEFAULT_LEASE_MS, 60_000)).toBe(5_000);
  });
});
