/** An API over a temp-dir store with a fixed clock, recording every change signal. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterEach } from 'vitest';
import { type ApiOptions, buildApi, type ChangeReason } from '../../../allocator/api/index.ts';
import { type Db, openDb } from '../../../allocator/store/db.ts';

/** Clock of every write in these tests. */
export const T0 = 1_700_000_000_000;

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A built API, its store and the change reasons it signalled. */
export interface TestApi {
  app: FastifyInstance;
  db: Db;
  changes: ChangeReason[];
  /** Injects a request and returns status plus parsed JSON body (undefined when empty). */
  call: (
    method: InjectOptions['method'],
    url: string,
    body?: unknown,
  ) => Promise<{ status: number; body: unknown }>;
}

/** A fresh store and API (with `extra` options), closed and removed after the test. */
export function testApi(extra: Partial<Omit<ApiOptions, 'db' | 'now' | 'onChange'>> = {}): TestApi {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-api-'));
  const db = openDb({ dataDir: dir });
  const changes: ChangeReason[] = [];
  const app = buildApi({ ...extra, db, now: () => T0, onChange: (r) => changes.push(r) });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => {
    if (db.open) db.close();
  });
  cleanups.push(() => app.close());
  const call: TestApi['call'] = async (method, url, body) => {
    const res = await app.inject(
      body === undefined ? { method, url } : { method, url, payload: body as object },
    );
    return { status: res.statusCode, body: res.body === '' ? undefined : res.json() };
  };
  return { app, db, changes, call };
}

/** Department `research`, project `vision` with 4 GPUs in `default`, pool `a100`. */
export async function seedOrg(api: TestApi): Promise<void> {
  const steps: [string, unknown][] = [
    ['/api/v1/departments', { name: 'research' }],
    ['/api/v1/nodepools', { name: 'a100', selector: { 'gpu.model': 'A100' }, placement: { gpu: 'spread' } }],
    [
      '/api/v1/projects',
      {
        name: 'vision',
        department: 'research',
        quotas: [{ nodePool: 'default', gpu: 4, overQuotaWeight: 1, limit: -1 }],
      },
    ],
  ];
  for (const [url, body] of steps) {
    const r = await api.call('POST', url, body);
    if (r.status !== 201) throw new Error(`seed ${url}: ${r.status} ${JSON.stringify(r.body)}`);
  }
}

/** A training spec in `project` asking for half a GPU. */
export function trainingSpec(name: string, project = 'vision'): Record<string, unknown> {
  return {
    name,
    project,
    type: 'training',
    command: ['python', 'train.py'],
    resources: { gpuFraction: 0.5, cpuMillis: 2000, memoryMiB: 8192 },
  };
}
