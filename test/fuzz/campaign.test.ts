import { describe, expect, it } from 'vitest';
import { routeInputs } from '../../fuzz/bodies.ts';
import { runCampaign } from '../../fuzz/campaign.ts';
import { formatReport } from '../../fuzz/report.ts';
import { API_ROUTE_KEYS, ROUTES } from '../../fuzz/routes.ts';

const noFixtures = {
  departments: [],
  projects: [],
  pools: [],
  workloadIds: [],
  users: [],
  nodes: [],
  tokenIds: [],
  ruleIds: [],
};

describe('the fuzzer', () => {
  it('names only routes that exist in its per-route bodies', () => {
    const keys = new Set(ROUTES.map((r) => r.key));
    expect(Object.keys(routeInputs(noFixtures)).filter((k) => !keys.has(k))).toEqual([]);
  });

  it('a fixed-seed slice: no crash, no 5xx, no hang, no error logged, every route hit, and the cluster still schedules', async () => {
    const report = await runCampaign({ inputs: 2000, seed: 42 });
    const text = formatReport(report);
    expect(report.inputs, text).toBeGreaterThanOrEqual(2000);
    expect(report.crashed, text).toBe(false);
    expect(report.byClass['5xx'], text).toBe(0);
    expect(report.serverErrors, text).toEqual([]);
    expect(report.byClass.hang + report.wsHangs, text).toBe(0);
    expect(report.errorLogLines, text).toBe(0);
    expect(report.stillSchedules, text).toMatchObject({ ok: true });
    // Every route of the permission table was sent something, and so were the agents' link.
    expect(
      API_ROUTE_KEYS.filter((k) => report.byRoute[k] === undefined),
      text,
    ).toEqual([]);
    expect(report.frames, text).toBeGreaterThan(100);
    expect(report.upgrades['101'] ?? 0, text).toBeGreaterThan(0);
  }, 90_000);
});
