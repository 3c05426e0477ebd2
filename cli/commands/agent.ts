/**
 * `tessera agent`: the node daemon (docs/architecture.md §4). Flags are checked here (usage errors exit 2),
 * the daemon itself is `agent/main.ts`. It runs until SIGTERM or SIGINT, then stops its allocator
 * link (if any), stops sampling and closes; its pods keep running and the next `tessera agent` with the same --data adopts them.
 */
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { type Command, Option } from 'commander';
import {
  defaultCgroupParent,
  defaultDataDir,
  defaultPodRoot,
  type GpuKind,
  resolveAllocator,
  runAgentMain,
} from '../../agent/main.ts';
import { DEFAULT_PORT_RANGE, defaultAdvertiseAddress, parsePortRange } from '../../agent/network.ts';
import { DEFAULT_POD_UID_RANGE, parseIdRange } from '../../agent/runtime/process/ids.ts';
import type { RuntimeKind } from '../../agent/runtime/types.ts';
import { createLogger, type LogLevel, parseLogLevel } from '../../common/log.ts';
import { parseDurationMs, parseMemoryMiB } from '../../common/resources.ts';
import { failure, usageError } from '../errors.ts';
import { flagValue } from '../flags.ts';
import { stopSignals } from '../signals.ts';
import { addContainerFlags, containerOptionsFrom, type RawContainerFlags } from './agent-container.ts';
import type { CliContext } from './index.ts';

const EXAMPLES = `
Examples:
  $ tessera agent                                   # real GPUs through nvidia-smi
  $ tessera agent --gpu sim --sim-gpus 8xH100-80GB --swap-pool 64GiB
  $ tessera agent --gpu sim --pods pods.json --time-slicing fair --slice-cycle 5s
  $ TESSERA_TOKEN=JOIN_TOKEN tessera agent --allocator https://alloc:7400 --ca ca.crt --node gpu-07

With --allocator (or TESSERA_URL) and --token (or TESSERA_TOKEN; by env it stays out of ps) the agent
links to the allocator, over WSS for an https:// URL, checking the allocator's certificate against
--ca (or TESSERA_CA; default the system's CAs). It says Hello with its GPUs and pods, runs the pods
it is given, and stops them itself if cut off for longer than its lease. --pods FILE starts pods from a JSON list of pod specs (see agent/README.md); a
pod already running (adopted) or already run with that epoch is not started again.
The agent serves /metrics, /healthz and /status on 127.0.0.1 (--port, 0 = any free port; the port is in
DATA/agent-state.json, which \`tessera health\` reads). Stopping the agent leaves its pods running.
`;

/** The flags as commander hands them over. */
interface RawAgentFlags extends RawContainerFlags {
  data?: string;
  gpu: GpuKind;
  simGpus?: string;
  simState?: string;
  sampleInterval: string;
  swapPool: string;
  timeSlicing?: 'strict' | 'fair';
  sliceCycle: string;
  port: string;
  metricsAddress?: string;
  pods?: string;
  allocator?: string;
  token?: string;
  node?: string;
  ca?: string;
  runtime?: RuntimeKind;
  podRoot?: string;
  podUidRange: string;
  cgroupParent?: string;
  logLevel: string;
  advertiseAddress?: string;
  portRange: string;
}

