/**
 * Liveness over real processes: a seeded random sequence of submit / stop / run / delete / agent
 * restart / allocator restart, with gaps from none to most of a second so stops race runs and
 * restarts race reports, on 2 nodes x 4 GPUs shared by two projects deserving 4 each. Afterwards,
 * within a bounded time (cycles run at least once a second), every workload that should run and
 * fits is Running, those that do not fit wait with a reason a cycle gave, stopped ones hold nothing,
 * deleted ones are gone, and no workload holds GPU memory twice.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { startCluster, testWorkload, until } from './harness.ts';
import { useClusterPerTest } from './use-cluster.ts';

const { own } = useClusterPerTest();

type Op =
  | { kind: 'submit'; project: 'a' | 'b' }
  | { kind: 'stop' | 'run' | 'delete'; pick: number }
  | { kind: 'restart-agent'; node: 'n1' | 'n2' }
  | { kind: 'restart-allocator' };

const opArb: fc.Arbitrary<{ op: Op; gapMs: number }> = fc.record({
  op: fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({ kind: fc.constant('submit' as const), project: fc.constantFrom('a', 'b') }),
    },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('stop' as const), pick: fc.nat() }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('run' as const), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('restart-agent' as const),
        node: fc.constantFrom('n1', 'n2'),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart-allocator' as const) }) },
  ),
  gapMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 800 })),
});

/** What the model expects of each workload. */
type Want = 'run' | 'stopped' | 'deleted';

const GPUS = 8;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.sequential('liveness', () => {
  // Two seeds in `npm test` (3 restarts the allocator twice, 2 the agents five times); a soak sets
  // TESSERA_LIVENESS_SEEDS=1,2,3,... for more.
  const seeds = (process.env.TESSERA_LIVENESS_SEEDS ?? '3,2').split(',').map(Number);
  for (const seed of seeds) {
    it(`seed ${seed}: after random submit / stop / run / delete / restarts, all that fits runs`, async () => {
      const ops = fc.sample(fc.array(opArb, { minLength: 24, maxLength: 24 }), { seed, numRuns: 1 })[0] ?? [];
      const cl = own(await startCluster({ n1: '4xH100-80GB', n2: '4xH100-80GB' }, { lease: '3s' }));
      await cl.api.createProject('a', 4);
      await cl.api.createProject('b', 4);
      const model = new Map<string, { id: string; want: Want }>();
      const named = (want: Want) => [...model.entries()].filter(([, w]) => w.want === want);
      let n = 0;
      for (const { op, gapMs } of ops) {
        if (op.kind === 'submit') {
          const name = `${op.project}${n++}`;
          const w = await cl.api.submit(testWorkload(cl, name, { project: op.project }));
          model.set(name, { id: w.id, want: 'run' });
        } else if (op.kind === 'stop' || op.kind === 'delete') {
          const live = op.kind === 'stop' ? named('run') : [...named('run'), ...named('stopped')];
          const hit = live[op.pick % Math.max(1, live.length)];
          if (hit !== undefined) {
            const [, w] = hit;
            if (op.kind === 'stop') await cl.api.expect(200, 'POST', `/workloads/${w.id}/stop`);
            else await cl.api.request('DELETE', `/workloads/${w.id}`);
            w.want = op.kind === 'stop' ? 'stopped' : 'deleted';
          }
        } else if (op.kind === 'run') {
          const hit = named('stopped')[op.pick % Math.max(1, named('stopped').length)];
          if (hit !== undefined) {
            await cl.api.expect(200, 'POST', `/workloads/${hit[1].id}/run`);
            hit[1].want = 'run';
          }
        } else if (op.kind === 'restart-agent') {
          await cl.agent(op.node).kill();
          await cl.startAgent(op.node, '4xH100-80GB');
        } else {
          await cl.alloc?.kill();
          await cl.startAllocator({ lease: '3s', port: cl.port });
        }
        await sleep(gapMs);
      }
      await cl.waitNodes(['n1', 'n2'], 30_000);

      const wanted = named('run').map(([name, w]) => ({ name, ...w }));
      const fits = Math.min(wanted.length, GPUS);
      const state = async () =>
        JSON.stringify(
          await Promise.all(
            [...model.entries()].map(async ([name, w]) => {
              const r = await cl.api.request('GET', `/workloads/${w.id}`);
              const v = r.body as {
                phase?: string;
                phaseReason?: string;
                pods?: { name: string; node: string | null; phase: string }[];
              };
              return {
                name,
                want: w.want,
                phase: v.phase,
                reason: v.phaseReason,
                pods: v.pods?.map((p) => `${p.name}@${p.node}:${p.phase}`),
              };
            }),
          ),
        );
      const settled = await until(
        async () => {
          const views = await Promise.all(wanted.map((w) => cl.api.workload(w.id)));
          const running = views.filter((v) => v.phase === 'Running');
          if (running.length !== fits) return null;
          for (const [name, w] of named('stopped')) {
            const v = await cl.api.workload(w.id);
            if (
              v.phase !== 'Stopped' ||
              v.pods.some((p) => ['Bound', 'Starting', 'Running'].includes(p.phase))
            )
              return null;
            void name;
          }
          return views;
        },
        `${fits} of ${wanted.length} wanted workloads Running (${ops.length} ops, seed ${seed})`,
        30_000,
      ).catch(async (e: unknown) => {
        throw new Error(`${e instanceof Error ? e.message : String(e)}; workloads: ${await state()}`);
      });
      // The ones that do not fit say why, in words a cycle wrote (not the placeholder before one ran).
      for (const v of settled.filter((x) => x.phase !== 'Running')) {
        expect(v.phase).toBe('Pending');
        const why = (await cl.api.expect(200, 'GET', `/workloads/${v.id}/explain`)) as { reasons: string[] };
        expect(why.reasons.join(' ')).not.toMatch(/waiting for the next scheduling cycle/);
      }
      for (const [, w] of named('deleted')) {
        await until(
          async () => ((await cl.api.request('GET', `/workloads/${w.id}`)).status === 404 ? true : null),
          'a deleted workload gone',
          15_000,
        );
      }
      // No workload holds GPU memory on two GPUs at once (each is a one-GPU training).
      const use = [...cl.gpuUse('n1'), ...cl.gpuUse('n2')];
      const holders = new Map<string, number>();
      for (const u of use) holders.set(u.workload, (holders.get(u.workload) ?? 0) + 1);
      expect([...holders.entries()].filter(([, k]) => k > 1)).toEqual([]);
    }, 240_000);
  }
});
