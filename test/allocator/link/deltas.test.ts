import { describe, expect, it } from 'vitest';
import { DEFAULT_FULL_STATUS_EVERY } from '../../../allocator/link/server.ts';
import { makeFrame, type Status } from '../../../common/wire.ts';
import { T0 } from '../store/helpers.ts';
import { join, startLink, status } from './harness.ts';

function deltaFrame(seq: number, baseSeq: number, gonePods: string[] = []) {
  return makeFrame({
    case: 'status',
    value: { seq, atMs: T0, gpuSamples: [], podStates: [], delta: { baseSeq, gonePods } },
  });
}

describe('agent link: delta Statuses', () => {
  it('offers deltas in the Welcome, merges them, and asks for a full Status after a gap', async () => {
    const seen: Status[] = [];
    const h = await startLink({ onStatus: (_node, s) => seen.push(s) });
    const { client, welcome } = await join(h.url, h.joinToken, 'n1');
    expect(welcome.body).toMatchObject({
      case: 'welcome',
      value: { fullStatusEvery: DEFAULT_FULL_STATUS_EVERY },
    });
    client.send(
      status(1, [
        { podId: 'w_a-0', epoch: 1 },
        { podId: 'w_b-0', epoch: 1 },
      ]),
    );
    expect((await client.next()).body).toEqual({ case: 'ack', value: { seq: 1 } });
    client.send(deltaFrame(2, 1, ['w_b-0']));
    expect((await client.next()).body).toEqual({ case: 'ack', value: { seq: 2 } });
    expect(seen.map((s) => s.podStates.map((p) => p.podId))).toEqual([['w_a-0', 'w_b-0'], ['w_a-0']]);
    // Status 3 never came: 4 cannot be applied, the Ack asks for a full one and absence checks wait.
    client.send(deltaFrame(4, 3));
    expect((await client.next()).body).toEqual({ case: 'ack', value: { seq: 4, wantFull: true } });
    expect(seen).toHaveLength(2);
    expect(h.link.stats()).toMatchObject({ statusFrames: 3, deltaFrames: 2, statusGaps: 1 });
    client.send(status(5, [{ podId: 'w_a-0', epoch: 1 }]));
    expect((await client.next()).body).toEqual({ case: 'ack', value: { seq: 5 } });
    client.send(deltaFrame(6, 5));
    expect((await client.next()).body).toEqual({ case: 'ack', value: { seq: 6 } });
    expect(seen.at(-1)?.podStates.map((p) => p.podId)).toEqual(['w_a-0']);
  });

  it('acks a Status only where it asks (or says nothing, as older agents), and always to ask for a full one', async () => {
    const seen: Status[] = [];
    const h = await startLink({ onStatus: (_node, s) => seen.push(s) });
    const { client } = await join(h.url, h.joinToken, 'n1');
    const quiet = (f: ReturnType<typeof status>, wantAck: boolean) =>
      f.body.case === 'status' ? makeFrame({ case: 'status', value: { ...f.body.value, wantAck } }) : f;
    client.send(quiet(status(1, [{ podId: 'w_a-0', epoch: 1 }]), false));
    client.send(quiet(deltaFrame(2, 1), false));
    // Status 4's base never came: the Ack asking for a full one goes although it asked for none.
    client.send(quiet(deltaFrame(4, 3), false));
    expect((await client.next()).body).toEqual({ case: 'ack', value: { seq: 4, wantFull: true } });
    client.send(quiet(status(5, [{ podId: 'w_a-0', epoch: 1 }]), true));
    expect((await client.next()).body).toEqual({ case: 'ack', value: { seq: 5 } });
    client.send(status(6, [{ podId: 'w_a-0', epoch: 1 }]));
    expect((await client.next()).body).toEqual({ case: 'ack', value: { seq: 6 } });
    // Unanswered Statuses were applied all the same.
    expect(seen.map((s) => s.seq)).toEqual([1, 2, 5, 6]);
    expect(h.link.stats()).toMatchObject({ statusFrames: 5 });
  });

  it('offers none with fullStatusEvery 0: agents then send every Status full', async () => {
    const h = await startLink({ fullStatusEvery: 0 });
    const { welcome } = await join(h.url, h.joinToken, 'n1');
    expect(welcome.body.case === 'welcome' && (welcome.body.value.fullStatusEvery ?? null)).toBeNull();
  });
});
