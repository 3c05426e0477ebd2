import { describe, expect, it } from 'vitest';
import { explainNoFit } from '../../../../allocator/scheduler/placement/explain.ts';
import { fits } from '../../../../allocator/scheduler/placement/fit.ts';
import {
  applyPlacement,
  CapacityError,
  releasePlacement,
} from '../../../../allocator/scheduler/placement/mutate.ts';
import { gpus, node, req } from './helpers.ts';

describe('host ports as a node resource', () => {
  it('a node fits a pod only with enough free ports; a node without a range takes pods without ports only', () => {
    const ranged = node('a', gpus(1), { portCount: 4, portsFree: 2 });
    const none = node('b', gpus(1));
    expect(fits(ranged, req({ ports: 2 }))).toBe(true);
    expect(fits(ranged, req({ ports: 3 }))).toBe(false);
    expect(fits(none, req({ ports: 1 }))).toBe(false);
    expect(fits(none, req({ ports: 0 }))).toBe(true);
  });

  it('placement takes ports and release gives them back, both checked', () => {
    const n = node('a', gpus(1), { portCount: 4, portsFree: 4 });
    applyPlacement(n, [], req({ ports: 3 }));
    expect(n.portsFree).toBe(1);
    expect(() => applyPlacement(n, [], req({ ports: 2 }))).toThrow(CapacityError);
    releasePlacement(n, [], req({ ports: 3 }));
    expect(n.portsFree).toBe(4);
    const portsOnly = { cpuMillis: 0, memoryMiB: 0, ports: 1 };
    expect(() => releasePlacement(n, [], portsOnly)).toThrow(/release exceeds its host ports/);
  });

  it('explain names ports when they are what is missing', () => {
    const nodes = [node('a', gpus(1), { portCount: 4, portsFree: 1 }), node('b', gpus(1))];
    expect(explainNoFit(nodes, 'default', req({ ports: 2 }))).toBe(
      'no node in pool "default" with the GPUs free has 2 free host ports for the pod\'s named ports (most: 1 on a)',
    );
    expect(explainNoFit([node('b', gpus(1))], 'default', req({ ports: 1 }))).toMatch(
      /most: 0\): their agents report no port range/,
    );
  });
});
