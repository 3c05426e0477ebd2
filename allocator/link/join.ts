/**
 * Joins in groups: every Hello that arrives in one turn of the event loop is checked and registered
 * in one transaction, committed once, and only then answered with its Welcome (the credential in it
 * must be durable first). The store syncs every commit to disk (synchronous = FULL), so one
 * transaction per Hello held the event loop ~3 ms each: 10,000 agents joining at once could not all
 * get in within two minutes while the joined ones' Statuses waited behind the syncs. Each Hello is
 * still checked and written in arrival order inside the group, each in its own savepoint, so two
 * joins of one new name cannot both pass and one failing write fails only its own join.
 */

import type { Hello } from '../../common/wire.ts';
import {
  type AgentIdentity,
  credentialForHello,
  type HelloRefusal,
  helloRefusal,
} from '../identity/nodes.ts';
import type { TokenStore } from '../identity/tokens.ts';
import { type Db, inTransaction } from '../store/db.ts';
import { upsertNode } from '../store/nodes.ts';

/** Who asks to join: the connection's identity and the bearer it opened with. */
export interface Joiner {
  identity: AgentIdentity;
  bearer: string;
}

/** What became of one Hello. */
export type JoinOutcome =
  | { kind: 'joined'; nodeCredential: string; atMs: number }
  | { kind: 'refused'; refusal: HelloRefusal }
  | { kind: 'failed'; error: string };

/** Checks and registers one Hello at `nowMs`; the caller holds a transaction. */
export function registerHello(
  db: Db,
  tokens: TokenStore,
  who: Joiner,
  hello: Hello,
  nowMs: number,
): JoinOutcome {
  const node = hello.node;
  const refusal = helloRefusal(db, tokens, who.identity, who.bearer, node, nowMs);
  if (refusal !== null) return { kind: 'refused', refusal };
  const inv = hello.inventory;
  upsertNode(
    db,
    {
      name: node,
      labels: inv.labels,
      gpus: inv.gpus.map((g) => ({
        uuid: g.uuid,
        index: g.index,
        model: g.model,
        memoryMiB: g.memoryMiB,
        healthy: g.healthy,
      })),
      cpuMillis: inv.cpuMillis,
      memoryMiB: inv.memoryMiB,
      network: inv.network,
    },
    nowMs,
  );
  const nodeCredential = credentialForHello(db, tokens, who.identity, who.bearer, node);
  return { kind: 'joined', nodeCredential, atMs: nowMs };
}

/** A queue of Hellos registered together at the end of the turn they arrived in. */
export interface JoinQueue<S extends Joiner> {
  /** Queues `hello` of `who`; `done` runs once its group is committed (or failed). */
  add(who: S, hello: Hello): void;
  /** Hellos queued and not yet registered. */
  readonly pending: number;
}

/** Options of `createJoinQueue`. */
export interface JoinQueueOptions<S extends Joiner> {
  db: Db;
  tokens: TokenStore;
  now: () => number;
  /** Still worth registering at flush time (its connection open). */
  live: (who: S) => boolean;
  /** After the group's commit, in arrival order. */
  done: (who: S, hello: Hello, outcome: JoinOutcome) => void;
  /** Defers the flush to the end of this turn; injected so tests can flush by hand. */
  defer?: (flush: () => void) => void;
}

/** Creates the queue. */
export function createJoinQueue<S extends Joiner>(o: JoinQueueOptions<S>): JoinQueue<S> {
  let queue: { who: S; hello: Hello }[] = [];
  const defer = o.defer ?? ((f: () => void) => void setImmediate(f));
  const flush = (): void => {
    const group = queue.filter((j) => o.live(j.who));
    queue = [];
    if (group.length === 0) return;
    const at = o.now();
    let outcomes: JoinOutcome[];
    try {
      outcomes = inTransaction(o.db, () =>
        group.map((j): JoinOutcome => {
          try {
            return inTransaction(o.db, () => registerHello(o.db, o.tokens, j.who, j.hello, at));
          } catch (e) {
            return { kind: 'failed', error: e instanceof Error ? e.message : String(e) };
          }
        }),
      );
    } catch (e) {
      // The commit itself failed: nothing of the group is stored, so none of them joined.
      const error = e instanceof Error ? e.message : String(e);
      outcomes = group.map(() => ({ kind: 'failed', error }));
    }
    group.forEach((j, i) => {
      o.done(j.who, j.hello, outcomes[i] ?? { kind: 'failed', error: 'no outcome' });
    });
  };
  return {
    add(who, hello) {
      queue.push({ who, hello });
      if (queue.length === 1) defer(flush);
    },
    get pending() {
      return queue.length;
    },
  };
}
