/**
 * `tessera allocator`: the central service (docs/architecture.md §1). Flags are checked here (usage errors
 * exit 2); the service is `allocator/main.ts`. It runs until SIGTERM or SIGINT, then closes agent
 * sessions, the API and the store; its state stays in --data for the next start.
 */
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { DEFAULT_PORT, startAllocator } from '../../allocator/main.ts';
import { DEFAULT_COLD_START_MS, DEFAULT_STABILISATION_MS } from '../../allocator/serve/autoscaler.ts';
import { watchTlsFiles } from '../../allocator/service/tls-reload.ts';
import { DEFAULT_DATA_DIR } from '../../allocator/store/db.ts';
import { StoreError } from '../../allocator/store/errors.ts';
import { DEFAULT_HEARTBEAT_MS, DEFAULT_LEASE_MS } from '../../common/disconnect.ts';
import { createLogger, type LogLevel, parseLogLevel } from '../../common/log.ts';
import { formatDurationMs, parseDurationMs } from '../../common/resources.ts';
import { readServerTls, type ServerTls } from '../../common/tls-files.ts';
import { failure, usageError } from '../errors.ts';
import { flagValue } from '../flags.ts';
import type { CliIo } from '../io.ts';
import { stopSignals } from '../signals.ts';
import type { CliContext } from './index.ts';

const EXAMPLES = `
Examples:
  $ tessera allocator --tls-cert allocator.crt --tls-key allocator.key   # HTTPS on every interface
  $ tessera allocator --host 127.0.0.1                  # plain HTTP, this machine only
  $ tessera allocator --data /var/lib/tessera --port 7400 --lease 40s --insecure-http

Plain HTTP sends tokens in clear text, so it is served on loopback only unless --insecure-http says
otherwise (behind a TLS-terminating proxy, say). With --tls-cert and --tls-key the API, the console
and the agents' websocket are HTTPS / WSS; clients and agents trust its CA with --ca FILE.

On its first start in --data it writes a join token for agents (DATA/join-token) and an admin token
for the API (DATA/admin-token), both readable by their owner only, and creates department
'default' with project 'main'. TESSERA_JOIN_TOKEN=tj.<id>.<secret> registers a join token made
elsewhere (e.g. a Kubernetes Secret) as well. Agents join with (the token by env, so it never shows in ps):
  $ TESSERA_TOKEN="$(cat DATA/join-token)" tessera agent --allocator https://THIS_HOST:7400 --ca ca.crt

High availability: several allocators on several machines share one PostgreSQL (--store URL or
TESSERA_STORE, which keeps the password out of ps); one leads, the others stand by, answer reads and
forward writes to it, and take over within about --leader-lease once it stops renewing. Each needs
--advertise-url, the URL agents and the other allocators reach it at. The first to lead writes
the tokens to its --data; preset TESSERA_JOIN_TOKEN on all of them so agents may join through any:
  $ TESSERA_STORE=postgres://tessera:PW@db:5432/tessera TESSERA_JOIN_TOKEN=tj.x.y \
      tessera allocator --advertise-url https://alloc-1:7400 --tls-cert a.crt --tls-key a.key
  $ tessera agent --allocator https://alloc-1:7400,https://alloc-2:7400,https://alloc-3:7400
`;

/** The flags as commander hands them over. */
interface RawFlags {
  data: string;
  host: string;
  port: string;
  lease: string;
  heartbeat: string;
  logLevel: string;
  metricsAuth: boolean;
  allowPublicServing: boolean;
  externalUrl?: string;
  store?: string;
  advertiseUrl?: string;
  leaderLease?: string;
  serveScaleDownWindow: string;
  serveColdStartTimeout: string;
  historyInterval: string;
  historyWindow: string;
  tlsCert?: string;
  tlsKey?: string;
  insecureHttp: boolean;
}

/** Parsed and checked allocator flags, shared with `tessera up`. */
export interface AllocatorFlags {
  port: number;
  leaseMs: number;
  heartbeatMs: number;
}