/** Adds `agent`'s flags, help and action to `command`. */
export function configure(command: Command, { io }: CliContext): void {
  addContainerFlags(command)
    .description('Run the node agent: discover GPUs, run pods, enforce their GPU shares, serve /metrics.')
    .option('--data <dir>', `agent data dir (default ${defaultDataDir()})`)
    .addOption(new Option('--gpu <backend>', 'GPU backend').choices(['nvidia', 'sim']).default('nvidia'))
    .option(
      '--sim-gpus <spec>',
      'sim GPUs, e.g. 4xH100-80GB (rewrites the sim state; default when new: 4xH100-80GB)',
    )
    .option('--sim-state <dir>', 'sim state dir (default DATA/sim)')
    .option('--sample-interval <duration>', 'GPU sampling interval', '1s')
    .option('--swap-pool <size>', 'host RAM for GPU swap, e.g. 32GiB; 0 = swap off', '0')
    .addOption(
      new Option('--time-slicing <mode>', "slice compute among a GPU's tenants").choices(['strict', 'fair']),
    )
    .option('--slice-cycle <duration>', 'time-slicing cycle', '5s')
    .option('--port <n>', 'local HTTP port on 127.0.0.1 (0 = any free port)', '0')
    .option(
      '--metrics-address <host:port>',
      'also serve /metrics and /healthz (only) here for a scraper, e.g. 0.0.0.0:9400',
    )
    .option('--pods <file>', 'start these pods (JSON list of pod specs)')
    .option(
      '--allocator <url>',
      'link to this allocator, e.g. http://alloc:7400 (default TESSERA_URL; none: run alone)',
    )
    .option(
      '--token <token>',
      "join token for the allocator's link (default TESSERA_TOKEN, which keeps it out of ps)",
    )
    .option(
      '--ca <file>',
      "PEM file of the CA that signed the allocator's certificate (default TESSERA_CA, else the system's CAs)",
    )
    .option('--node <name>', 'node name the allocator knows this node by (default the hostname)')
    .addOption(
      new Option(
        '--runtime <kind>',
        'what runs pods (default: container when podman is on PATH, else process)',
      ).choices(['process', 'container']),
    )
    .option(
      '--pod-root <dir>',
      `process runtime: each pod's own dir is POD-ROOT/<pod> (default ${defaultPodRoot()})`,
    )
    .option(
      '--pod-uid-range <first-last>',
      'process runtime: uids (= gids) a root agent gives its pods, one per live pod; "agent" runs pods as the agent\'s user',
      `${DEFAULT_POD_UID_RANGE.first}-${DEFAULT_POD_UID_RANGE.last}`,
    )
    .option(
      '--cgroup-parent <path>',
      'pod cgroups go under this path of each hierarchy (default tessera/NODE)',
    )
    .option(
      '--advertise-address <ip>',
      "the address other nodes reach this node's pods at (default the first non-internal IPv4, else 127.0.0.1)",
    )
    .option(
      '--port-range <first-last>',
      "host ports the allocator gives this node's pods (their named ports), one per pod and name",
      `${DEFAULT_PORT_RANGE.first}-${DEFAULT_PORT_RANGE.last}`,
    )
    .option('--log-level <level>', 'debug, info, warn or error', 'info')
    .addHelpText('after', EXAMPLES)
    .action(async (_flags: unknown, cmd: Command) => {
      const f = cmd.opts<RawAgentFlags>();
      if (f.gpu !== 'sim' && (f.simGpus !== undefined || f.simState !== undefined)) {
        throw usageError('--sim-gpus', '--sim-gpus and --sim-state need --gpu sim');
      }
      const sampleIntervalMs = flagValue(parseDurationMs(f.sampleInterval, '--sample-interval'));
      if (sampleIntervalMs < 50)
        throw usageError('--sample-interval', '--sample-interval must be at least 50ms');
      const cycleMs = flagValue(parseDurationMs(f.sliceCycle, '--slice-cycle'));
      if (cycleMs < 100) throw usageError('--slice-cycle', '--slice-cycle must be at least 100ms');
      const port = Number(f.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw usageError('--port', `--port '${f.port}' must be a whole number from 0 to 65535`);
      }
      const allocator = resolveAllocator(
        { allocator: f.allocator, token: f.token, node: f.node, ca: f.ca },
        process.env,
        hostname(),
      );
      if (!allocator.ok)
        throw usageError(`--${allocator.error.field ?? 'allocator'}`, allocator.error.message);
      const level = parseLogLevel(f.logLevel);
      if (!level.ok) throw usageError('--log-level', level.error.message);
      const log = createLogger({
        stream: { write: (line: string) => io.err(line) },
        level: level.value as LogLevel,
        fields: { component: 'agent' },
      });
      let uidRange = null;
      if (f.podUidRange !== 'agent') {
        const range = parseIdRange(f.podUidRange);
        if (!range.ok) throw usageError('--pod-uid-range', range.error.message);
        uidRange = range.value;
      }
      const portRange = parsePortRange(f.portRange);
      if (!portRange.ok) throw usageError('--port-range', `--port-range: ${portRange.error.message}`);
      if (f.advertiseAddress !== undefined && !isIP(f.advertiseAddress))
        throw usageError(
          '--advertise-address',
          `--advertise-address '${f.advertiseAddress}' must be an IPv4 or IPv6 address, e.g. 10.0.0.7`,
        );
      const address = f.advertiseAddress ?? (await defaultAdvertiseAddress());
      const nodeName = allocator.value?.nodeName ?? f.node ?? hostname();
      const signals = stopSignals();
      const r = await runAgentMain(
        {
          dataDir: f.data ?? defaultDataDir(),
          gpu: f.gpu,
          simGpus: f.simGpus ?? null,
          simStateDir: f.simState ?? null,
          sampleIntervalMs,
          swapPoolMiB: flagValue(parseMemoryMiB(f.swapPool, '--swap-pool')),
          timeSlicing: f.timeSlicing === undefined ? null : { mode: f.timeSlicing, cycleMs },
          port,
          metricsAddress: f.metricsAddress === undefined ? null : hostPort(f.metricsAddress),
          podsFile: f.pods ?? null,
          allocator: allocator.value,
          runtime: {
            kind: f.runtime ?? null,
            podRoot: f.podRoot ?? defaultPodRoot(),
            uidRange,
            cgroupParent: f.cgroupParent ?? defaultCgroupParent(nodeName),
            container: containerOptionsFrom(f, nodeName),
          },
          network: { address, portRange: portRange.value },
        },
        { log, stop: signals.stop },
      ).finally(() => signals.release());
      if (!r.ok) throw failure(r.error);
    });
}

/** `host:port` of --metrics-address, or its usage error. */
function hostPort(s: string): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(s);
  const port = Number(m?.[2]);
  if (m === null || m[1] === undefined || port > 65535)
    throw usageError('--metrics-address', `--metrics-address '${s}' must be HOST:PORT, e.g. 0.0.0.0:9400`);
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}
