/**
 * The console's admin pages and usage plots end to end, by role: an admin cordons and drains a
 * node, edits a department's quota, manages a node pool and a project's scheduling rules, and sees
 * GPU allocation and utilization plotted over time; a department-admin and a viewer see only what
 * they may do. Registered inside console.e2e.test.ts's describe, on its cluster and browser: one
 * cluster per file keeps a loaded 2-core machine from starting two at once. Screenshots land in
 * test-artifacts/console/.
 */
import type { Page } from 'playwright-core';
import { beforeEach, expect, it } from 'vitest';
import { snap } from './browser.ts';
import type { ConsoleFixture } from './console-fixture.ts';

/** Registers the admin pages' tests in the calling describe. */
export function adminPageTests(fx: ConsoleFixture): void {
  const { cluster, loggedIn, running, userWith } = fx;
  let page: Page;
  beforeEach(() => {
    page = fx.page();
  });

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
}
