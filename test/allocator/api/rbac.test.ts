/** The pure permission core: every role on every kind of scope against every action and target. */
import { describe, expect, it } from 'vitest';
import {
  CLUSTER,
  can,
  covers,
  type Grant,
  neededGrant,
  parseScopeName,
  type Scope,
  scopeName,
  type Verb,
} from '../../../allocator/identity/rbac.ts';

const d1: Scope = { kind: 'department', department: 'd1' };
const d2: Scope = { kind: 'department', department: 'd2' };
const p1: Scope = { kind: 'project', project: 'p1', department: 'd1' };
const p1b: Scope = { kind: 'project', project: 'p1b', department: 'd1' };
const p2: Scope = { kind: 'project', project: 'p2', department: 'd2' };
const TARGETS = { cluster: CLUSTER, d1, d2, p1, p1b, p2 } as const;
type TargetName = keyof typeof TARGETS;

const GRANTEES: Record<string, Grant[]> = {
  'admin@cluster': [{ role: 'admin', scope: CLUSTER }],
  'department-admin@d1': [{ role: 'department-admin', scope: d1 }],
  'researcher@p1': [{ role: 'researcher', scope: p1 }],
  'researcher@d1': [{ role: 'researcher', scope: d1 }],
  'viewer@p1': [{ role: 'viewer', scope: p1 }],
  'viewer@cluster': [{ role: 'viewer', scope: CLUSTER }],
  nobody: [],
};

/** For each grantee and action, the targets allowed; every other target is refused. */
const ALLOWED: Record<string, Partial<Record<Verb, TargetName[]>>> = {
  'admin@cluster': {
    read: ['cluster', 'd1', 'd2', 'p1', 'p1b', 'p2'],
    'read-nodes': ['cluster', 'd1', 'd2', 'p1', 'p1b', 'p2'],
    'read-policy': ['cluster', 'd1', 'd2', 'p1', 'p1b', 'p2'],
    'write-workload': ['cluster', 'd1', 'd2', 'p1', 'p1b', 'p2'],
    'manage-project': ['cluster', 'd1', 'd2', 'p1', 'p1b', 'p2'],
    'manage-department': ['cluster', 'd1', 'd2', 'p1', 'p1b', 'p2'],
    'manage-cluster': ['cluster', 'd1', 'd2', 'p1', 'p1b', 'p2'],
  },
  'department-admin@d1': {
    read: ['d1', 'p1', 'p1b'],
    'read-nodes': ['cluster', 'd1', 'd2', 'p1', 'p1b', 'p2'],
    'read-policy': ['cluster', 'd1', 'p1', 'p1b'],
    'write-workload': ['d1', 'p1', 'p1b'],
    'manage-project': ['d1', 'p1', 'p1b'],
    'manage-department': ['d1', 'p1', 'p1b'],
  },
  'researcher@p1': {
    read: ['p1'],
    'read-policy': ['cluster', 'd1', 'p1'],
    'write-workload': ['p1'],
  },
  'researcher@d1': {
    read: ['d1', 'p1', 'p1b'],
    'read-policy': ['cluster', 'd1', 'p1', 'p1b'],
    'write-workload': ['d1', 'p1', 'p1b'],
  },
  'viewer@p1': { read: ['p1'], 'read-policy': ['cluster', 'd1', 'p1'] },
  'viewer@cluster': {
    read: ['cluster', 'd1', 'd2', 'p1', 'p1b', 'p2'],
    'read-nodes': ['cluster', 'd1', 'd2', 'p1', 'p1b', 'p2'],
    'read-policy': ['cluster', 'd1', 'd2', 'p1', 'p1b', 'p2'],
  },
  nobody: {},
};

const VERBS: Verb[] = [
  'read',
  'read-nodes',
  'read-policy',
  'write-workload',
  'manage-project',
  'manage-department',
  'manage-cluster',
];

describe('can: role x scope x action x target', () => {
  const cases = Object.entries(GRANTEES).flatMap(([who, grants]) =>
    VERBS.flatMap((action) =>
      (Object.keys(TARGETS) as TargetName[]).map((t) => ({
        who,
        grants,
        action,
        t,
        allowed: ALLOWED[who]?.[action]?.includes(t) ?? false,
      })),
    ),
  );
  it.each(cases)('$who $action $t -> $allowed', ({ grants, action, t, allowed }) => {
    expect(can(grants, action, TARGETS[t])).toBe(allowed);
  });
});

describe('scopes', () => {
  it('a department covers its projects, never another department or a project elsewhere', () => {
    expect(covers(d1, p1)).toBe(true);
    expect(covers(d1, p2)).toBe(false);
    expect(covers(d1, CLUSTER)).toBe(false);
    expect(covers(p1, d1)).toBe(false);
  });

  it('a project whose department is unknown is covered only by its own name or the cluster', () => {
    const orphan: Scope = { kind: 'project', project: 'p9', department: null };
    expect(can([{ role: 'admin', scope: d1 }], 'write-workload', orphan)).toBe(false);
    expect(can([{ role: 'researcher', scope: CLUSTER }], 'write-workload', orphan)).toBe(true);
  });

  it('a department-admin never manages its own department from outside: quotas are manage-cluster', () => {
    expect(can(GRANTEES['department-admin@d1'] ?? [], 'manage-cluster', d1)).toBe(false);
  });

  it('writes and parses the three scope forms', () => {
    expect(scopeName(p1)).toBe('project/p1');
    expect(parseScopeName('department/d1')).toEqual({ kind: 'department', name: 'd1' });
    expect(parseScopeName('cluster')).toEqual({ kind: 'cluster' });
    for (const bad of ['project/', 'team/x', 'project/a/b', 'Cluster'])
      expect(parseScopeName(bad)).toBeNull();
  });

  it('names the weakest role to ask for, a project managed from its department', () => {
    expect(neededGrant('manage-project', p2)).toEqual({ role: 'department-admin', scope: 'department/d2' });
    expect(neededGrant('write-workload', p2)).toEqual({ role: 'researcher', scope: 'project/p2' });
    expect(neededGrant('manage-cluster', d1)).toEqual({ role: 'admin', scope: 'cluster' });
  });
});
