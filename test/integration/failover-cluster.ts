/**
 * Several `tessera allocator` processes on one real PostgreSQL (test/helpers/postgres.ts), each with
 * its own data dir, port and advertised URL, and agents given the whole list: the cluster the
 * failover tests kill and freeze allocators of. Agents and pods come from the harness's `Cluster`.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createDatabase, startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { Api, Cluster, GiveUp, HTTP_POLL_MS, Proc, until } from './harness.ts';

/** One allocator of the cluster. */
export interface HaAllocator {
  name: string;
  dir: string;
  proc: Proc;
  url: string;
  port: number;
}

/** What `GET /leader` answers. */
export interface RoleView {
  role: 'standby' | 'leader' | 'stopped';
  epoch: number;
  leaderUrl: string | null;
  url: string;
  reason: string;
}

/** Timings every allocator of the cluster runs with. */
export interface HaTimings {
  /** Node lease. */
  lease: string;
  heartbeat: string;
  leaderLease: string;
}

/** Allocators sharing one PostgreSQL, and the harness cluster their agents and pods live in. */
export class HaCluster {
  readonly allocators = new Map<string, HaAllocator>();
  private constructor(
    readonly cluster: Cluster,
    readonly postgres: TestPostgres,
    readonly storeUrl: string,
    readonly timings: HaTimings,
  ) {}

  /** Starts PostgreSQL and a fresh database for a cluster; no allocator yet. */
  static async create(timings: HaTimings): Promise<HaCluster> {
    const postgres = await startPostgres();
    const storeUrl = await createDatabase(postgres.url);
    return new HaCluster(new Cluster(), postgres, storeUrl, timings);
  }

  /**
   * Starts allocator `name` (its data dir kept across restarts, the port of its last run reused so
   * the agents' list still names it) and waits for its allocator.json.
   */
  async start(name: string): Promise<HaAllocator> {
    const dir = join(this.cluster.root, name);
    const before = this.allocators.get(name);
    rmSync(join(dir, 'allocator.json'), { force: true });
    const proc = this.cluster.adopt(
      new Proc(
        name,
        [
          'allocator',
          '--data',
          dir,
          '--port',
          String(before?.port ?? 0),
          '--host',
          '127.0.0.1',
          '--lease',
          this.timings.lease,
          '--heartbeat',
          this.timings.heartbeat,
          '--leader-lease',
          this.timings.leaderLease,
          '--log-level',
          'info',
        ],
        // By environment, as deployments pass it: the URL may hold a password.
        { TESSERA_STORE: this.storeUrl },
      ),
    );
    const url = await until(
      () => {
        if (proc.exit !== null)
          throw new GiveUp(`${name} exited ${JSON.stringify(proc.exit)}: ${proc.output()}`);
        const file = join(dir, 'allocator.json');
        if (!existsSync(file)) return null;
        const v = JSON.parse(readFileSync(file, 'utf8')) as { url?: unknown; pid?: unknown };
        return typeof v.url === 'string' && v.pid === proc.pid ? v.url : null;
      },
      `allocator.json of ${name}`,
      20_000,
      HTTP_POLL_MS,
    );
    const a = { name, dir, proc, url, port: Number(new URL(url).port) };
    this.allocators.set(name, a);
    return a;
  }

  /** An API client of allocator `name`, as the cluster's admin. */
  api(name: string): Api {
    return new Api(
      () => this.get(name).url,
      () => this.cluster.adminToken,
    );
  }

  get(name: string): HaAllocator {
    const a = this.allocators.get(name);
    if (a === undefined) throw new Error(`no allocator ${name}`);
    return a;
  }

  /** `GET /leader` of allocator `name`; null when it does not answer (killed, frozen). */
  async role(name: string): Promise<RoleView | null> {
    try {
      const r = await fetch(`${this.get(name).url}/leader`, { signal: AbortSignal.timeout(1000) });
      return r.ok ? ((await r.json()) as RoleView) : null;
    } catch {
      return null;
    }
  }

  /** Waits until one of `names` says it leads; returns its name. */
  async waitLeader(names: readonly string[], timeoutMs = 15_000): Promise<string> {
    return until(
      async () => {
        for (const n of names) if ((await this.role(n))?.role === 'leader') return n;
        return null;
      },
      `one of ${names.join(', ')} to lead`,
      timeoutMs,
      HTTP_POLL_MS,
    );
  }

  /** Every allocator's base URL, comma-separated (the agents' `--allocator`). */
  urlList(): string {
    return [...this.allocators.values()].map((a) => a.url).join(',');
  }

  /** Kills every process and pod, then PostgreSQL. */
  async cleanup(): Promise<void> {
    await this.cluster.cleanup();
    await this.postgres.stop();
  }
}
