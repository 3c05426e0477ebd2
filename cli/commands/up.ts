/**
 * `tessera up`: a whole cluster on this machine: an allocator in this process and N agents
 * as child processes, on the real GPUs when nvidia-smi answers, else on simulated ones (and it says
 * which). The allocator serves HTTPS with a certificate from a local CA kept in `DATA/tls/`
 * (local-ca.ts); the agents and the CLI trust that CA. The join token reaches the agents through
 * their environment, never their command line, which any user can read in `ps`. The data dir keeps
 * the store, the tokens, the CA and every agent's state between runs. Ctrl-C stops the agents and
 * the allocator; pods keep running and the next `tessera up` adopts them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Command, Option } from 'commander';
import { AGENT_NODE_FLAGS } from '../../agent/node-flags.ts';
import { type RunningAllocator, startAllocator } from '../../allocator/main.ts';
import { DEFAULT_PROJECT } from '../../allocator/service/bootstrap.ts';
import { DEFAULT_DATA_DIR } from '../../allocator/store/db.ts';
import { tesseraError } from '../../common/errors.ts';
import { readCaFile, readServerTls } from '../../common/tls-files.ts';
import { type ApiClient, createClient } from '../client/http.ts';
import { failure, usageError } from '../errors.ts';
import { type CertNames, ensureLocalTls } from '../local-ca.ts';
import { stopSignals } from '../signals.ts';
import { addTimingOptions, daemonLogger, parseAllocatorFlags } from './allocator.ts';
import type { CliContext } from './index.ts';

const EXAMPLES = `
Examples:
  $ tessera up                                  # ./tessera-data, port 7400, one agent
  $ tessera up --agents 3 --sim-gpus 8xH100-80GB --port 0
  $ tessera up --data /tmp/demo --gpu sim

Then, from the same directory (the CLI finds ./tessera-data/allocator.json, its CA and admin-token):
  $ tessera submit training hello -p main --gpu-fraction 0.5 -- sh -c 'sleep 20'
  $ tessera list
`;

interface RawFlags {
  data: string;
  port: string;
  agents: string;
  gpu: 'auto' | 'nvidia' | 'sim';
  simGpus?: string;
  lease: string;
  heartbeat: string;
  logLevel: string;
}

/**
 * The entry the agents are started from: this build's own CLI entry when `up` runs compiled, so they
 * run the same JavaScript; from the sources, bin/tessera.js, which loads them through tsx.
 */
const BIN = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? '../../bin/tessera.js' : '../main.js', import.meta.url),
);

/** What one agent child of `up` is started with. */
export interface AgentLaunch {
  /** Arguments after the node executable: the agent's node flags, the entry, then the command. */
  args: string[];
  /** Its environment: the parent's plus the join token. */
  env: Record<string, string | undefined>;
}

/**
 * The command line and environment of one agent child. The join token goes in TESSERA_TOKEN:
 * /proc/PID/cmdline is readable by every user on the machine, a process's environment only by its
 * owner (and the agent passes no TESSERA_ variable on to its pods).
 */
export function agentLaunch(o: {
  bin: string;
  dataDir: string;
  url: string;
  caFile: string;
  joinToken: string;
  node: string;
  gpu: 'nvidia' | 'sim';
  simGpus: string | null;
  /**
   * Where this agent's pods live and who they run as. Several agents share this machine, so each
   * gets its own pod root, sim state outside its 0700 data dir (pods of other uids must reach it)
   * and uid range; `up` picks them per agent.
   */
  pods: { podRoot: string; simStateDir: string | null; uidRange: string; portRange: string };
  env: Readonly<Record<string, string | undefined>>;
}): AgentLaunch {
  // The agent's flags go to node itself, before the entry: they size the heap as it is created.
  const args = [
    ...AGENT_NODE_FLAGS,
    o.bin,
    'agent',
    '--data',
    o.dataDir,
    '--allocator',
    o.url,
    '--ca',
    o.caFile,
    '--node',
    o.node,
  ];
  args.push('--gpu', o.gpu);
  if (o.simGpus !== null) args.push('--sim-gpus', o.simGpus);
  args.push('--pod-root', o.pods.podRoot, '--pod-uid-range', o.pods.uidRange);
  // Every agent of `up` is on this machine: its pods are reached on loopback.
  args.push('--advertise-address', '127.0.0.1', '--port-range', o.pods.portRange);
  if (o.pods.simStateDir !== null) args.push('--sim-state', o.pods.simStateDir);
  return { args, env: { ...o.env, TESSERA_TOKEN: o.joinToken } };
}

