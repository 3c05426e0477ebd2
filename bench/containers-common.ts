/**
 * What both parts of the containers benchmark share: the ulimits every container gets on both
 * sides, the busybox `sleep` pod, and the clean-up of a bench node's containers and cgroups.
 */
import { existsSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import type { PodSpec } from '../agent/runner/index.ts';
import type { Ulimit } from '../agent/runtime/container/index.ts';
import { createLogger } from '../common/log.ts';
import { PODMAN_RUN_LIMITS, podmanOk } from '../test/helpers/podman.ts';

/** A logger that drops everything: the bench prints figures, not the agent's lines. */
export const quiet = createLogger({ stream: { write: () => {} } });
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** PODMAN_RUN_LIMITS (`--ulimit name=soft:hard` pairs) as the runtime's option, so both sides match. */
function ulimitsOf(flags: readonly string[]): Ulimit[] {
  const out: Ulimit[] = [];
  for (let i = 0; i + 1 < flags.length; i += 2) {
    const m = /^(\w+)=(\d+):(\d+)$/.exec(flags[i + 1] ?? '');
    if (flags[i] !== '--ulimit' || m === null)
      throw new Error(`not a --ulimit pair: ${flags[i]} ${flags[i + 1]}`);
    out.push({ name: m[1] ?? '', soft: Number(m[2]), hard: Number(m[3]) });
  }
  return out;
}
export const ULIMITS = ulimitsOf(PODMAN_RUN_LIMITS);

/** Removes every container labelled `tessera.node=<node>`; how many there were. */
export async function removeNodeContainers(node: string): Promise<number> {
  const ids = (await podmanOk(['ps', '-aq', '--filter', `label=tessera.node=${node}`]))
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (ids.length > 0) await podmanOk(['rm', '--force', '--ignore', '--time', '0', ...ids]);
  return ids.length;
}

const CGROUP_ROOT = '/sys/fs/cgroup';

/** Removes a cgroup directory and those under it, deepest first (cgroupfs lets only rmdir remove them). */
function rmdirCgroup(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true }))
    if (e.isDirectory()) rmdirCgroup(join(dir, e.name));
  rmdirSync(dir);
}

/**
 * Removes the bench node's cgroup parent (`tessera/<node>`) from every hierarchy, once its pods are
 * gone: the runtimes leave the parent, which an agent keeps for its next pods.
 */
export function removeNodeCgroups(node: string): void {
  const hierarchies = existsSync(join(CGROUP_ROOT, 'cgroup.controllers'))
    ? [CGROUP_ROOT]
    : readdirSync(CGROUP_ROOT).map((h) => join(CGROUP_ROOT, h));
  for (const h of hierarchies) {
    const dir = join(h, 'tessera', node);
    if (!existsSync(dir)) continue;
    try {
      rmdirCgroup(dir);
    } catch (e) {
      console.log(`containers: left ${dir}: ${(e as Error).message}`);
    }
  }
}

/** A busybox `sleep` pod spec; no image runs it on the process runtime. */
export function sleepSpec(podId: string, image: string | undefined): PodSpec {
  return {
    podId,
    workload: 'bench',
    project: 'bench',
    epoch: 1,
    command: ['sleep', '600'],
    env: {},
    grants: [],
    priority: 0,
    graceSeconds: 0,
    ...(image === undefined ? {} : { image, imagePullPolicy: 'IfNotPresent' as const }),
  };
}
