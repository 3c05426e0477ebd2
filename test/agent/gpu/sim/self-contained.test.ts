/**
 * The fake tools' folder is bind-mounted alone into containers (a containerised sim workload runs
 * /sim/workload.mjs), so its plain-JS files may import only node's modules and each other.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SIM_DIR = join(import.meta.dirname, '..', '..', '..', '..', 'agent', 'gpu', 'sim');

describe('sim tools', () => {
  it('import nothing from outside their own folder', () => {
    const outside: string[] = [];
    for (const name of readdirSync(SIM_DIR).filter((n) => n.endsWith('.mjs'))) {
      const text = readFileSync(join(SIM_DIR, name), 'utf8');
      for (const m of text.matchAll(/\bfrom\s+['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]/g)) {
        const spec = m[1] ?? m[2] ?? '';
        if (!spec.startsWith('node:') && !/^\.\/[^/]+$/.test(spec)) outside.push(`${name}: ${spec}`);
      }
    }
    expect(outside).toEqual([]);
  });
});
