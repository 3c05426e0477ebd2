/**
 * The web console end to end: a real allocator and sim agent (test/integration/harness.ts),
 * the console loaded from the allocator into headless Chromium and used as a person would, by label
 * and role: log in, see the node, the projects, submit, watch Running, stop. Each page's screenshot
 * lands in test-artifacts/console/. The cluster and browser are shared (console-fixture.ts); each
 * test has a page of its own and makes what it needs, and what it made is deleted after it, so any
 * one runs alone or in any order. The admin pages and plots are console-admin.ts's, run here.
 */
import type { Page } from 'playwright-core';
import { beforeEach, describe, expect, it } from 'vitest';
import { podCommand } from '../integration/harness.ts';
import { CHROMIUM_MISSING, findChromium, snap } from './browser.ts';
import { adminPageTests } from './console-admin.ts';
import { ALLOCATOR_FLAGS, useConsole } from './console-fixture.ts';

const chromiumPath = findChromium();
if (chromiumPath === null) console.warn(CHROMIUM_MISSING);

/** Markup in a value the API hands back; it must reach the page as text. */
const XSS = '<img src=x onerror="window.__pwned=1">';
/** Markup a pod prints; its output must reach the page as text too. */
const LOG_XSS = '<script>window.__pwned=2</script><b>bold?</b>';
/** A pod's program: prints LOG_XSS and its own wire id, then runs until stopped. */
const PRINTS_MARKUP = `process.stdout.write(${JSON.stringify(LOG_XSS)} + '\\nI am ' + process.env.TESSERA_POD_ID + '\\n');
setInterval(() => {}, 1000);`;

/** A command line the form splits back into `podCommand()`'s words. */
const quoted = (words: string[]): string => words.map((w) => JSON.stringify(w)).join(' ');

describe.skipIf(chromiumPath === null).sequential('web console in headless Chromium', () => {
  const fx = useConsole(chromiumPath ?? '');
  const { cluster, loggedIn, running } = fx;
  let page: Page;
  beforeEach(() => {
    page = fx.page();
  });

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

  adminPageTests(fx);

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
