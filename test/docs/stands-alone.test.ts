/**
 * The repository stands alone: a clone with nothing beside it has everything its product, tests and
 * benchmarks read, and its docs and comments point only at files inside it. Design notes that once
 * lived beside the checkout are in docs/, and every path docs/architecture.md names exists.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
/** Folders that are built, installed or written at run time, not part of the repository. */
const SKIP = new Set([
  '.git',
  'node_modules',
  'dist',
  'coverage',
  'test-artifacts',
  'tessera-data',
  '.device-node',
]);
const TEXT = /\.(ts|mts|mjs|js|json|md|proto|sh|yaml|yml|tpl|service|env|txt|css|html)$|^(Dockerfile|run)$/;
/** What a file outside the repository would be reached by (built from parts so this file is clean). */
const OUTSIDE = ['..', 'shared'].join('/');
const CITATION = new RegExp(`\\b${'ARCHI'}TECTURE\\b|\\b[Ii]${'ss'}ue #?\\d|\\bSTYLE\\b`);

function files(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name)) continue;
    const full = join(dir, name);
    if (statSync(full).isDirectory()) files(full, out);
    else if (TEXT.test(name)) out.push(full);
  }
  return out;
}

const all = files(ROOT).filter((f) => !f.includes(`${join('test', 'fixtures')}`));

describe('the repository stands alone', () => {
  it(`has no file that reads or cites ${OUTSIDE}`, () => {
    const hits = all.filter((f) => readFileSync(f, 'utf8').includes(OUTSIDE)).map((f) => relative(ROOT, f));
    expect(hits).toEqual([]);
  });

  it('cites no issue number and no design document outside docs/ in code or comments', () => {
    const code = all.filter((f) => /\.(ts|mts|mjs|js|proto)$/.test(f));
    expect(code.length).toBeGreaterThan(300);
    const hits = code.flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .flatMap((line, i) => (CITATION.test(line) ? [`${relative(ROOT, f)}:${i + 1}: ${line.trim()}`] : [])),
    );
    expect(hits).toEqual([]);
  });

  it('names only paths that exist in docs/architecture.md', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'architecture.md'), 'utf8');
    // Backticked repository paths: a top folder of ours, then a path with at least one slash or dot.
    const tops = readdirSync(ROOT).filter((n) => !SKIP.has(n) && statSync(join(ROOT, n)).isDirectory());
    const named = [...doc.matchAll(/`([a-z][\w./-]*\/[\w./-]*)`/g)]
      .map((m) => m[1] as string)
      .filter((p) => tops.includes(p.split('/')[0] as string) && !p.includes('<'));
    expect(named.length).toBeGreaterThan(10);
    expect(named.filter((p) => !existsSync(join(ROOT, p)))).toEqual([]);
  });
});
