/**
 * What a command loads at start stays small: the packages reachable through static imports from
 * the client commands and from the agent (`import type` does not count: it is erased). The agent is
 * a resident daemon whose loaded code stays in its memory (agent/README.md, "Memory"); a client
 * command pays for every module at each start (README "Install", the CLI start-up figures).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

/** The bare package names `entry` reaches through static, non-type imports of relative modules. */
function packagesFrom(entry: string): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const todo = [join(ROOT, entry)];
  // `import x from 'p'`, `import { a } from 'p'`, `export { a } from 'p'`, `import 'p'`; not `import type`.
  const ref = /^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s*)?'([^']+)'/gm;
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(ref)) {
      const spec = m[1] ?? '';
      if (spec.startsWith('node:')) continue;
      if (!spec.startsWith('.')) {
        packages.add(
          spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] ?? ''),
        );
        continue;
      }
      const target = resolve(dirname(file), spec);
      if (existsSync(target) && /\.(ts|mjs|js)$/.test(target)) todo.push(target);
    }
  }
  return packages;
}

describe('start-up imports', () => {
  it('the client commands load neither the server (fastify) nor a database driver', () => {
    for (const command of ['list', 'describe', 'submit', 'top', 'logs']) {
      const pkgs = packagesFrom(`cli/commands/${command}.ts`);
      expect(pkgs.size, command).toBeGreaterThan(0);
      for (const heavy of ['fastify', 'better-sqlite3', 'pg', 'ws'])
        expect([...pkgs], `tessera ${command} imports ${heavy}`).not.toContain(heavy);
    }
  });

  it('the agent loads no server, database or system-information library', () => {
    const pkgs = packagesFrom('cli/commands/agent.ts');
    expect(pkgs).toContain('prom-client');
    for (const heavy of ['fastify', 'better-sqlite3', 'pg', 'systeminformation'])
      expect([...pkgs], `tessera agent imports ${heavy}`).not.toContain(heavy);
  });
});
