/**
 * A cluster of real processes for one test file: started before its tests, its processes' output
 * printed when a test fails, cleaned up after; and the CLI run in-process against it as the admin.
 */
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { type CliRun, runTessera } from '../cli-run.ts';
import { type Cluster, startCluster } from './harness.ts';

/** Registers the hooks; call `cluster()` inside tests, `tessera(...)` to run the CLI against it. */
export function useCluster(nodes: Record<string, string>): {
  cluster: () => Cluster;
  tessera: (...args: string[]) => Promise<CliRun>;
} {
  let c: Cluster | undefined;
  const cluster = (): Cluster => {
    if (c === undefined) throw new Error('the cluster has not started');
    return c;
  };
  beforeAll(async () => {
    c = await startCluster(nodes);
  }, 30_000);
  afterAll(async () => {
    await c?.cleanup();
  });
  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      if (c !== undefined) process.stderr.write(c.logs());
    });
  });
  return {
    cluster,
    tessera: (...args) => runTessera(args, ['--url', cluster().url, '--token', cluster().adminToken]),
  };
}
