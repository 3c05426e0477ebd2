/**
 * The web console end to end: a real allocator and sim agent (test/integration/harness.ts),
 * the console loaded from the allocator into headless Chromium and used as a person would, by label
 * and role: log in, see the node, the projects, submit, watch Running, stop. Each page's screenshot
 * lands in test-artifacts/console/. The cluster and browser are shared; each test has a page of its
 * own and makes what it needs, and what it made is deleted after it, so any one runs alone or in
 * any order.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Cluster, podCommand, startCluster, testWorkload, until } from '../integration/harness.ts';
import { CHROMIUM_MISSING, findChromium, launch, snap } from './browser.ts';

const chromiumPath = findChromium();
if (chromiumPath === null) console.warn(CHROMIUM_MISSING);

/** Markup in a value the API hands back; it must reach the page as text. */
const XSS = '<img src=x onerror="window.__pwned=1">';
/** Markup a pod prints; its output must reach the page as text too. */
const LOG_XSS = '<script>window.__pwned=2</script><b>bold?</b>';
/** A pod's program: prints LOG_XSS and its own wire id, then runs until stopped. */
const PRINTS_MARKUP = `process.stdout.write(${JSON.stringify(LOG_XSS)} + '\\nI am ' + process.env.TESSERA_POD_ID + '\\n');
setInterval(() => {}, 1000);`;

/** Samples of the usage history five times a second, so a plot has points within the test. */
const ALLOCATOR_FLAGS = { extra: ['--history-interval', '200ms', '--history-window', '10m'] };

/** A command line the form splits back into `podCommand()`'s words. */
const quoted = (words: string[]): string => words.map((w) => JSON.stringify(w)).join(' ');

