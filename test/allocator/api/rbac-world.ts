/**
 * A small organisation with one user per role and scope, for the RBAC matrix: departments d1, d2;
 * projects p1, p1b (d1), p2, p2b (d2); workloads w1 (p1), w2 (p2) Pending and ws1, ws2 Stopped;
 * pool gpu, node n1, registry secret reg in p1 and p2, and a spare user carol with a rule and a
 * token. In memory, fresh per case.
 */
import Database from 'better-sqlite3';
import { buildApi } from '../../../allocator/api/index.ts';
import { createUserToken, type TokenStore } from '../../../allocator/identity/index.ts';
import { createHistory } from '../../../allocator/service/history.ts';
import { createUser, grantAccess } from '../../../allocator/store/access.ts';
import type { Db } from '../../../allocator/store/db.ts';
import { migrate } from '../../../allocator/store/migrations.ts';
import { upsertNode } from '../../../allocator/store/nodes.ts';
import { createDepartment, createProject, putPool } from '../../../allocator/store/org.ts';
import { putRegistrySecret } from '../../../allocator/store/registry-secrets.ts';
import { sqliteDb } from '../../../allocator/store/sqlite.ts';
import { sqliteTokenStore } from '../../../allocator/store/tokens.ts';
import { changePhase, submitWorkload } from '../../../allocator/store/workloads.ts';
import { T0 } from './helpers.ts';

/** The callers of the matrix. */
export const WHO = ['admin', 'dadmin', 'res', 'viewer', 'dres', 'nobody'] as const;
export type Who = (typeof WHO)[number];

/** Each caller's one access rule (none for nobody). */
export const RULES: Readonly<Record<Who, [string, string] | null>> = {
  admin: ['admin', 'cluster'],
  dadmin: ['department-admin', 'department/d1'],
  res: ['researcher', 'project/p1'],
  viewer: ['viewer', 'project/p1'],
  dres: ['researcher', 'department/d1'],
  nobody: null,
};

export interface World {
  /** Injects into the real API. */
  call: (
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    url: string,
    token?: string,
    body?: unknown,
  ) => Promise<{ status: number; body: unknown }>;
  close: () => Promise<void>;
  db: Db;
  tokens: TokenStore;
  /** The clock the API reads; move it to expire tokens. */
  clock: { nowMs: number };
  token: Record<Who, string>;
  tokenId: Record<Who, string>;
  carolToken: string;
  carolRule: number;
  /** Every `METHOD /path` the real API serves under /api/v1, without the prefix. */
  served: string[];
}

function ok<T>(r: { ok: true; value: T } | { ok: false; error: { message: string } }): T {
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

const spec = (name: string, project: string) => ({
  name,
  project,
  type: 'training',
  command: ['python', 'train.py'],
  resources: { gpuFraction: 0.5, cpuMillis: 1000, memoryMiB: 1024 },
});

/** Builds the organisation and the API, ready to inject. */
export async function buildWorld(): Promise<World> {
  const raw = new Database(':memory:');
  raw.pragma('foreign_keys = ON');
  const db = sqliteDb(raw);
  migrate(db);
  const clock = { nowMs: T0 };
  const now = () => clock.nowMs;
  const tokens = sqliteTokenStore(db, now);
  for (const d of ['d1', 'd2']) ok(createDepartment(db, d, T0));
  for (const [p, d] of [
    ['p1', 'd1'],
    ['p1b', 'd1'],
    ['p2', 'd2'],
    ['p2b', 'd2'],
  ] as const)
    ok(createProject(db, p, d, T0));
  putPool(db, { name: 'gpu', selector: { 'gpu.model': 'H100' }, placementGpu: 'binpack' }, T0);
  upsertNode(
    db,
    {
      name: 'n1',
      labels: {},
      gpus: [{ uuid: 'GPU-n1-0', index: 0, model: 'H100', memoryMiB: 81_920, healthy: true }],
      cpuMillis: 64_000,
      memoryMiB: 512_000,
    },
    T0,
  );
  for (const [id, project] of [
    ['w1', 'p1'],
    ['w2', 'p2'],
    ['ws1', 'p1'],
    ['ws2', 'p2'],
  ] as const)
    ok(submitWorkload(db, spec(id, project), T0, { id }));
  for (const id of ['ws1', 'ws2']) ok(changePhase(db, id, 'Stopped', 'StoppedByUser', T0));
  for (const project of ['p1', 'p2'])
    ok(
      putRegistrySecret(db, project, { name: 'reg', server: 'nvcr.io', username: 'u', password: 'p' }, T0, {
        replace: false,
      }),
    );

  const token = {} as Record<Who, string>;
  const tokenId = {} as Record<Who, string>;
  for (const who of WHO) {
    ok(createUser(db, who, T0));
    const rule = RULES[who];
    if (rule !== null) ok(grantAccess(db, { subject: who, role: rule[0], scope: rule[1] }, T0));
    token[who] = createUserToken(tokens, who, { nowMs: T0 });
    tokenId[who] = token[who].split('.')[1] ?? '';
  }
  ok(createUser(db, 'carol', T0));
  const carolRule = ok(grantAccess(db, { subject: 'carol', role: 'viewer', scope: 'project/p2' }, T0)).id;
  const carolToken = createUserToken(tokens, 'carol', { nowMs: T0 }).split('.')[1] ?? '';

  // An empty usage history: the history routes answer (no points) rather than 503.
  const history = createHistory({ intervalMs: 60_000, windowMs: 3_600_000 });
  const app = buildApi({ db, tokens, now, history });
  const routes = new Set<string>();
  app.addHook('onRoute', (r) => {
    for (const m of [r.method].flat()) routes.add(`${m} ${r.url}`);
  });
  await app.ready();
  const call: World['call'] = async (method, url, token, body) => {
    const res = await app.inject({
      method,
      url,
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      ...(body === undefined ? {} : { payload: body as object }),
    });
    return { status: res.statusCode, body: res.body === '' ? undefined : (res.json() as unknown) };
  };
  const close = async () => {
    await app.close();
    db.close();
  };
  const served = [...routes]
    .filter((r) => r.includes(' /api/v1/') && !r.startsWith('HEAD '))
    .map((r) => r.replace(' /api/v1/', ' /'));
  return { call, close, db, tokens, clock, token, tokenId, carolToken, carolRule, served };
}
