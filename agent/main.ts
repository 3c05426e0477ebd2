/**
 * The agent daemon's edge: picks and prepares the GPU backend (`nvidia`, or `sim` over a state
 * directory under the data dir), starts the agent with its link to the allocator when one is named,
 * starts the fence guard (fence-guard-start.ts) when linked, starts the pods of a `--pods` file (pods-file.ts), logs
 * every event, and on the stop signal stops the link (disarming the guard), then closes the agent.
 *
 * Stopping the agent never stops its pods: they run detached, and the next agent adopts them from the
 * runner's checkpoint (same pids, nothing started twice). To stop pods, stop them, then the agent.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { err, ok, type Result, tesseraError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { readCaFile } from '../common/tls-files.ts';
import type { NodeNetwork } from '../common/wire.ts';
import { RUNTIME_LABEL } from '../common/workload-container.ts';
import { createAgent } from './agent.ts';
import type { SliceMode } from './enforce/index.ts';
import { ensureFenceGuard } from './fence-guard-start.ts';
import { createNvidiaDriver, type GpuDriver } from './gpu/index.ts';
import { initSimState, parseSimGpus, SIM_TOOLS, simEnv } from './gpu/sim/spec.ts';
import { credentialFile } from './link/credential-file.ts';
import { createGuardFile } from './link/guard-file.ts';
import { agentEndpoint } from './link/targets.ts';
import { readPodsFile, startFilePods } from './pods-file.ts';
import { createRuntime, type RuntimeChoice } from './runtime/select.ts';

/** The GPU backends. */
export type GpuKind = 'nvidia' | 'sim';

/** `--sim-gpus` when a new sim state is made and none is given. */
export const DEFAULT_SIM_GPUS = '4xH100-80GB';

/** `TESSERA_AGENT_DATA`, else `/var/lib/tessera/agent` for root, else `~/.local/state/tessera/agent`. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TESSERA_AGENT_DATA) return env.TESSERA_AGENT_DATA;
  if (process.getuid?.() === 0) return '/var/lib/tessera/agent';
  return join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'tessera', 'agent');
}

/** `--pod-root`'s default: `/var/lib/tessera/pods` for root, else `~/.local/state/tessera/pods`; outside the data dir either way. */
export function defaultPodRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (process.getuid?.() === 0) return '/var/lib/tessera/pods';
  return join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'tessera', 'pods');
}

/** `--cgroup-parent`'s default: `tessera/<nodeName>`, so two agents on one machine never share pod cgroups. */
export function defaultCgroupParent(nodeName: string): string {
  // A node name is not a path: nothing of it may climb out of `tessera/`.
  return `tessera/${nodeName.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^\.+/, '_')}`;
}

/** The sim backend's state directory for an agent data dir. */
export function defaultSimStateDir(dataDir: string): string {
  return join(dataDir, 'sim');
}

/** How to open the backend. */
export interface DriverChoice {
  kind: GpuKind;
  /** Sim only: the state directory; default `<dataDir>/sim`. */
  simStateDir?: string | null;
  /** Sim only: (re)write the GPUs as this spec (running processes' registrations are kept). */
  simGpus?: string | null;
  /** Sim only: create the state when missing (the agent does; health only reads). */
  createSim: boolean;
  dataDir: string;
}

/** An opened backend. */
export interface OpenedDriver {
  driver: GpuDriver;
  /** Sim only: where its state lives; null for nvidia. */
  simStateDir: string | null;
}

/** Opens the backend; for `sim`, prepares its state directory. Nothing is run yet. */
export async function openDriver(choice: DriverChoice): Promise<Result<OpenedDriver>> {
  if (choice.kind === 'nvidia') {
    // Missing nvidia-smi surfaces from discover() with the message naming `--gpu sim`.
    return ok({ driver: createNvidiaDriver({ kind: 'nvidia' }), simStateDir: null });
  }
  const dir = choice.simStateDir ?? defaultSimStateDir(choice.dataDir);
  const fresh = !existsSync(join(dir, 'gpus.json'));
  if (fresh && !choice.createSim) {
    return err(
      tesseraError(
        'TESSERA_E_GPU_DRIVER',
        `no sim GPUs at ${dir}: start \`tessera agent --gpu sim\` with the same --data first, or pass --sim-state`,
        { field: 'sim-state', context: { path: dir } },
      ),
    );
  }
  if (fresh || (choice.simGpus ?? null) !== null) {
    const specs = parseSimGpus(choice.simGpus ?? DEFAULT_SIM_GPUS);
    if (!specs.ok) return specs;
    // Seeded by the state dir: two sim nodes on one machine must not share GPU UUIDs, as real GPUs never do.
    await initSimState(dir, specs.value, { seed: resolve(dir) });
  }
  const driver = createNvidiaDriver({
    kind: 'sim',
    nvidiaSmi: SIM_TOOLS.nvidiaSmi,
    cudaCheckpoint: SIM_TOOLS.cudaCheckpoint,
    env: simEnv(dir),
  });
  return ok({ driver, simStateDir: dir });
}