/** The names `up`'s certificate covers: loopback by name and address, and this machine's host name. */
export function localCertNames(host: string): CertNames {
  const dns = ['localhost'];
  // A host name that is not a DNS name (odd characters) cannot go in a certificate; loopback still works.
  if (/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host) && host !== 'localhost') dns.push(host);
  return { dns, ips: ['127.0.0.1', '::1'] };
}

/** True when nvidia-smi runs and lists a GPU. */
async function hasNvidia(): Promise<boolean> {
  const { execa } = await import('execa');
  const r = await execa('nvidia-smi', ['-L'], { reject: false, timeout: 10_000 });
  return r.exitCode === 0 && /^GPU \d+/m.test(r.stdout);
}

/** Adds `up`'s flags, help and action to `command`. */
export function configure(command: Command, { io }: CliContext): void {
  command
    .description('Start an allocator and agents on this machine; Ctrl-C stops them.')
    .option('--data <dir>', 'data directory, kept between runs', DEFAULT_DATA_DIR)
    .option('--port <n>', 'allocator port on 127.0.0.1 (0 = any free port)', '7400')
    .option('--agents <n>', 'agents (nodes) to start', '1')
    .addOption(
      new Option('--gpu <backend>', 'auto: nvidia when nvidia-smi finds a GPU, else sim')
        .choices(['auto', 'nvidia', 'sim'])
        .default('auto'),
    )
    .option('--sim-gpus <spec>', 'simulated GPUs per agent, e.g. 4xH100-80GB (a new agent gets 4xH100-80GB)');
  addTimingOptions(command, 'warn')
    .addHelpText('after', EXAMPLES)
    .action(async (_flags: unknown, cmd: Command) => {
      const f = cmd.opts<RawFlags>();
      const parsed = parseAllocatorFlags(f);
      const agents = Number(f.agents);
      if (!Number.isInteger(agents) || agents < 0 || agents > 64)
        throw usageError('--agents', `--agents '${f.agents}' must be a whole number from 0 to 64`);
      if (f.simGpus !== undefined && f.gpu === 'nvidia')
        throw usageError('--sim-gpus', '--sim-gpus needs simulated GPUs: drop --gpu nvidia');
      const nvidia =
        f.gpu === 'nvidia' || (f.gpu === 'auto' && f.simGpus === undefined && (await hasNvidia()));
      if (nvidia && agents > 1)
        throw usageError('--agents', 'with real GPUs one agent owns them all: use --agents 1, or --gpu sim');
      const dataDir = resolve(f.data);
      const log = daemonLogger(io, f.logLevel, 'allocator');
      const local = await ensureLocalTls(join(dataDir, 'tls'), localCertNames(hostname()), Date.now());
      if (!local.ok) throw failure(local.error);
      const { caFile } = local.value;
      const tls = readServerTls(local.value.certFile, local.value.keyFile, Date.now());
      if (!tls.ok) throw failure(tls.error);
      const ca = readCaFile(caFile, 'the local CA');
      if (!ca.ok) throw failure(ca.error);
      if (local.value.made.ca) io.err(`made a local CA for the allocator's HTTPS: ${caFile}\n`);
      const signals = stopSignals();
      const children: ChildProcess[] = [];
      try {
        const alloc = await startAllocator({
          dataDir,
          host: '127.0.0.1',
          ...parsed,
          log,
          tls: tls.value,
          caFile,
        }).catch((e: unknown) => {
          const code = (e as { code?: string }).code;
          if (code === 'EADDRINUSE')
            throw failure(
              tesseraError(
                'TESSERA_E_INVALID_CONFIG',
                `port ${parsed.port} is in use: pass --port 0 or another port`,
                {
                  field: '--port',
                },
              ),
            );
          throw e;
        });
        const joinToken = readFileSync(alloc.joinTokenFile, 'utf8').trim();
        const adminToken = readFileSync(alloc.adminTokenFile, 'utf8').trim();
        for (let i = 1; i <= agents; i++) {
          const node = nvidia ? 'local' : `sim-${i}`;
          const dir = join(dataDir, 'agents', node);
          const isNew = !existsSync(dir);
          mkdirSync(dir, { recursive: true });
          const launch = agentLaunch({
            bin: BIN,
            dataDir: dir,
            url: alloc.url,
            caFile,
            joinToken,
            node,
            gpu: nvidia ? 'nvidia' : 'sim',
            // A sim node's GPUs are kept between runs unless asked for others: its pods may still use them.
            simGpus: !nvidia && (isNew || f.simGpus !== undefined) ? (f.simGpus ?? '4xH100-80GB') : null,
            pods: {
              podRoot: join(dataDir, 'pods', node),
              simStateDir: nvidia ? null : join(dataDir, 'sim', node),
              // 1000 ids per agent: agents on one machine never give two pods the same uid.
              uidRange: `${200_000 + (i - 1) * 1000}-${200_000 + i * 1000 - 1}`,
              // Likewise 100 host ports each: pods share the host's network, and two nodes here one.
              portRange: `${40_000 + (i - 1) * 100}-${40_000 + i * 100 - 1}`,
            },
            env: process.env,
          });
          const logFd = openSync(join(dir, 'agent.log'), 'a');
          children.push(
            spawn(process.execPath, launch.args, { stdio: ['ignore', logFd, logFd], env: launch.env }),
          );
        }
        const client = createClient({
          url: alloc.url,
          token: adminToken,
          urlFrom: 'tessera up',
          ca: ca.value,
        });
        const nodes = await waitForNodes(alloc, client, agents);
        await ensureDefaultQuota(client, nodes.gpus);
        const gpuWord = nvidia
          ? 'real GPU(s) through nvidia-smi'
          : 'simulated GPU(s) (no nvidia-smi GPU found or --gpu sim)';
        io.out(
          [
            `Tessera is up: allocator ${alloc.url}, ${nodes.names.length} of ${agents} agent(s) joined, ${nodes.gpus} ${gpuWord}.`,
            `Data: ${dataDir} (kept between runs; agent logs in ${join(dataDir, 'agents', '*', 'agent.log')})`,
            `Admin token: ${adminToken}  (also in ${alloc.adminTokenFile}, mode 0600)`,
            // The fragment never reaches the server or its logs; the console reads it once and drops it.
            `Web console: ${alloc.url}/#token=${adminToken}`,
            `HTTPS with a certificate from this data dir's own CA: ${caFile} (a browser warns until you trust it)`,
            '',
            'Next:',
            `  export TESSERA_URL=${alloc.url} TESSERA_TOKEN=$(cat ${alloc.adminTokenFile}) TESSERA_CA=${caFile}`,
            `  tessera submit training hello -p ${DEFAULT_PROJECT} --gpu-fraction 0.5 -- sh -c 'echo on GPU $CUDA_VISIBLE_DEVICES; sleep 20'`,
            `  tessera list   # then: tessera describe hello -p ${DEFAULT_PROJECT}`,
            '',
            'Ctrl-C stops the allocator and the agents; running pods keep running and the next tessera up adopts them.',
            '',
          ].join('\n'),
        );
        await signals.stop;
        io.err('stopping agents and allocator...\n');
        await Promise.all(children.map((c) => stopChild(c)));
        await alloc.close();
      } finally {
        for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
        signals.release();
      }
    });
}

