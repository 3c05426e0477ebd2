/**
 * SQL lives in allocator/store and nowhere else in the product: the API, the link, the lifecycle and
 * the service call the store's typed functions. A second backend (PostgreSQL) then replaces one
 * folder, and a reader looking for a query finds it in the repository named for what it holds.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..', '..');
/** The product's source folders: everything that ships, not tests or benchmarks. */
const SOURCES = ['allocator', 'agent', 'cli', 'common', 'sim'];
const STORE = join('allocator', 'store') + sep;

/** What SQL looks like in TypeScript: a better-sqlite3 call, or a string that starts a statement. */
const SQL_SIGNS: readonly { name: string; pattern: RegExp }[] = [
  { name: 'a prepared statement', pattern: /\.prepare\(/ },
  { name: 'a pragma', pattern: /\.pragma\(/ },
  // Outside the store a transaction is store/db.ts inTransaction, the one place a backend changes it.
  { name: "the driver's transaction", pattern: /\bdb\.transaction\(/ },
  // `/regex/.exec(s)` is fine; `db.exec(...)` and `.exec('CREATE ...')` run SQL.
  { name: 'an SQL script', pattern: /\bdb\.exec\(|\.exec\(\s*['"`]/ },
  {
    name: 'an SQL string',
    pattern:
      /['"`]\s*(SELECT\s|INSERT\s+(OR\s+\w+\s+)?INTO\b|UPDATE\s+\w+\s+SET\b|DELETE\s+FROM\b|CREATE\s+(TABLE|(UNIQUE\s+)?INDEX)\b|ALTER\s+TABLE\b|DROP\s+(TABLE|INDEX)\b|PRAGMA\s)/,
  },
];

function tsFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) tsFiles(full, out);
    else if (name.endsWith('.ts')) out.push(full);
  }
  return out;
}

/** `file:line: sign` for each line of `files` that shows a sign of SQL. */
function sqlLines(files: readonly string[]): string[] {
  const hits: string[] = [];
  for (const file of files) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        for (const sign of SQL_SIGNS)
          if (sign.pattern.test(line)) hits.push(`${relative(ROOT, file)}:${i + 1}: ${sign.name}`);
      });
  }
  return hits;
}

const product = SOURCES.flatMap((s) => tsFiles(join(ROOT, s)));

describe('SQL stays in allocator/store', () => {
  it('no product file outside allocator/store prepares, runs or spells SQL', () => {
    const outside = product.filter((f) => !relative(ROOT, f).startsWith(STORE));
    expect(sqlLines(outside)).toEqual([]);
  });

  it('the signs find the SQL the store does hold, so the check above is not vacuous', () => {
    const store = product.filter((f) => relative(ROOT, f).startsWith(STORE));
    const found = new Set(sqlLines(store).map((h) => h.slice(h.lastIndexOf(': ') + 2)));
    expect([...found].sort()).toEqual([
      'a pragma',
      'a prepared statement',
      'an SQL script',
      'an SQL string',
      "the driver's transaction",
    ]);
  });
});
