/**
 * The product's modules form no import cycle: each folder builds on the ones below it, so a module can
 * be read, tested and moved with only what it imports. A value cycle also makes ESM start-up order
 * matter (a `const` read before its module ran is a TDZ error that only some entry points hit).
 *
 * Type-only imports count too. They are erased and run nothing, so a type loop is harmless at run
 * time, but it is the same tangle for a reader: neither file can be understood or moved without the
 * other, and the next value import along it makes it a real loop. Every loop found so far was broken
 * by moving the shared type down, which was always the better layering.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
/** The folders that ship: everything a user runs. Tests, benchmarks and scripts may import anything. */
const PRODUCT = ['agent', 'allocator', 'cli', 'common', 'sim', 'web'];
const SOURCE = /\.(ts|mts|mjs)$/;

function files(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue;
    const full = join(dir, name);
    if (statSync(full).isDirectory()) files(full, out);
    else if (SOURCE.test(name) && !name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

/** The relative modules `text` imports or re-exports, type-only ones included; side-effect imports too. */
function relativeImports(text: string): string[] {
  const out: string[] = [];
  // Statements are read whole: a braced list may span lines.
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s*['"](\.{1,2}\/[^'"]+)['"]/gms))
    out.push(m[1] as string);
  for (const m of text.matchAll(/^\s*import\s*['"](\.{1,2}\/[^'"]+)['"]/gm)) out.push(m[1] as string);
  return out;
}

/** The cycles a depth-first walk meets (one per back edge; at least one when any exists), each once. */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const found = new Map<string, string[]>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') {
        const loop = stack.slice(stack.indexOf(next));
        // Rotated to start at its smallest file, so one loop found from two places counts once.
        const first = loop.indexOf([...loop].sort()[0] as string);
        const canonical = [...loop.slice(first), ...loop.slice(0, first)];
        found.set(canonical.join(' -> '), canonical);
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return [...found.values()];
}

describe('import cycles', () => {
  it('reads imports and re-exports, type-only and multi-line ones included', () => {
    const text = [
      "import { a, type B } from './a.ts';",
      "import type { C } from './c.ts';",
      "import { type D } from './d.ts';",
      "export { e } from './e.ts';",
      "export type { F } from './f.ts';",
      "import {\n  g,\n  h,\n} from '../g.ts';",
      "import './side.mjs';",
      "import { z } from 'zod';",
    ].join('\n');
    expect(relativeImports(text).sort()).toEqual([
      '../g.ts',
      './a.ts',
      './c.ts',
      './d.ts',
      './e.ts',
      './f.ts',
      './side.mjs',
    ]);
  });

  it('has no cycle among the product folders', () => {
    const all = PRODUCT.flatMap((dir) => files(join(ROOT, dir)));
    expect(all.length).toBeGreaterThan(200);
    const graph = new Map<string, string[]>();
    for (const file of all) {
      const targets = relativeImports(readFileSync(file, 'utf8')).map((spec) =>
        relative(ROOT, resolve(dirname(file), spec)),
      );
      graph.set(relative(ROOT, file), targets);
    }
    const loops = cycles(graph).map((loop) => [...loop, loop[0]].join(' -> '));
    expect(loops).toEqual([]);
  });
});
