/**
 * A cluster of real processes for one test file: started before its tests, its processes' output
 * printed when a test fails, cleaned up after; and the CLI run in-process against it as the admin.
 */
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { type CliRun, runTessera } from '../cli-run.ts';
import { type AllocatorFlags, type Cluster, startCluster } from './harness.ts';

/** Registers the hooks; call `cluster()` inside tests, `tessera(...)` to run the CLI against it. */
export function useCluster(
  nodes: Record<string, string>,
  allocator: AllocatorFlags = {},
): {
  cluster: () => Cluster;
  tessera: (...args: string[]) => Promise<CliRun>;
} {
  let c: Cluster | undefined;
  const cluster = (): Cluster => {
    if (c === undefined) throw new Error('the cluster has not started');
    return c;
  };
  beforeAll(async () => {
    c = await startCluster(nodes, allocator);
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

/**
 * Registers the hooks for a file whose tests each start their own cluster: `own(c)` hands one over,
 * to be cleaned up after its test, with its processes' output printed when that test fails.
 */
export function useClusterPerTest(): { own: (c: Cluster) => Cluster } {
  let c: Cluster | null = null;
  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      if (c !== null) process.stderr.write(c.logs());
    });
  });
  afterEach(async () => {
    await c?.cleanup();
    c = null;
  });
  return {
    own: (cl) => {
      c = cl;
      return cl;
    },
  };
}
