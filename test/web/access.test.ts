/**
 * web/access.js is a copy of allocator/identity/rbac.ts's `can` for the browser (which cannot load
 * the TypeScript). It must answer as the original on every role, verb and pair of scopes, or the
 * console would offer actions the API refuses, or hide ones it allows.
 */
import { describe, expect, it } from 'vitest';
import { can, type Grant, parseScopeName, ROLES, type Scope, VERBS } from '../../allocator/identity/rbac.ts';

interface ConsoleAccess {
  ROLES: string[];
  VERBS: string[];
  can: (grants: readonly Grant[], verb: string, target: Scope) => boolean;
  grantsOf: (rules: { role: string; scope: string }[], departmentOf: (p: string) => string | null) => Grant[];
  scopeOf: (written: string, departmentOf: (p: string) => string | null) => Scope | null;
}

/** The console's access.js, loaded as Node loads any ES module (it touches no DOM). */
async function consoleAccess(): Promise<ConsoleAccess> {
  const url = new URL('../../web/access.js', import.meta.url).href;
  return (await import(/* @vite-ignore */ url)) as ConsoleAccess;
}

const SCOPES: Scope[] = [
  { kind: 'cluster' },
  { kind: 'department', department: 'd1' },
  { kind: 'department', department: 'd2' },
  { kind: 'project', project: 'p1', department: 'd1' },
  { kind: 'project', project: 'p1b', department: 'd1' },
  { kind: 'project', project: 'p2', department: 'd2' },
  { kind: 'project', project: 'new', department: null },
];

describe('web/access.js', () => {
  it('knows the same roles and verbs', async () => {
    const a = await consoleAccess();
    expect(a.ROLES).toEqual([...ROLES]);
    expect(a.VERBS).toEqual([...VERBS]);
  });

  it('answers as rbac.ts for every role on every scope, verb and target', async () => {
    const a = await consoleAccess();
    const differ: string[] = [];
    for (const role of ROLES)
      for (const scope of SCOPES)
        for (const verb of VERBS)
          for (const target of SCOPES) {
            const grants: Grant[] = [{ role, scope }];
            if (a.can(grants, verb, target) !== can(grants, verb, target))
              differ.push(`${role}@${JSON.stringify(scope)} ${verb} ${JSON.stringify(target)}`);
          }
    expect(differ).toEqual([]);
  });

  it('answers as rbac.ts for two grants together', async () => {
    const a = await consoleAccess();
    const grants: Grant[] = [
      { role: 'viewer', scope: { kind: 'project', project: 'p2', department: 'd2' } },
      { role: 'department-admin', scope: { kind: 'department', department: 'd1' } },
    ];
    for (const verb of VERBS)
      for (const target of SCOPES) expect(a.can(grants, verb, target)).toBe(can(grants, verb, target));
  });

  it("reads /whoami's rules as the API writes scopes, and grants nothing for one it does not know", async () => {
    const a = await consoleAccess();
    const departmentOf = (p: string) => (p === 'p1' ? 'd1' : null);
    for (const written of ['cluster', 'department/d1', 'project/p1', 'project/x', 'team/a', 'project/a/b'])
      expect(a.scopeOf(written, departmentOf) === null, written).toBe(parseScopeName(written) === null);
    expect(
      a.grantsOf(
        [
          { role: 'researcher', scope: 'project/p1' },
          { role: 'owner', scope: 'cluster' },
          { role: 'viewer', scope: 'nowhere' },
        ],
        departmentOf,
      ),
    ).toEqual([{ role: 'researcher', scope: { kind: 'project', project: 'p1', department: 'd1' } }]);
  });
});