/** `tessera agent`'s options, normalised. */
export interface AgentMainOptions {
  dataDir: string;
  gpu: GpuKind;
  simGpus: string | null;
  simStateDir: string | null;
  sampleIntervalMs: number;
  swapPoolMiB: number;
  timeSlicing: { mode: SliceMode; cycleMs: number } | null;
  port: number;
  /** `--metrics-address`: a listener for scrapers serving only /metrics and /healthz; null = none. */
  metricsAddress?: { host: string; port: number } | null;
  podsFile: string | null;
  /** The allocator to link to (`resolveAllocator`); null runs the agent on its own. */
  allocator: AllocatorChoice | null;
  /** `--runtime`, `--pod-root`, `--pod-uid-range`, `--cgroup-parent`. */
  runtime: RuntimeChoice;
  /** `--advertise-address` and `--port-range`: reported to the allocator, which gives pods ports from the range. */
  network: NodeNetwork;
}

/** Where the agent's link goes and as whom. */
export interface AllocatorChoice {
  /** `ws(s)://host:port/api/v1/agents/connect`: the first allocator given. */
  url: string;
  /** The other allocators given (`--allocator A,B,C`: B and C), dialled when one fails. */
  otherUrls: string[];
  token: string;
  nodeName: string;
  /** The CA file a wss:// allocator's certificate must chain to, and the setting that named it; null: the system's CAs. */
  ca: { path: string; from: string } | null;
}

/**
 * The link's settings from `--allocator`, `--token`, `--node`, `--ca`, then `TESSERA_URL` /
 * `TESSERA_TOKEN` / `TESSERA_CA` (an empty value counts as unset, as in common/config.ts); null when
 * no allocator is named. The
 * allocator's base URL (`http://host:7400`) becomes its agent endpoint (`ws://host:7400/api/v1/agents/connect`).
 */
export function resolveAllocator(
  flags: {
    allocator?: string | undefined;
    token?: string | undefined;
    node?: string | undefined;
    ca?: string | undefined;
  },
  env: Readonly<Record<string, string | undefined>>,
  hostname: string,
): Result<AllocatorChoice | null> {
  const bad = (field: string, message: string) =>
    err(tesseraError('TESSERA_E_INVALID_CONFIG', message, { field }));
  const set = (v: string | undefined): string | undefined => (v === undefined || v === '' ? undefined : v);
  const urlLabel = set(flags.allocator) !== undefined ? '--allocator' : 'TESSERA_URL';
  const raw = set(flags.allocator) ?? set(env.TESSERA_URL);
  if (raw === undefined) {
    if (set(flags.token) !== undefined) return bad('token', '--token needs --allocator (or TESSERA_URL)');
    if (set(flags.node) !== undefined) return bad('node', '--node needs --allocator (or TESSERA_URL)');
    if (set(flags.ca) !== undefined) return bad('ca', '--ca needs --allocator (or TESSERA_URL)');
    return ok(null);
  }
  // Several allocators sharing one database (high availability): comma-separated, tried in turn.
  const urls: string[] = [];
  for (const one of raw.split(',').map((u) => u.trim())) {
    if (one === '') continue;
    const endpoint = agentEndpoint(one);
    if (endpoint === null)
      return bad(
        'allocator',
        `${urlLabel}: invalid allocator URL ${JSON.stringify(one)}; accepted: an http(s):// or ws(s):// URL such as http://localhost:7400, or several separated by commas`,
      );
    urls.push(endpoint);
  }
  const [url, ...otherUrls] = urls;
  if (url === undefined) return bad('allocator', `${urlLabel}: no allocator URL in ${JSON.stringify(raw)}`);
  const token = set(flags.token) ?? set(env.TESSERA_TOKEN);
  if (token === undefined) {
    return bad(
      'token',
      `${urlLabel} names an allocator but no token is given: pass --token or set TESSERA_TOKEN`,
    );
  }
  if (/\s/.test(token)) return bad('token', 'a token must not contain whitespace');
  const nodeName = set(flags.node) ?? hostname;
  const caFlag = set(flags.ca);
  const caPath = caFlag ?? set(env.TESSERA_CA);
  const ca =
    caPath === undefined ? null : { path: caPath, from: caFlag !== undefined ? '--ca' : 'TESSERA_CA' };
  return ok({ url, otherUrls, token, nodeName, ca });
}

