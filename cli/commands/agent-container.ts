/**
 * `tessera agent`'s container-runtime flags and their parsing into the runtime's options; split
 * from agent.ts so each file stays one job.
 */
import type { Command } from 'commander';
import type { ContainerRuntimeOptions, Ulimit } from '../../agent/runtime/container/index.ts';
import { parseDurationMs } from '../../common/resources.ts';
import { usageError } from '../errors.ts';
import { collect, flagValue } from '../flags.ts';

/** The raw values of the flags `addContainerFlags` defines. */
export interface RawContainerFlags {
  podman?: string;
  insecureRegistry?: string[];
  pullRetries?: string;
  pullBackoff?: string;
  containerUlimit?: string[];
  cdiSpecDir?: string[];
  containerInit?: string;
}

/** Adds the container runtime's flags to `command`. */
export function addContainerFlags(command: Command): Command {
  return command
    .option('--podman <path>', 'container runtime: the podman binary (default podman on PATH)')
    .option(
      '--insecure-registry <host:port>',
      'container runtime: a registry pulled from over plain HTTP, e.g. localhost:5000 (repeat for more)',
      collect,
    )
    .option(
      '--pull-retries <n>',
      'container runtime: extra pull attempts on unreachable registries (default 3)',
    )
    .option(
      '--pull-backoff <first,max>',
      'container runtime: delay before the first retry, doubled up to max (default 1s,30s)',
    )
    .option(
      '--container-ulimit <name=soft:hard>',
      "container runtime: a ulimit for every container (default nofile and nproc at the agent's own hard limits)",
      collect,
    )
    .option(
      '--cdi-spec-dir <dir>',
      'container runtime: where CDI specs for nvidia.com/gpu are looked for (default /etc/cdi and /var/run/cdi; repeat for more)',
      collect,
    )
    .option(
      '--container-init <path|none>',
      "container runtime: the init run as each container's PID 1 (default catatonit where installed)",
    );
}

const HOST_PORT = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:]+\](:\d{1,5})?$/;

/** One `--container-ulimit` value, or its usage error. */
export function parseUlimit(s: string): Ulimit {
  const m = /^([a-z]+)=(\d+)(?::(\d+))?$/.exec(s);
  if (m === null || m[1] === undefined || m[2] === undefined) {
    throw usageError(
      '--container-ulimit',
      `--container-ulimit '${s}' must be NAME=SOFT[:HARD], e.g. nofile=20000:20000`,
    );
  }
  const soft = Number(m[2]);
  const hard = m[3] === undefined ? soft : Number(m[3]);
  if (hard < soft)
    throw usageError('--container-ulimit', `--container-ulimit '${s}': the hard limit is below the soft one`);
  return { name: m[1], soft, hard };
}

/** The container runtime's options from its flags (defaults are the runtime's own). */
export function containerOptionsFrom(
  f: RawContainerFlags,
  nodeName: string,
): Omit<ContainerRuntimeOptions, 'logger' | 'cgroupParent'> {
  const o: Omit<ContainerRuntimeOptions, 'logger' | 'cgroupParent'> = { nodeName };
  if (f.podman !== undefined) o.podmanPath = f.podman;
  if (f.insecureRegistry !== undefined) {
    for (const r of f.insecureRegistry) {
      if (!HOST_PORT.test(r)) {
        throw usageError(
          '--insecure-registry',
          `--insecure-registry '${r}' must be HOST[:PORT], e.g. localhost:5000 (no scheme, no path)`,
        );
      }
    }
    o.insecureRegistries = f.insecureRegistry;
  }
  const retry: NonNullable<ContainerRuntimeOptions['pullRetry']> = {};
  if (f.pullRetries !== undefined) {
    const n = Number(f.pullRetries);
    if (!Number.isInteger(n) || n < 0 || n > 100) {
      throw usageError(
        '--pull-retries',
        `--pull-retries '${f.pullRetries}' must be a whole number from 0 to 100`,
      );
    }
    retry.retries = n;
  }
  if (f.pullBackoff !== undefined) {
    const [first = '', max = first] = f.pullBackoff.split(',');
    retry.baseBackoffMs = flagValue(parseDurationMs(first, '--pull-backoff'));
    retry.maxBackoffMs = flagValue(parseDurationMs(max, '--pull-backoff'));
    if (retry.maxBackoffMs < retry.baseBackoffMs) {
      throw usageError(
        '--pull-backoff',
        `--pull-backoff '${f.pullBackoff}': the max is below the first delay`,
      );
    }
  }
  if (Object.keys(retry).length > 0) o.pullRetry = retry;
  if (f.containerUlimit !== undefined) o.ulimits = f.containerUlimit.map(parseUlimit);
  if (f.cdiSpecDir !== undefined) o.cdiSpecDirs = f.cdiSpecDir;
  if (f.containerInit !== undefined) o.initPath = f.containerInit === 'none' ? null : f.containerInit;
  return o;
}
