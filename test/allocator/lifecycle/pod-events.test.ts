import { describe, expect, it } from 'vitest';
import { recordPodEvent } from '../../../allocator/lifecycle/pod-events.ts';
import { wirePodId } from '../../../allocator/link/pod-id.ts';
import { listEvents } from '../../../allocator/store/events.ts';
import type { Event } from '../../../common/wire.ts';
import { openTemp, smallOrg, submitBound, T0, training } from './helpers.ts';

const event = (kind: string, podId: string | null, reason: string): Event => ({
  seq: 1,
  atMs: T0,
  kind,
  podId,
  gpuUuid: null,
  reason,
  numbers: {},
});

function bound() {
  const db = openTemp();
  smallOrg(db);
  submitBound(db, 'w1', training('t'), [['n1', 0]]);
  return db;
}

describe('recordPodEvent', () => {
  it('stores image and container events of a pod as events of its workload, at its phase', () => {
    const db = bound();
    const id = wirePodId('w1', 't-0');
    expect(recordPodEvent(db, 'n1', event('image-pulling', id, 'Pulling image localhost/x:1'), T0 + 1)).toBe(
      true,
    );
    expect(recordPodEvent(db, 'n1', event('image-pulled', id, 'Pulled localhost/x:1 in 3.2 s'), T0 + 2)).toBe(
      true,
    );
    expect(
      recordPodEvent(db, 'n1', event('container-created', id, 'Created container 0123abcd'), T0 + 3),
    ).toBe(true);
    const last = listEvents(db, { workload: 'w1' }).slice(-3);
    expect(last.map((e) => [e.reason, e.from, e.to, e.message])).toEqual([
      ['Pulling', 'Initializing', 'Initializing', 'pod t-0 on n1: Pulling image localhost/x:1'],
      ['Pulled', 'Initializing', 'Initializing', 'pod t-0 on n1: Pulled localhost/x:1 in 3.2 s'],
      ['Created', 'Initializing', 'Initializing', 'pod t-0 on n1: Created container 0123abcd'],
    ]);
  });

  it('ignores other kinds, unknown pods, and a node speaking for a pod it was not given', () => {
    const db = bound();
    const before = listEvents(db, { workload: 'w1' }).length;
    const id = wirePodId('w1', 't-0');
    expect(recordPodEvent(db, 'n1', event('gpu-oom', id, 'x'), T0)).toBe(false);
    expect(recordPodEvent(db, 'n1', event('image-pulled', null, 'x'), T0)).toBe(false);
    expect(recordPodEvent(db, 'n1', event('image-pulled', wirePodId('w1', 'nope-9'), 'x'), T0)).toBe(false);
    expect(recordPodEvent(db, 'n1', event('image-pulled', 'no-separator', 'x'), T0)).toBe(false);
    expect(recordPodEvent(db, 'n2', event('image-pulled', id, 'x'), T0)).toBe(false);
    expect(listEvents(db, { workload: 'w1' })).toHaveLength(before);
  });
});
