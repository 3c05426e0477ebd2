/**
 * What every console browser test shares: a real allocator and sim agent
 * (test/integration/harness.ts) and headless Chromium, started once per file; a fresh browser
 * context per test, logged in as asked; after each test its workloads deleted and no script error
 * or CSP violation allowed. The allocator samples its usage history five times a second, so a plot
 * has points within a test.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { type Cluster, startCluster, testWorkload, until } from '../integration/harness.ts';
import { launch, snap } from './browser.ts';

/** The allocator's flags for these tests, for a restart too. */
export const ALLOCATOR_FLAGS = { extra: ['--history-interval', '200ms', '--history-window', '10m'] };

/** The shared cluster and this test's page. */
export interface ConsoleFixture {
  cluster(): Cluster;
  /** This test's page (a browser context of its own). */
  page(): Page;
  /** Opens the console logged in with `token` (the admin's by default), on the overview. */
  loggedIn(token?: string): Promise<void>;
  /** Workload `name` submitted through the API (one whole GPU), once it runs; its id. */
  running(name: string): Promise<string>;
  /** A token of a new user `name` holding `role` on `scope`. */
  userWith(name: string, role: string, scope: string): Promise<string>;
}

/** Registers the hooks in the calling `describe` (which the caller skips without chromium). */
export function useConsole(chromiumPath: string): ConsoleFixture {
  let c: Cluster | undefined;
  let browser: Browser | undefined;
  let page: Page | undefined;
  let pageErrors: string[] = [];

  const cluster = (): Cluster => {
    if (c === undefined) throw new Error('the cluster has not started');
    return c;
  };
  const current = (): Page => {
    if (page === undefined) throw new Error('no page: called outside a test');
    return page;
  };

  beforeAll(async () => {
    [c, browser] = await Promise.all([
      startCluster({ n1: '2xH100-80GB' }, ALLOCATOR_FLAGS),
      launch(chromiumPath),
    ]);
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await c?.cleanup();
  });

  beforeEach(async ({ onTestFailed, task }) => {
    if (browser === undefined) throw new Error('the browser has not started');
    // A context of its own: no session storage or page state from another test.
    const p = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
    page = p;
    p.setDefaultTimeout(10_000);
    pageErrors = [];
    const errors = pageErrors;
    p.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    p.on('console', (m) => {
      // The browser logs every non-2xx fetch; those are the API answering, which the pages handle.
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
        errors.push(`console: ${m.text()}`);
    });
    onTestFailed(async () => {
      if (c !== undefined) process.stderr.write(c.logs());
      await snap(p, `failed-${task.name.replace(/[^a-z0-9]+/gi, '-')}`).catch(() => {});
    });
  });

  afterEach(async () => {
    await current().context().close();
    // What the test submitted goes, so the next one sees an empty cluster.
    const api = cluster().api;
    const list = (await api.expect(200, 'GET', '/workloads')) as { id: string }[];
    for (const w of list) await api.request('DELETE', `/workloads/${encodeURIComponent(w.id)}`);
    await until(
      async () => ((await api.expect(200, 'GET', '/workloads')) as unknown[]).length === 0,
      'the workloads of the test deleted',
      20_000,
    );
    // No script error or CSP violation on any page the test opened.
    expect(pageErrors).toEqual([]);
  }, 30_000);

  return {
    cluster,
    page: current,
    async loggedIn(token = cluster().adminToken) {
      await current().goto(`${cluster().url}/#token=${encodeURIComponent(token)}`);
      await current().getByRole('heading', { name: 'Overview' }).waitFor();
    },
    async running(name) {
      const w = await cluster().api.submit(testWorkload(cluster(), name));
      await cluster().api.waitPhase(w.id, 'Running', 20_000);
      return w.id;
    },
    async userWith(name, role, scope) {
      const api = cluster().api;
      await api.expect(201, 'POST', '/users', { name });
      await api.expect(201, 'POST', '/access-rules', { subject: name, role, scope });
      return ((await api.expect(201, 'POST', '/tokens', { kind: 'user', user: name })) as { token: string })
        .token;
    },
  };
}
