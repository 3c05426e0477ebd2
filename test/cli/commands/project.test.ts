import { describe, expect, it } from 'vitest';
import type { ProjectView, ShareView } from '../../../cli/client/views.ts';
import { projectTable } from '../../../cli/commands/project.ts';

const T = Date.parse('2026-11-29T12:00:00Z');
const project = (name: string, quotas: ProjectView['quotas']): ProjectView => ({
  name,
  department: 'research',
  createdAt: new Date(T - 7_200_000).toISOString(),
  quotas,
});
const quota = (nodePool: string, gpu: number): ProjectView['quotas'][number] => ({
  nodePool,
  gpu,
  overQuotaWeight: 1,
  limit: -1,
  cpuMillis: 0,
  memoryMiB: 0,
  limitCpuMillis: -1,
  limitMemoryMiB: -1,
});
const share = (queue: string, nodePool: string, fairShare: number, allocated: number): ShareView => ({
  queue,
  kind: 'project',
  department: 'research',
  nodePool,
  deserved: 0,
  fairShare,
  allocated,
  limit: -1,
  overQuotaWeight: 1,
});

describe('projectTable', () => {
  it('without shares, shows quotas only', () => {
    const out = projectTable([project('vision', [quota('a100', 4)])], T);
    expect(out).not.toContain('FAIR SHARE');
    expect(out).toMatch(/vision\s+research\s+a100\s+4\s+1\s+none\s+2h/);
  });

  it("adds each pool's fair share and allocation, and a pool it holds GPUs in without a quota", () => {
    const out = projectTable([project('vision', [quota('a100', 4)]), project('nlp', [])], T, [
      share('vision', 'a100', 5.333, 5),
      share('vision', 'h100', 1, 1),
      share('vision', 'l4', 0, 0),
      share('research', 'a100', 9, 9),
    ]);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/LIMIT\s+FAIR SHARE\s+ALLOCATED\s+AGE/);
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(/vision\s+research\s+a100\s+4\s+1\s+none\s+5\.33\s+5\s+2h/);
    expect(lines[2]).toMatch(/vision\s+research\s+h100\s+0\s+-\s+none\s+1\s+1\s+2h/);
    // No quota, nothing held or owed anywhere: one row of zeros; the department row is not a project's.
    expect(lines[3]).toMatch(/nlp\s+research\s+-\s+0\s+-\s+none\s+0\s+0\s+2h/);
  });
});
