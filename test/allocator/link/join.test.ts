import { describe, expect, it } from 'vitest';
import {
  type AgentIdentity,
  createJoinToken,
  memoryTokenStore,
  type TokenStore,
} from '../../../allocator/identity/index.ts';
import { createJoinQueue, type JoinOutcome } from '../../../allocator/link/join.ts';
import { getNode } from '../../../allocator/store/nodes.ts';
import type { Hello } from '../../../common/wire.ts';
import { openTemp, T0 } from '../store/helpers.ts';
import { connect, hello, startLink, status } from './harness.ts';

interface Who {
  identity: AgentIdentity;
  bearer: string;
  name: string;
  open: boolean;
}

/** A queue over a fresh store whose flush runs when the test says; outcomes gathered by joiner name. */
function queue(tokens: TokenStore = memoryTokenStore()) {
  const db = openTemp();
  const joinToken = createJoinToken(tokens);
  let pendingFlush: (() => void) | null = null;
  const outcomes: [string, JoinOutcome][] = [];
  const q = createJoinQueue<Who>({
    db,
    tokens,
    now: () => T0,
    live: (w) => w.open,
    done: (w, _h, o) => outcomes.push([w.name, o]),
    defer: (f) => {
      pendingFlush = f;
    },
  });
  const who = (name: string): Who => ({ identity: { kind: 'join' }, bearer: joinToken, name, open: true });
  const helloOf = (node: string): Hello => {
    const f = hello(node);
    if (f.body.case !== 'hello') throw new Error('not a hello');
    return f.body.value;
  };
  const flush = () => {
    const f = pendingFlush;
    pendingFlush = null;
    f?.();
  };
  return { db, q, who, helloOf, flush, outcomes };
}

describe('join queue', () => {
  it('registers a group of Hellos in arrival order: a second join of one new name is refused', () => {
    const t = queue();
    t.q.add(t.who('a'), t.helloOf('n1'));
    t.q.add(t.who('b'), t.helloOf('n2'));
    t.q.add(t.who('c'), t.helloOf('n1'));
    expect(t.q.pending).toBe(3);
    expect(getNode(t.db, 'n1')).toBeUndefined();
    t.flush();
    expect(t.q.pending).toBe(0);
    expect(t.outcomes.map(([name, o]) => [name, o.kind])).toEqual([
      ['a', 'joined'],
      ['b', 'joined'],
      ['c', 'refused'],
    ]);
    expect(t.outcomes[2]?.[1]).toEqual({ kind: 'refused', refusal: { kind: 'registered' } });
    expect(getNode(t.db, 'n1')?.lastSeenMs).toBe(T0);
    expect(getNode(t.db, 'n2')).toBeDefined();
  });

  it('fails only the join whose write fails, and skips connections closed before the flush', () => {
    const tokens = memoryTokenStore();
    // Minting n2's credential fails: its node row must go with it, the others stay.
    const failing: TokenStore = {
      ...tokens,
      put: (r) => {
        if (r.subject === 'n2') throw new Error('disk full');
        tokens.put(r);
      },
    };
    const t = queue(failing);
    const gone = t.who('gone');
    gone.open = false;
    t.q.add(t.who('a'), t.helloOf('n1'));
    t.q.add(t.who('b'), t.helloOf('n2'));
    t.q.add(gone, t.helloOf('n4'));
    t.q.add(t.who('c'), t.helloOf('n3'));
    t.flush();
    expect(t.outcomes.map(([name, o]) => [name, o.kind])).toEqual([
      ['a', 'joined'],
      ['b', 'failed'],
      ['c', 'joined'],
    ]);
    expect(t.outcomes[1]?.[1]).toMatchObject({ error: 'disk full' });
    expect(getNode(t.db, 'n1')).toBeDefined();
    expect(getNode(t.db, 'n2')).toBeUndefined();
    expect(getNode(t.db, 'n3')).toBeDefined();
    expect(getNode(t.db, 'n4')).toBeUndefined();
  });

  it('a Status sent right behind the Hello is handled after the Welcome, not refused', async () => {
    const h = await startLink();
    const client = await connect(h.url, h.joinToken);
    client.send(hello('n1'));
    client.send(status(1));
    expect((await client.next()).body.case).toBe('welcome');
    expect((await client.next()).body).toEqual({ case: 'ack', value: { seq: 1 } });
    expect(h.link.stats().statusFrames).toBe(1);
  });
});