/** Checks --port, --lease and --heartbeat together: a lease must outlast a few heartbeats. */
export function parseAllocatorFlags(f: { port: string; lease: string; heartbeat: string }): AllocatorFlags {
  const port = Number(f.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw usageError('--port', `--port '${f.port}' must be a whole number from 0 to 65535`);
  const leaseMs = flagValue(parseDurationMs(f.lease, '--lease'));
  const heartbeatMs = flagValue(parseDurationMs(f.heartbeat, '--heartbeat'));
  if (heartbeatMs < 100) throw usageError('--heartbeat', '--heartbeat must be at least 100ms');
  if (leaseMs < 3 * heartbeatMs)
    throw usageError(
      '--lease',
      `--lease (${leaseMs} ms) must be at least three heartbeats (${3 * heartbeatMs} ms), or one late frame loses a node`,
    );
  return { port, leaseMs, heartbeatMs };
}

/** Checks the serving flags: --serve-scale-down-window and --serve-cold-start-timeout, durations. */
export function parseServingFlags(f: { serveScaleDownWindow: string; serveColdStartTimeout: string }): {
  autoscaleStabilisationMs: number;
  coldStartTimeoutMs: number;
} {
  const autoscaleStabilisationMs = flagValue(
    parseDurationMs(f.serveScaleDownWindow, '--serve-scale-down-window'),
  );
  const coldStartTimeoutMs = flagValue(
    parseDurationMs(f.serveColdStartTimeout, '--serve-cold-start-timeout'),
  );
  if (coldStartTimeoutMs < 1000)
    throw usageError(
      '--serve-cold-start-timeout',
      '--serve-cold-start-timeout must be at least 1s: a replica needs that long to start',
    );
  return { autoscaleStabilisationMs, coldStartTimeoutMs };
}

/** Most points one usage-history series keeps (a week of minutes): each costs 6 bytes per series. */
const MAX_HISTORY_SAMPLES = 7 * 1440;

/** Checks --history-interval and --history-window: the window holds 1 to MAX_HISTORY_SAMPLES samples. */
export function parseHistoryFlags(f: { historyInterval: string; historyWindow: string }): {
  historyIntervalMs: number;
  historyWindowMs: number;
} {
  const historyIntervalMs = flagValue(parseDurationMs(f.historyInterval, '--history-interval'));
  const historyWindowMs = flagValue(parseDurationMs(f.historyWindow, '--history-window'));
  if (historyIntervalMs < 100)
    throw usageError('--history-interval', '--history-interval must be at least 100ms');
  if (historyWindowMs < historyIntervalMs)
    throw usageError('--history-window', '--history-window must be at least one --history-interval');
  if (historyWindowMs / historyIntervalMs > MAX_HISTORY_SAMPLES)
    throw usageError(
      '--history-window',
      `--history-window holds ${Math.floor(historyWindowMs / historyIntervalMs)} samples at this --history-interval, more than ${MAX_HISTORY_SAMPLES}: shorten the window or lengthen the interval`,
    );
  return { historyIntervalMs, historyWindowMs };
}

/** Checks --store (or TESSERA_STORE), --advertise-url and --leader-lease. */
export function parseHaFlags(
  f: { store?: string | undefined; advertiseUrl?: string | undefined; leaderLease?: string | undefined },
  env: Readonly<Record<string, string | undefined>>,
): { store?: string; advertiseUrl?: string; leaderLeaseMs?: number } {
  const store = f.store ?? (env.TESSERA_STORE === '' ? undefined : env.TESSERA_STORE);
  if (store !== undefined && !/^(postgres|postgresql|sqlite):/.test(store))
    throw usageError(
      '--store',
      `--store must be a postgres:// or postgresql:// URL (or sqlite: for the file in --data), not ${JSON.stringify(store.split('@').at(-1))}`,
    );
  let advertiseUrl: string | undefined;
  if (f.advertiseUrl !== undefined) {
    let u: URL | null = null;
    try {
      u = new URL(f.advertiseUrl);
    } catch {
      u = null;
    }
    if (u === null || (u.protocol !== 'http:' && u.protocol !== 'https:'))
      throw usageError(
        '--advertise-url',
        `--advertise-url '${f.advertiseUrl}' must be an http:// or https:// URL`,
      );
    advertiseUrl = f.advertiseUrl.replace(/\/+$/, '');
  }
  let leaderLeaseMs: number | undefined;
  if (f.leaderLease !== undefined) {
    leaderLeaseMs = flagValue(parseDurationMs(f.leaderLease, '--leader-lease'));
    if (leaderLeaseMs < 300) throw usageError('--leader-lease', '--leader-lease must be at least 300ms');
  }
  return {
    ...(store === undefined ? {} : { store }),
    ...(advertiseUrl === undefined ? {} : { advertiseUrl }),
    ...(leaderLeaseMs === undefined ? {} : { leaderLeaseMs }),
  };
}

/** True for an address only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/**
 * Checks --tls-cert, --tls-key and --insecure-http against --host: TLS needs both files, and plain
 * HTTP beyond loopback needs --insecure-http, because it would carry every token in clear text.
 */
export function checkTransportFlags(f: {
  host: string;
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  insecureHttp: boolean;
}): void {
  if ((f.tlsCert === undefined) !== (f.tlsKey === undefined)) {
    const [given, missing] =
      f.tlsCert === undefined ? ['--tls-key', '--tls-cert'] : ['--tls-cert', '--tls-key'];
    throw usageError(missing, `${given} needs ${missing}: give both the certificate and its private key`);
  }
  const tls = f.tlsCert !== undefined;
  if (tls && f.insecureHttp)
    throw usageError('--insecure-http', '--insecure-http and --tls-cert contradict each other: drop one');
  if (!tls && !f.insecureHttp && !isLoopback(f.host))
    throw usageError(
      '--host',
      `plain HTTP on ${f.host} would send every token in clear text: give --tls-cert FILE and --tls-key FILE, or bind to loopback with --host 127.0.0.1, or pass --insecure-http (e.g. behind a TLS-terminating proxy)`,
    );
}

/** A JSON-lines logger on stderr at `level`, for a daemon command. */
export function daemonLogger(io: CliIo, level: string, component: string) {
  const parsed = parseLogLevel(level);
  if (!parsed.ok) throw usageError('--log-level', parsed.error.message);
  return createLogger({
    stream: { write: (line: string) => io.err(line) },
    level: parsed.value as LogLevel,
    fields: { component },
  });
}

/** Adds the lease, heartbeat and log-level flags the allocator and `up` share. */
export function addTimingOptions(command: Command, logLevel: string): Command {
  return command
    .option(
      '--lease <duration>',
      'a node silent this long is lost and its pods rescheduled',
      formatDurationMs(DEFAULT_LEASE_MS),
    )
    .option('--heartbeat <duration>', 'how often agents report', formatDurationMs(DEFAULT_HEARTBEAT_MS))
    .option('--log-level <level>', 'allocator log level on stderr: debug, info, warn or error', logLevel);
}

/** Adds `allocator`'s flags, help and action to `command`. */
export function configure(command: Command, { io }: CliContext): void {
  command
    .description('Run the allocator: REST API, agent websocket, scheduler, state in SQLite.')
    .option('--data <dir>', 'data directory (database, tokens)', DEFAULT_DATA_DIR)
    .option('--host <address>', 'interface to listen on (0.0.0.0: every one)', '0.0.0.0')
    .option('--port <n>', 'TCP port for the API and the agent link (0 = any free port)', String(DEFAULT_PORT))
    .option(
      '--tls-cert <file>',
      'serve HTTPS and WSS with this PEM certificate (chain) file; needs --tls-key',
    )
    .option('--tls-key <file>', 'the PEM private key of --tls-cert')
    .option(
      '--insecure-http',
      'allow plain HTTP on a non-loopback --host (tokens travel in clear text: only behind a TLS proxy)',
      false,
    )
    .option(
      '--metrics-auth',
      "/metrics needs a user token that may read the cluster's nodes (e.g. a 'prometheus' user with viewer on cluster); default: open like /healthz",
      false,
    )
    .option(
      '--allow-public-serving',
      'a workload with public: true is served at /serve/PROJECT/NAME/ without a token; default: every caller needs read access to the project',
      false,
    )
    .option(
      '--external-url <url>',
      "the URL clients reach this allocator at, for served workloads' url (default: the URL it listens on)",
    )
    .option(
      '--store <url>',
      'keep state in this PostgreSQL (postgres://USER:PW@HOST/DB; default TESSERA_STORE, else SQLite in --data); several allocators may share it, one leads',
    )
    .option(
      '--advertise-url <url>',
      'the URL agents and the other allocators reach this one at while it leads (default: the URL it listens on)',
    )
    .option(
      '--leader-lease <duration>',
      'with --store: a standby takes over this long after the leader stops renewing (default a quarter of --lease, 1s to 10s)',
    )
    .option(
      '--serve-scale-down-window <duration>',
      "how long an autoscaled workload's load must stay lower before its replicas are cut (the stabilisation window)",
      formatDurationMs(DEFAULT_STABILISATION_MS),
    )
    .option(
      '--serve-cold-start-timeout <duration>',
      'how long a request to a served workload waits for a ready replica (a cold start) before its 503',
      formatDurationMs(DEFAULT_COLD_START_MS),
    )
    .option(
      '--history-interval <duration>',
      'how often the usage history behind the console plots and /api/v1/history samples GPU allocation and utilization',
      '1m',
    )
    .option('--history-window <duration>', 'how far back the usage history keeps samples (in memory)', '24h');
  addTimingOptions(command, 'info')
    .addHelpText('after', EXAMPLES)
    .action(async (_flags: unknown, cmd: Command) => {
      const f = cmd.opts<RawFlags>();
      const parsed = parseAllocatorFlags(f);
      const serving = parseServingFlags(f);
      const history = parseHistoryFlags(f);
      checkTransportFlags(f);
      const ha = parseHaFlags(f, process.env);
      const log = daemonLogger(io, f.logLevel, 'allocator');
      let tls: ServerTls | undefined;
      if (f.tlsCert !== undefined && f.tlsKey !== undefined) {
        const read = readServerTls(f.tlsCert, f.tlsKey, Date.now());
        if (!read.ok) throw failure(read.error);
        tls = read.value;
      }
      const signals = stopSignals();
      try {
        // A join token made outside (a Kubernetes Secret) comes by env, never on the command line.
        const preset = process.env.TESSERA_JOIN_TOKEN;
        const running = await startAllocator({
          dataDir: f.data,
          host: f.host,
          ...parsed,
          log,
          metricsAuth: f.metricsAuth,
          allowPublicServing: f.allowPublicServing,
          ...serving,
          ...history,
          ...ha,
          ...(f.externalUrl === undefined ? {} : { externalUrl: f.externalUrl.replace(/\/+$/, '') }),
          ...(tls === undefined ? {} : { tls }),
          ...(preset === undefined || preset === '' ? {} : { joinToken: preset.trim() }),
        }).catch((e: unknown) => {
          // A bad preset token or a database from newer code: the user's to fix, said in one line.
          throw e instanceof StoreError ? failure(e.error) : e;
        });
        const r = running.role();
        io.out(
          `tessera allocator listening on ${running.url} (data in ${f.data}; ${r.role}${r.role === 'leader' ? ` at epoch ${r.epoch}` : `, leader ${r.leaderUrl ?? 'unknown yet'}`})\n`,
        );
        // A renewed certificate (cert-manager, a renewal job) is served without a restart.
        const stopReload =
          tls === undefined || f.tlsCert === undefined || f.tlsKey === undefined
            ? () => {}
            : watchTlsFiles({
                certFile: f.tlsCert,
                keyFile: f.tlsKey,
                current: tls,
                apply: (renewed) => running.setTls(renewed),
                log,
              });
        await signals.stop;
        stopReload();
        await running.close();
      } finally {
        signals.release();
      }
    });
}
