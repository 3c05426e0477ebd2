/**
 * The README's "Metrics reference" table is the truth: every metric the allocator and the agent
 * register, with its type and label names, is a row, and every row is a registered metric. Adding a
 * metric (or a label) without documenting it fails here, naming it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { createAgentMetrics } from '../../agent/metrics.ts';
import { createAllocatorMetrics } from '../../allocator/metrics.ts';
import { openDb } from '../../allocator/store/db.ts';

type Exporter = 'allocator' | 'agent';

/** One metric as registered or as documented. */
interface MetricRow {
  name: string;
  type: string;
  labels: string[];
  exporter: Exporter;
}

const README = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'tessera-metrics-ref-'));
const db = openDb({ dataDir: dir });
afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The label names a prom-client metric was declared with (the instance's `labelNames`, untyped in its d.ts). */
function labelNamesOf(metric: object): string[] {
  const names: unknown = 'labelNames' in metric ? metric.labelNames : undefined;
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string'))
    throw new Error(
      'prom-client metric without a labelNames array: the test needs another way to read labels',
    );
  return [...names].sort();
}

/** Every metric in `registry`: name, type and declared label names; checked against the labels its series carry. */
async function registered(registry: Registry, exporter: Exporter): Promise<MetricRow[]> {
  const json = await registry.getMetricsAsJSON(); // runs every collect(), so scrape-time series exist
  return registry.getMetricsAsArray().map((metric) => {
    const labels = labelNamesOf(metric);
    const j = json.find((m) => m.name === metric.name);
    if (j === undefined) throw new Error(`${metric.name} missing from getMetricsAsJSON()`);
    // The declared names must be the ones the series use (le is the histogram's bucket bound).
    for (const v of j.values)
      for (const l of Object.keys(v.labels))
        if (l !== 'le') expect(labels, `${metric.name} series label ${l}`).toContain(l);
    return { name: metric.name, type: String(j.type), labels, exporter };
  });
}

async function allocatorRows(): Promise<MetricRow[]> {
  // A variable, not a literal: the sources may grow without this test having to name each one.
  const sources = { db, connectedAgents: () => 1, shares: () => [] };
  return registered(createAllocatorMetrics(sources).registry, 'allocator');
}

async function agentRows(): Promise<MetricRow[]> {
  const m = createAgentMetrics({
    workloads: () => [
      { project: 'ml', workload: 'train', memoryUsedMiB: 1, utilizationRatio: 0.5, gpusAllocated: 1 },
    ],
    idleSeconds: () => [{ project: 'ml', workload: 'train', seconds: 3 }],
  });
  m.update({
    gpus: [
      {
        uuid: 'GPU-a',
        index: 0,
        model: 'H100',
        utilizationPct: 50,
        memoryUsedMiB: 1,
        memoryTotalMiB: 2,
        temperatureC: 40,
        powerDrawW: 100,
      },
    ],
    podMemory: [{ podId: 'train-0', gpuUuid: 'GPU-a', usedMiB: 1 }],
    oomKills: 1,
    reclaimKills: 1,
    reclaimSwaps: 1,
    swapsOut: 1,
    swapsIn: 1,
    swapRefusals: 1,
    slicePauses: 1,
    swapPoolUsedMiB: 1,
    swapPoolCapacityMiB: 2,
  });
  return registered(m.registry, 'agent');
}

/** The rows of the table under "## Metrics reference": `| \`name\` | type | \`a\`, \`b\` or - | meaning | exporter |`. */
function documented(readme: string): MetricRow[] {
  const start = readme.indexOf('\n## Metrics reference\n');
  if (start < 0) throw new Error('README has no "## Metrics reference" section');
  const next = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, next < 0 ? undefined : next);
  const rows = section
    .split('\n')
    .filter((l) => l.startsWith('| `tessera_'))
    .map((line) => {
      const cells = line
        .slice(1, -1)
        .split('|')
        .map((c) => c.trim());
      if (cells.length !== 5) throw new Error(`metrics table row needs 5 cells: ${line}`);
      const [name, type, labels, , exporter] = cells as [string, string, string, string, string];
      if (exporter !== 'allocator' && exporter !== 'agent')
        throw new Error(`exporter must be allocator or agent: ${line}`);
      return {
        name: name.replace(/`/g, ''),
        type,
        labels:
          labels === '-'
            ? []
            : labels
                .split(',')
                .map((l) => l.trim().replace(/`/g, ''))
                .sort(),
        exporter,
      } satisfies MetricRow;
    });
  if (rows.length === 0) throw new Error('the Metrics reference section has no table rows');
  return rows;
}

const key = (r: MetricRow) => `${r.exporter} ${r.name} ${r.type} {${r.labels.join(',')}}`;

describe('README metrics reference', () => {
  it('lists exactly the metrics the allocator and the agent register, with their types and labels', async () => {
    const actual = new Set([...(await allocatorRows()), ...(await agentRows())].map(key));
    const docs = new Set(documented(README).map(key));
    const undocumented = [...actual].filter((k) => !docs.has(k)).sort();
    const stale = [...docs].filter((k) => !actual.has(k)).sort();
    expect(
      { undocumented, stale },
      'undocumented: registered but not in the README table (or with another type / labels); stale: in the table but not registered',
    ).toEqual({ undocumented: [], stale: [] });
  });

  it('documents each metric once', () => {
    const names = documented(README).map((r) => `${r.exporter} ${r.name}`);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });
});