/** Waits up to 30 s for `want` agents to join; returns how many did and their GPUs. */
async function waitForNodes(
  alloc: Pick<RunningAllocator, 'connectedNodes'>,
  client: ApiClient,
  want: number,
): Promise<{ names: string[]; gpus: number }> {
  const deadline = Date.now() + 30_000;
  while (alloc.connectedNodes().length < want && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  const names = alloc.connectedNodes();
  const nodes = await client.request<{ name: string; gpus: unknown[] }[]>('GET', '/nodes');
  const gpus = nodes.filter((n) => names.includes(n.name)).reduce((s, n) => s + n.gpus.length, 0);
  return { names, gpus };
}

/**
 * A fresh default project gets the cluster's GPUs as its deserved quota: non-preemptible work
 * (workspaces, inference) runs only within deserved quota, and with none it would never start.
 */
async function ensureDefaultQuota(client: ApiClient, gpus: number): Promise<void> {
  const p = await client
    .request<{ quotas: unknown[] }>('GET', `/projects/${DEFAULT_PROJECT}`)
    .catch(() => null);
  if (p === null || p.quotas.length > 0 || gpus === 0) return;
  await client.request('PATCH', `/projects/${DEFAULT_PROJECT}`, {
    quotas: [{ nodePool: 'default', gpu: gpus }],
  });
}

/** SIGTERM, then SIGKILL after 10 s; resolves when the child has exited. */
function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const kill = setTimeout(() => c.kill('SIGKILL'), 10_000);
    c.once('exit', () => {
      clearTimeout(kill);
      done();
    });
    c.kill('SIGTERM');
  });
}