/** Runs the agent until `stop` resolves (with the signal's name), then closes it; pods keep running. */
export async function runAgentMain(
  o: AgentMainOptions,
  deps: { log: Logger; stop: Promise<string> },
): Promise<Result<void>> {
  const { log } = deps;
  const pods = o.podsFile === null ? ok([]) : await readPodsFile(o.podsFile);
  if (!pods.ok) return pods;
  // Read once at start, so a missing or broken CA file stops the agent with its name, not every dial.
  const ca = o.allocator?.ca == null ? null : readCaFile(o.allocator.ca.path, o.allocator.ca.from);
  if (ca !== null && !ca.ok) return ca;
  const opened = await openDriver({
    kind: o.gpu,
    simGpus: o.simGpus,
    simStateDir: o.simStateDir,
    createSim: true,
    dataDir: o.dataDir,
  });
  if (!opened.ok) return opened;
  const { driver, simStateDir } = opened.value;
  // Sim: the fakes first on PATH, so pods (and anything they run) meet the same nvidia-smi as the agent.
  if (simStateDir !== null) process.env.PATH = `${SIM_TOOLS.binDir}${delimiter}${process.env.PATH ?? ''}`;
  // GPU device minors for containers on hosts without a CDI spec; known once the agent has discovered its GPUs.
  const minors = new Map<string, number>();
  const runtime = createRuntime(
    {
      ...o.runtime,
      container: {
        ...o.runtime.container,
        simStateDir,
        minorNumberOf: (uuid) => minors.get(uuid) ?? null,
      },
    },
    log,
  );
  if (!runtime.ok) return runtime;
  const started = await createAgent({
    dataDir: o.dataDir,
    driver,
    runtime: runtime.value.runtime,
    sampleIntervalMs: o.sampleIntervalMs,
    swapPoolMiB: o.swapPoolMiB,
    timeSlicing: o.timeSlicing,
    port: o.port,
    metricsAddress: o.metricsAddress,
    simStateDir,
    log,
    onEvent: (e) => log.info(e.reason, { event: e.kind, seq: e.seq, podId: e.podId }),
    ...(o.allocator === null
      ? {}
      : {
          link: {
            url: o.allocator.url,
            otherUrls: o.allocator.otherUrls,
            token: o.allocator.token,
            nodeName: o.allocator.nodeName,
            ...(ca === null ? {} : { ca: ca.value }),
            guard: createGuardFile({ dataDir: o.dataDir, log }),
            credentials: credentialFile(o.dataDir, o.allocator.nodeName),
            // The allocator places image workloads only where this says `container`.
            labels: { [RUNTIME_LABEL]: runtime.value.runtime.kind },
            network: o.network,
          },
        }),
  });
  if (!started.ok) return started;
  const agent = started.value;
  for (const g of agent.inventory.gpus)
    if (typeof g.minorNumber === 'number') minors.set(g.uuid, g.minorNumber);
  if (runtime.value.note !== null) log.warn(runtime.value.note);
  // Linked, a frozen agent must not outlive its lease with pods running: the guard stops them.
  if (o.allocator !== null) {
    // At the agent's own level, so `--log-level warn` quiets the guard's log as well as the agent's.
    const guard = ensureFenceGuard(o.dataDir, { logLevel: log.level });
    if (!guard.ok) {
      await agent.close();
      return guard;
    }
    log.info(guard.value.reused ? 'fence guard already running' : 'fence guard started', { ...guard.value });
  }
  log.info('agent running', {
    gpus: agent.inventory.gpus.length,
    driver: driver.kind,
    url: agent.port === null ? null : `http://127.0.0.1:${agent.port}`,
    dataDir: o.dataDir,
    runtime: runtime.value.runtime.kind,
    podRoot: o.runtime.podRoot,
    cgroupParent: o.runtime.cgroupParent,
    adopted: agent.adopted.adopted.map((p) => p.podId),
    allocator: o.allocator === null ? null : o.allocator.url,
    ca: o.allocator?.ca?.path ?? null,
    node: o.allocator?.nodeName ?? null,
  });
  const launched = startFilePods(agent, pods.value, log);
  if (!launched.ok) {
    await agent.close();
    return launched;
  }
  const signal = await deps.stop;
  log.info(`${signal}: agent stopping; pods keep running and are adopted by the next agent`);
  // The link first, so no order from the allocator arrives while the agent closes (close() would too).
  await agent.link?.stop();
  await agent.close();
  return ok(undefined);
}