describe.skipIf(chromiumPath === null).sequential('web console in headless Chromium', () => {
  let c: Cluster | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let pageErrors: string[] = [];

  const cluster = (): Cluster => {
    if (c === undefined) throw new Error('the cluster has not started');
    return c;
  };

  /** A page logged in with `token` (the admin's by default), on the overview. */
  const loggedIn = async (token = cluster().adminToken): Promise<void> => {
    await page.goto(`${cluster().url}/#token=${encodeURIComponent(token)}`);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
  };

  /** Workload `name` submitted through the API (one whole GPU), once it runs. */
  const running = async (name: string): Promise<string> => {
    const w = await cluster().api.submit(testWorkload(cluster(), name));
    await cluster().api.waitPhase(w.id, 'Running', 20_000);
    return w.id;
  };

  /** The submit form filled with a valid process workload named `name`. */
  const submitForm = async (name: string): Promise<void> => {
    await page.getByRole('navigation').getByRole('link', { name: 'Submit' }).click();
    await page.getByRole('heading', { name: 'Submit a workload' }).waitFor();
    // The project list arrives with the first poll; the default project is chosen for the user.
    await page
      .getByLabel('Project')
      .locator(`option[value="${cluster().defaultProject}"]`)
      .waitFor({ state: 'attached' });
    await page.getByLabel('Name').fill(name);
    await page.getByLabel('Type').selectOption('training');
    await page.getByLabel('Command').fill(quoted(podCommand()));
    await page.getByLabel('GPUs per pod').fill('1');
  };

  beforeAll(async () => {
    [c, browser] = await Promise.all([
      startCluster({ n1: '2xH100-80GB' }, ALLOCATOR_FLAGS),
      launch(chromiumPath ?? ''),
    ]);
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await c?.cleanup();
  });

  beforeEach(async ({ onTestFailed, task }) => {
    if (browser === undefined) throw new Error('the browser has not started');
    // A context of its own: no session storage or page state from another test.
    page = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
    page.setDefaultTimeout(10_000);
    pageErrors = [];
    const errors = pageErrors;
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      // The browser logs every non-2xx fetch; those are the API answering, which the pages handle.
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
        errors.push(`console: ${m.text()}`);
    });
    onTestFailed(async () => {
      if (c !== undefined) process.stderr.write(c.logs());
      await snap(page, `failed-${task.name.replace(/[^a-z0-9]+/gi, '-')}`).catch(() => {});
    });
  });

  afterEach(async () => {
    await page.context().close();
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

  it('sends a visitor without a token to the login page and refuses a bad token', async () => {
    await page.goto(cluster().url);
    await page.waitForURL(/#\/login$/);
    await page.getByLabel('API token').fill('tu.0000.not-a-token');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').filter({ hasText: 'That token is not valid' }).waitFor();
    await snap(page, '01-login');
  });

  it('logs in with the admin token and shows the node on the overview', async () => {
    await page.goto(cluster().url);
    await page.waitForURL(/#\/login$/);
    await page.getByLabel('API token').fill(cluster().adminToken);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const row = page.getByRole('table', { name: 'Nodes' }).getByRole('row').filter({ hasText: 'n1' });
    await row.filter({ hasText: 'ready' }).waitFor();
    await row.filter({ hasText: /2 × .*H100/ }).waitFor();
    await page.getByText(/updated \d+s ago/).waitFor();
    await snap(page, '02-overview');
  });

  it('lists the default project with its quota on the projects page', async () => {
    await loggedIn();
    await page.getByRole('navigation').getByRole('link', { name: 'Projects' }).click();
    await page.getByRole('heading', { name: 'Projects and quotas' }).waitFor();
    const projects = page.getByRole('table', { name: 'Projects' });
    await projects.getByRole('row').filter({ hasText: cluster().defaultProject }).first().waitFor();
    await snap(page, '03-projects');
  });

  it('shows the API error for a bad submit and keeps what was typed', async () => {
    await loggedIn();
    await submitForm('console-e2e');
    await snap(page, '04-submit');
    await page.getByLabel('GPUs per pod').fill('1.5');
    await page.getByRole('button', { name: 'Submit workload' }).click();
    const banner = page.getByRole('alert').filter({ hasText: 'resources.gpuFraction' });
    await banner.waitFor();
    expect(await page.getByLabel('GPUs per pod').getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByLabel('Name').inputValue()).toBe('console-e2e');
    expect(await page.getByLabel('Command').inputValue()).toBe(quoted(podCommand()));
    expect(page.url()).toMatch(/#\/submit$/);
    await snap(page, '05-submit-error');
  });

  it("marks a bad image reference with the API's words, and the form has pull policy and working dir", async () => {
    await loggedIn();
    await submitForm('console-e2e');
    await page.getByLabel('Container image').fill('nvcr.io/NVIDIA/pytorch:24.05-py3');
    await page.getByRole('button', { name: 'Submit workload' }).click();
    await page.getByRole('alert').filter({ hasText: 'path components are lowercase' }).waitFor();
    expect(await page.getByLabel('Container image').getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByLabel('Image pull policy').locator('option').allTextContents()).toEqual([
      'default (IfNotPresent)',
      'IfNotPresent',
      'Always',
      'Never',
    ]);
    expect(await page.getByLabel('Working directory').count()).toBe(1);
  });

  it('submits a workload and shows it Running with its pod on the node', async () => {
    await loggedIn();
    await submitForm('console-e2e');
    await page.getByText('More options').click();
    // The journal's path marks the pod as this test's, so cleanup finds and ends it.
    await page.getByLabel('Environment').fill(`JOURNAL=${cluster().journal('console-e2e')}\nNOTE=${XSS}`);
    await page.getByRole('button', { name: 'Submit workload' }).click();
    await page.waitForURL(/#\/workloads\/[^/]+$/);
    await page.getByRole('heading', { name: 'console-e2e' }).waitFor();
    await page
      .getByRole('status', { name: 'Phase' })
      .filter({ hasText: 'Running' })
      .waitFor({ timeout: 20_000 });
    const pod = page.getByRole('table', { name: 'Pods' }).getByRole('row').filter({ hasText: 'n1' });
    await pod.filter({ hasText: 'Running' }).waitFor();
    await page
      .getByRole('table', { name: 'Events' })
      .getByRole('row')
      .filter({ hasText: 'Initializing' })
      .first()
      .waitFor();
    // API text is shown as text: the markup in the env value is visible and never ran.
    await page.getByText(`NOTE=${XSS}`).waitFor();
    expect(await page.evaluate('window.__pwned === undefined')).toBe(true);
    // The pod's output, read again on the page's poll: the test pod's readiness line.
    await page
      .getByRole('region', { name: 'Logs' })
      .getByLabel('Pod output')
      .filter({ hasText: 'READY pid=' })
      .waitFor({ timeout: 5_000 });
    await snap(page, '06-workload-running');
    // The overview counts it and shows its GPU allocated on the node.
    await page.getByRole('navigation').getByRole('link', { name: 'Overview' }).click();
    await page
      .getByRole('list', { name: 'Workloads by phase' })
      .getByRole('link', { name: /Running\s*1/ })
      .waitFor();
    const node = page.getByRole('table', { name: 'Nodes' }).getByRole('row').filter({ hasText: 'n1' });
    await node.filter({ hasText: '1 / 2' }).waitFor();
    await snap(page, '07-overview-running');
  });

  it("shows each project's deserved quota, fair share and allocation as GET /shares gives them", async () => {
    const api = cluster().api;
    await running('console-e2e');
    await api.createProject('vision', 1, 2);
    await loggedIn();
    const row = (name: string) =>
      page.getByRole('table', { name: 'Projects' }).getByRole('row').filter({ hasText: name }).first();
    await page.getByRole('navigation').getByRole('link', { name: 'Projects' }).click();
    // Once a cycle has seen vision, the page shows it as the route does (at its next poll).
    type Share = { queue: string; nodePool: string; deserved: number; fairShare: number; allocated: number };
    let shares: Share[] = [];
    await expect
      .poll(async () => {
        shares = (await api.expect(200, 'GET', '/shares')) as Share[];
        return shares.some((x) => x.queue === 'vision');
      })
      .toBe(true);
    const gpus = (n: number) => String(Math.round(n * 1000) / 1000);
    for (const project of [cluster().defaultProject, 'vision']) {
      const s = shares.find((x) => x.queue === project && x.nodePool === 'default');
      expect(s, project).toBeDefined();
      // Project, department, pool, deserved, limit, weight, fair share, allocated.
      const cells = row(project).getByRole('cell');
      const shown = () => Promise.all([3, 6, 7].map(async (i) => (await cells.nth(i).textContent()) ?? ''));
      await expect
        .poll(shown, { timeout: 5_000 })
        .toEqual([s?.deserved, s?.fairShare, s?.allocated].map((n) => gpus(n ?? -1)));
    }
    // The running workload's GPU is the default project's; vision deserves 1 and holds none.
    expect(shares.find((x) => x.queue === cluster().defaultProject)?.allocated).toBe(1);
    expect(shares.find((x) => x.queue === 'vision')).toMatchObject({ deserved: 1, allocated: 0 });
    await snap(page, '07b-projects-running');
  });

  it('lists the workload, and filters by phase, on the workloads page', async () => {
    await running('console-e2e');
    await loggedIn();
    await page.getByRole('navigation').getByRole('link', { name: 'Workloads' }).click();
    const table = page.getByRole('table', { name: 'Workloads' });
    const row = table.getByRole('row').filter({ hasText: 'console-e2e' });
    await row.filter({ hasText: 'Running' }).waitFor();
    await page.getByLabel('Phase').selectOption('Stopped');
    await table.getByText('No workloads match these filters.').waitFor();
    expect(page.url()).toMatch(/phase=Stopped/);
    await page.getByLabel('Phase').selectOption('Running');
    await row.waitFor();
    await snap(page, '08-workloads');
  });

  it('stops the workload with the Stop button', async () => {
    const id = await running('console-e2e');
    await loggedIn();
    await page.getByRole('navigation').getByRole('link', { name: 'Workloads' }).click();
    await page.getByRole('table', { name: 'Workloads' }).getByRole('link', { name: 'console-e2e' }).click();
    await page.waitForURL(`${cluster().url}/#/workloads/${encodeURIComponent(id)}`);
    await page.getByRole('button', { name: 'Stop' }).click();
    await page
      .getByRole('status', { name: 'Phase' })
      .filter({ hasText: 'Stopped' })
      .waitFor({ timeout: 15_000 });
    expect(await page.getByRole('button', { name: 'Run' }).isEnabled()).toBe(true);
    expect(await page.getByRole('button', { name: 'Stop' }).isDisabled()).toBe(true);
    // Stopped is the user's intent, stored at once; the pod ends after, and the page follows it.
    const pod = page.getByRole('table', { name: 'Pods' }).getByRole('row').filter({ hasText: 'n1' });
    await pod.filter({ hasText: /Stopped|Succeeded|Failed/ }).waitFor({ timeout: 15_000 });
    await snap(page, '09-workload-stopped');
  });

  it('deletes the stopped workload after a second, confirming click', async () => {
    const api = cluster().api;
    const id = await running('console-e2e');
    await api.expect(200, 'POST', `/workloads/${encodeURIComponent(id)}/stop`);
    await api.waitPhase(id, 'Stopped');
    await loggedIn();
    await page.goto(`${cluster().url}/#/workloads/${encodeURIComponent(id)}`);
    await page.getByRole('status', { name: 'Phase' }).filter({ hasText: 'Stopped' }).waitFor();
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('button', { name: 'Yes, delete' }).click();
    await page.waitForURL(/#\/workloads$/);
    await page.getByRole('status').filter({ hasText: 'Deleted workload console-e2e.' }).waitFor();
    await page.getByRole('table', { name: 'Workloads' }).getByText('No workloads yet.').waitFor();
  });

  it("says why a workload has no output yet, and shows a pod's output as text", async () => {
    const api = cluster().api;
    await loggedIn();
    const open = async (id: string) => {
      await page.goto(`${cluster().url}/#/workloads/${encodeURIComponent(id)}`);
      return page.getByRole('region', { name: 'Logs' });
    };
    // More GPUs than the node has: Pending with no pod on a node, which is no error of the page.
    const waits = await api.submit({
      name: 'console-waits',
      project: cluster().defaultProject,
      type: 'training',
      command: podCommand(),
      env: { JOURNAL: cluster().journal('console-waits') },
      resources: { gpuDevices: 3 },
      // Never placed, so never started: the page only has to show it.
      image: 'nvcr.io/nvidia/pytorch:24.05-py3',
      workingDir: '/workspace',
    });
    const logs = await open(waits.id);
    await page.getByRole('status', { name: 'Phase' }).filter({ hasText: 'Pending' }).waitFor();
    await page.getByText('nvcr.io/nvidia/pytorch:24.05-py3', { exact: true }).waitFor();
    await page.getByText('(pull IfNotPresent)').waitFor();
    await logs.getByText('No output yet: no pod of this workload has run on a node.').waitFor();
    expect(await page.getByRole('alert').filter({ visible: true }).count()).toBe(0);
    await snap(page, '09a-workload-pending-logs');
    // Two pods printing markup and their own id: shown as the text they printed, which never runs,
    // the first pod's by default and the other's once picked.
    const printer = await api.submit({
      name: 'console-prints',
      project: cluster().defaultProject,
      type: 'distributed',
      replicas: 2,
      command: [process.execPath, '-e', PRINTS_MARKUP],
      env: { JOURNAL: cluster().journal('console-prints') },
      resources: {},
    });
    const output = (await open(printer.id)).getByLabel('Pod output');
    await output
      .filter({ hasText: LOG_XSS })
      .filter({ hasText: '_console-prints-0' })
      .waitFor({ timeout: 20_000 });
    expect(await output.locator('script, b').count()).toBe(0);
    expect(await page.evaluate('window.__pwned === undefined')).toBe(true);
    await page.getByLabel('Pod', { exact: true }).selectOption('console-prints-1');
    await output.filter({ hasText: '_console-prints-1' }).waitFor();
    await snap(page, '09b-workload-logs');
  });

  it('takes a token from the address once and removes it from the URL', async () => {
    const tab = await page.context().newPage();
    try {
      await tab.goto(`${cluster().url}/#token=${encodeURIComponent(cluster().adminToken)}`);
      await tab.getByRole('heading', { name: 'Overview' }).waitFor();
      expect(tab.url()).not.toContain('token');
    } finally {
      await tab.close();
    }
  });

  it('shows a viewer the overview without nodes, saying why', async () => {
    const api = cluster().api;
    await api.expect(201, 'POST', '/users', { name: 'viewer1' });
    await api.expect(201, 'POST', '/access-rules', {
      subject: 'viewer1',
      role: 'viewer',
      scope: `project/${cluster().defaultProject}`,
    });
    const made = (await api.expect(201, 'POST', '/tokens', { kind: 'user', user: 'viewer1' })) as {
      token: string;
    };
    const tab = await page.context().newPage();
    try {
      await tab.goto(`${cluster().url}/#token=${encodeURIComponent(made.token)}`);
      await tab.getByText('You may not see nodes').waitFor();
      await tab.getByText('viewer1').waitFor();
      await snap(tab, '10-overview-viewer');
    } finally {
      await tab.close();
    }
  });

  it('sends the user back to log in when the token stops working, and logs out', async () => {
    await loggedIn();
    await page.getByRole('navigation').getByRole('link', { name: 'Projects' }).click();
    await page.getByRole('heading', { name: 'Projects and quotas' }).waitFor();
    // Strings, not functions: the test is compiled without the DOM's types.
    await page.evaluate("sessionStorage.setItem('tessera.token', 'tu.0000.revoked')");
    const before = page.url();
    await page.reload();
    await page.waitForURL(/#\/login$/);
    await page.getByText('Your token was refused').waitFor();
    await page.getByLabel('API token').fill(cluster().adminToken);
    await page.getByRole('button', { name: 'Log in' }).click();
    // Back where the user was sent away from.
    await page.waitForURL(before);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/#\/login$/);
    expect(await page.evaluate("sessionStorage.getItem('tessera.token')")).toBeNull();
  });

  /** A token of a new user `name` holding `role` on `scope`. */
  const userWith = async (name: string, role: string, scope: string): Promise<string> => {
    const api = cluster().api;
    await api.expect(201, 'POST', '/users', { name });
    await api.expect(201, 'POST', '/access-rules', { subject: name, role, scope });
    return ((await api.expect(201, 'POST', '/tokens', { kind: 'user', user: name })) as { token: string })
      .token;
  };

  /** The cordoned flag of node n1 as the API has it. */
  const cordoned = async (): Promise<boolean> =>
    ((await cluster().api.expect(200, 'GET', '/nodes/n1')) as { cordoned: boolean }).cordoned;

  it('lets an admin cordon and uncordon a node from the nodes page', async () => {
    await loggedIn();
    await page.getByRole('navigation').getByRole('link', { name: 'Nodes', exact: true }).click();
    await page.getByRole('heading', { name: 'Nodes', level: 1 }).waitFor();
    const row = page.getByRole('table', { name: 'Nodes' }).getByRole('row').filter({ hasText: 'n1' });
    await row.filter({ hasText: 'ready' }).waitFor();
    try {
      await row.getByRole('button', { name: 'Cordon' }).click();
      await row.filter({ hasText: 'cordoned' }).waitFor();
      expect(await cordoned()).toBe(true);
      await page.getByRole('status').filter({ hasText: 'Cordoned node n1.' }).waitFor();
      await snap(page, '12-nodes-cordoned');
      await row.getByRole('button', { name: 'Uncordon' }).click();
      await row.filter({ hasText: 'ready' }).waitFor();
      expect(await cordoned()).toBe(false);
    } finally {
      await cluster().api.expect(200, 'PATCH', '/nodes/n1', { cordoned: false });
    }
  });

  it('asks before draining a node and sends the drain the API defines', async () => {
    // The page's side of the contract: POST /nodes/:name/drain with {force: false} after a second
    // click. The route is answered here, so the test holds whichever allocator serves the page.
    const asked: { method: string; body: unknown }[] = [];
    await page.route('**/api/v1/nodes/n1/drain', async (route) => {
      asked.push({ method: route.request().method(), body: route.request().postDataJSON() });
      await route.fulfill({
        status: 200,
        contentType: 'application/json',
        body: '{"node":"n1","evicted":[]}',
      });
    });
    await loggedIn();
    await page.goto(`${cluster().url}/#/nodes/n1`);
    await page.getByRole('heading', { name: /^n1/ }).waitFor();
    await page.getByRole('button', { name: 'Drain' }).click();
    expect(asked).toEqual([]);
    await page.getByText(/Drain n1\? It is cordoned/).waitFor();
    await page.getByRole('button', { name: 'Yes, drain' }).click();
    await page.getByRole('status').filter({ hasText: 'Draining node n1.' }).waitFor();
    expect(asked).toEqual([{ method: 'POST', body: { force: false } }]);
  });

  it("lets an admin edit a department's quota, and marks the field the API refuses", async () => {
    const api = cluster().api;
    await api.expect(201, 'POST', '/departments', { name: 'console-dept' });
    try {
      await loggedIn();
      await page.getByRole('navigation').getByRole('link', { name: 'Projects' }).click();
      await page
        .getByRole('table', { name: 'Departments' })
        .getByRole('link', { name: 'console-dept' })
        .click();
      await page.getByRole('heading', { name: 'Department console-dept' }).waitFor();
      await page.getByRole('button', { name: 'Edit quotas' }).click();
      const editor = page.getByRole('form', { name: 'Quotas of department console-dept' });
      await editor.getByRole('button', { name: 'Add a node pool' }).click();
      await editor.getByLabel('Deserved GPUs').fill('2');
      await editor.getByLabel('Limit in GPUs').fill('1');
      await editor.getByRole('button', { name: 'Save quotas' }).click();
      // A limit below the quota: the API's words, and the limit marked.
      await page.getByRole('alert').filter({ hasText: 'quotas.0.limit' }).waitFor();
      expect(await editor.getByLabel('Limit in GPUs').getAttribute('aria-invalid')).toBe('true');
      await editor.getByLabel('Limit in GPUs').fill('');
      await editor.getByRole('button', { name: 'Save quotas' }).click();
      await page
        .getByRole('status')
        .filter({ hasText: 'Saved the quotas of department console-dept.' })
        .waitFor();
      await expect.poll(() => editor.count()).toBe(0);
      const quotas = page.getByRole('table', { name: 'Quotas' });
      // Pool, deserved, limit, weight, fair share, allocated.
      await quotas
        .getByRole('row')
        .filter({ hasText: 'default' })
        .getByRole('cell')
        .nth(1)
        .filter({ hasText: /^2$/ })
        .waitFor();
      const stored = (await api.expect(200, 'GET', '/departments/console-dept')) as {
        quotas: { nodePool: string; gpu: number; limit: number }[];
      };
      expect(stored.quotas).toMatchObject([{ nodePool: 'default', gpu: 2, limit: -1 }]);
      await snap(page, '13-department-quota');
    } finally {
      await api.request('DELETE', '/departments/console-dept');
    }
  });

  it('plots GPU allocation and utilization over time for a node, a node pool and a project', async () => {
    await running('console-e2e');
    await loggedIn();
    /** The samples a plot's label counts, once its newest shows `newest`. */
    const plotted = async (name: RegExp) => {
      const plot = page.getByRole('img', { name });
      await plot.waitFor({ timeout: 15_000 });
      const label = (await plot.getAttribute('aria-label')) ?? '';
      const lines = await plot
        .locator('polyline')
        .evaluateAll((els) => els.map((e) => (e.getAttribute('points') ?? '').trim().split(/\s+/).length));
      return { samples: Number(/(\d+) samples/.exec(label)?.[1] ?? 0), longest: Math.max(0, ...lines) };
    };
    await page.goto(`${cluster().url}/#/nodes/n1`);
    // Samples come every 200 ms and the page asks again every 2 s: several points, the newest with the GPU held.
    await expect
      .poll(
        async () =>
          (await plotted(/GPUs allocated to node n1 over time: \d+ samples, newest 1 of 2/)).longest,
        {
          timeout: 15_000,
        },
      )
      .toBeGreaterThan(1);
    const util = await plotted(/GPU utilization of node n1 over time/);
    expect(util.samples).toBeGreaterThan(1);
    await snap(page, '14-node-usage');
    await page.goto(`${cluster().url}/#/nodepools/default`);
    expect(
      (await plotted(/GPUs allocated to node pool default over time: \d+ samples, newest 1 of 2/)).samples,
    ).toBeGreaterThan(0);
    await page.goto(`${cluster().url}/#/projects/${cluster().defaultProject}`);
    const project = new RegExp(
      `GPUs allocated to project ${cluster().defaultProject} over time: \\d+ samples, newest 1 of`,
    );
    expect((await plotted(project)).samples).toBeGreaterThan(0);
    await snap(page, '15-project-usage');
  });

  it('shows a department-admin nodes without admin actions, and quota editing only where it may', async () => {
    const api = cluster().api;
    const projects = (await api.expect(200, 'GET', '/projects')) as { name: string; department: string }[];
    const department = projects.find((p) => p.name === cluster().defaultProject)?.department ?? '';
    const token = await userWith('dadmin1', 'department-admin', `department/${department}`);
    await loggedIn(token);
    await page.getByRole('navigation').getByRole('link', { name: 'Nodes', exact: true }).click();
    const row = page.getByRole('table', { name: 'Nodes' }).getByRole('row').filter({ hasText: 'n1' });
    await row.waitFor();
    expect(await page.getByRole('button', { name: /Cordon|Drain/ }).count()).toBe(0);
    await page.goto(`${cluster().url}/#/nodes/n1`);
    await page.getByRole('table', { name: 'GPUs' }).waitFor();
    expect(await page.getByRole('button', { name: /Cordon|Drain|Delete/ }).count()).toBe(0);
    // Its projects' quotas are its to split; its department's own quota is the cluster's.
    await page.goto(`${cluster().url}/#/projects/${cluster().defaultProject}`);
    await page.getByRole('button', { name: 'Edit quotas' }).waitFor();
    await page.goto(`${cluster().url}/#/departments/${department}`);
    await page.getByRole('table', { name: 'Projects of the department' }).waitFor();
    await page.getByRole('form', { name: 'New project' }).waitFor();
    expect(await page.getByRole('button', { name: 'Edit quotas' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Delete department' }).count()).toBe(0);
    await page.getByRole('navigation').getByRole('link', { name: 'Access' }).click();
    await page.getByRole('form', { name: 'Grant a role' }).waitFor();
    expect(await page.getByRole('form', { name: 'New user' }).count()).toBe(0);
    await snap(page, '16-access-department-admin');
  });

  it('shows a viewer no node pages and no actions at all', async () => {
    const token = await userWith('viewer2', 'viewer', `project/${cluster().defaultProject}`);
    await loggedIn(token);
    const nav = page.getByRole('navigation');
    await nav.getByRole('link', { name: 'Policies' }).waitFor();
    expect(await nav.getByRole('link', { name: 'Nodes', exact: true }).count()).toBe(0);
    expect(await nav.getByRole('link', { name: 'Node pools' }).count()).toBe(0);
    await page.goto(`${cluster().url}/#/nodes`);
    await page.getByText('You may not see nodes').waitFor();
    await page.goto(`${cluster().url}/#/projects/${cluster().defaultProject}`);
    await page.getByRole('table', { name: 'Quotas' }).waitFor();
    // Its usage is the viewer's to see; changing it is not.
    await page
      .getByRole('img', { name: /GPUs allocated to project/ })
      .or(page.getByText('No samples of this project yet'))
      .first()
      .waitFor();
    expect(await page.getByRole('button', { name: /Edit quotas|Delete project/ }).count()).toBe(0);
    await page.getByRole('navigation').getByRole('link', { name: 'Projects' }).click();
    await page.getByRole('table', { name: 'Projects' }).waitFor();
    expect(await page.getByRole('form', { name: 'New department' }).count()).toBe(0);
    await page.getByRole('navigation').getByRole('link', { name: 'Policies' }).click();
    await page.getByRole('table', { name: 'Policies' }).waitFor();
    expect(await page.getByRole('form', { name: /Set / }).count()).toBe(0);
    await page.getByRole('navigation').getByRole('link', { name: 'Access' }).click();
    await page.getByText(`viewer on project/${cluster().defaultProject}`).waitFor();
    expect(await page.getByRole('form').count()).toBe(0);
    expect(await page.getByRole('button', { name: /Revoke|Delete/ }).count()).toBe(0);
    await snap(page, '17-access-viewer');
  });

  it('lets an admin create, change and delete a node pool, whose page plots it', async () => {
    const api = cluster().api;
    await loggedIn();
    await page.getByRole('navigation').getByRole('link', { name: 'Node pools' }).click();
    const form = page.getByRole('form', { name: 'New node pool' });
    await form.getByLabel('Name').fill('console-pool');
    await form.getByLabel('Label selector').fill('tier=gold, zone=a');
    await form.getByLabel('GPU placement').selectOption('spread');
    await form.getByRole('button', { name: 'Create node pool' }).click();
    const row = page
      .getByRole('table', { name: 'Node pools' })
      .getByRole('row')
      .filter({ hasText: 'console-pool' });
    try {
      await row.filter({ hasText: 'tier=gold, zone=a' }).filter({ hasText: 'spread' }).waitFor();
      await row.getByRole('link', { name: 'console-pool' }).click();
      await page.getByRole('heading', { name: 'Node pool console-pool' }).waitFor();
      // No node carries its labels: sampled at zero GPUs of zero.
      await page
        .getByRole('img', {
          name: /GPUs allocated to node pool console-pool over time: \d+ samples, newest 0 of 0/,
        })
        .waitFor();
      const change = page.getByRole('form', { name: 'Change node pool console-pool' });
      await change.getByLabel('Label selector').fill('tier=gold');
      await change.getByRole('button', { name: 'Save node pool' }).click();
      await page.getByRole('status').filter({ hasText: 'Saved node pool console-pool.' }).waitFor();
      expect(await api.expect(200, 'GET', '/nodepools/console-pool')).toMatchObject({
        selector: { tier: 'gold' },
        placement: { gpu: 'spread' },
      });
      await snap(page, '18-nodepool');
      await page.getByRole('button', { name: 'Delete node pool' }).click();
      await page.getByRole('button', { name: 'Yes, delete' }).click();
      await page.waitForURL(/#\/nodepools$/);
      await page.getByRole('status').filter({ hasText: 'Deleted node pool console-pool.' }).waitFor();
      expect((await api.request('GET', '/nodepools/console-pool')).status).toBe(404);
    } finally {
      await api.request('DELETE', '/nodepools/console-pool');
    }
  });

  it("lets an admin set a project's scheduling rules, shows the API's refusal, and deletes them", async () => {
    const api = cluster().api;
    const scope = `project:${cluster().defaultProject}`;
    await loggedIn();
    await page.getByRole('navigation').getByRole('link', { name: 'Policies' }).click();
    const form = page.getByRole('form', { name: 'Set scheduling rules' });
    await form.getByLabel('Scope').fill(scope);
    await form.getByLabel('Workload type').selectOption('training');
    await form.getByLabel('Document (JSON)').fill('{"maxRuntimeSeconds": 0}');
    await form.getByRole('button', { name: 'Save scheduling rules' }).click();
    await page.getByRole('alert').filter({ hasText: 'maxRuntimeSeconds' }).waitFor();
    await form.getByLabel('Document (JSON)').fill('{"maxRuntimeSeconds": 3600}');
    await form.getByRole('button', { name: 'Save scheduling rules' }).click();
    const row = page
      .getByRole('table', { name: 'Scheduling rules' })
      .getByRole('row')
      .filter({ hasText: scope });
    try {
      await row.filter({ hasText: '"maxRuntimeSeconds": 3600' }).waitFor();
      expect(await api.expect(200, 'GET', `/rules/${scope}/training`)).toMatchObject({
        maxRuntimeSeconds: 3600,
      });
      await snap(page, '19-policies');
      await row.getByRole('button', { name: 'Delete' }).click();
      await row.getByRole('button', { name: 'Yes, delete' }).click();
      await page
        .getByRole('table', { name: 'Scheduling rules' })
        .getByText('No scheduling rules set where you may see.')
        .waitFor();
    } finally {
      await api.request('DELETE', `/rules/${scope}/training`);
    }
  });

  it('keeps the last data and says so when a poll fails', async () => {
    await page.goto(`${cluster().url}/#token=${encodeURIComponent(cluster().adminToken)}`);
    const row = page.getByRole('table', { name: 'Nodes' }).getByRole('row').filter({ hasText: 'n1' });
    await row.waitFor();
    await cluster().alloc?.kill();
    try {
      await page.getByRole('status').filter({ hasText: 'Could not refresh' }).waitFor();
      await row.waitFor();
      await snap(page, '11-poll-failed');
    } finally {
      // Back on its port, so the agent links again and the tests after this one have a cluster.
      await cluster().startAllocator({ port: cluster().port, ...ALLOCATOR_FLAGS });
      await cluster().waitNodes(['n1']);
    }
  }, 60_000);
});
