/**
 * A cluster over TLS as real processes: `tessera allocator --tls-cert --tls-key` and an agent with
 * `--ca` joining over WSS and running a workload; the CLI with `--ca` works and without it is told
 * to pass one; agents that do not trust the allocator's certificate (no CA, another CA) never join
 * and log what to fix.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runTessera } from '../cli-run.ts';
import { makeTestTls } from '../tls.ts';
import { type Cluster, startCluster, testWorkload, until } from './harness.ts';

let c: Cluster;
const cleanupDirs: string[] = [];

beforeAll(async () => {
  c = await startCluster({ n1: '2xH100-80GB' }, { tls: true });
}, 60_000);

afterAll(async () => {
  await c?.cleanup();
  for (const d of cleanupDirs) rmSync(d, { recursive: true, force: true });
});

beforeEach(({ onTestFailed }) => {
  onTestFailed(() => {
    process.stderr.write(c.logs());
  });
});

describe('a cluster over TLS', () => {
  it('serves HTTPS, and an agent with --ca joins over WSS and runs a workload', async () => {
    expect(c.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const w = await c.api.submit(testWorkload(c, 'over-tls', { run: { ms: 300 } }));
    await c.api.waitPhase(w.id, 'Completed', 20_000);
  });

  it('answers the CLI given --ca (logs streamed too); without it the CLI is told to pass one', async () => {
    const base = ['--url', c.url, '--token', c.adminToken];
    const ok = await runTessera(['list', ...base, '--ca', c.tls?.caFile ?? '']);
    expect(ok.code, ok.stderr).toBe(0);
    // A streamed answer (logs) goes through the same trusted connection.
    const printer = { ...testWorkload(c, 'printer'), command: ['sh', '-c', 'echo hello over tls; sleep 30'] };
    const w = await c.api.submit(printer);
    await c.api.waitPhase(w.id, 'Running');
    const logs = await until(
      async () => {
        const r = await runTessera([
          'logs',
          'printer',
          '-p',
          c.defaultProject,
          ...base,
          '--ca',
          c.tls?.caFile ?? '',
        ]);
        return r.stdout.includes('hello over tls') ? r : null;
      },
      'the pod output through tessera logs',
      10_000,
    );
    expect(logs.code, logs.stderr).toBe(0);
    await c.api.expect(200, 'POST', `/workloads/${w.id}/stop`);
    const refused = await runTessera(['list', ...base]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/TESSERA_E_UNAVAILABLE: allocator at https:.* does not trust .*--ca FILE/);
  });

  it("keeps out agents that do not trust the allocator's certificate, logging the fix", async () => {
    const other = await makeTestTls();
    cleanupDirs.push(other.dir);
    const untrusting = await c.startAgent('n-no-ca', '1xH100-80GB', { ca: null });
    const wrong = await c.startAgent('n-wrong-ca', '1xH100-80GB', { ca: other.caFile });
    await until(
      () => /does not trust .*--ca FILE/.test(untrusting.output()),
      'the no-CA agent says to pass --ca',
      15_000,
    );
    await until(() => /did not sign/.test(wrong.output()), 'the wrong-CA agent names its CA', 15_000);
    expect(wrong.output()).toContain(other.caFile);
    const nodes = (await c.api.expect(200, 'GET', '/nodes')) as { name: string }[];
    expect(nodes.map((n) => n.name)).toEqual(['n1']);
  });
});
