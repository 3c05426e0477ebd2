/**
 * Reading SQL text without a parser: whether a statement writes, and PostgreSQL's `$n` placeholders
 * for the `?` and `@name` ones the repositories write. Quoted strings, quoted identifiers and
 * comments are skipped, so a `?` or `@` inside them stays as it is.
 */

/** True when `sql` is an INSERT, UPDATE, DELETE or REPLACE (what a fence guards). */
export function isWrite(sql: string): boolean {
  return /^\s*(INSERT|UPDATE|DELETE|REPLACE)\b/i.test(sql);
}

/** `sql` with `$n` placeholders, and how to turn the caller's parameters into `$1..$n`. */
export interface NumberedSql {
  text: string;
  /** Names in `$n` order for `@name` statements; null for positional `?` ones. */
  names: string[] | null;
  /** How many `?` there were (positional) or distinct names (named). */
  count: number;
}

/** Translates `?` (in order) and `@name` (each name one number, however often it appears) to `$n`. */
export function numberParams(sql: string): NumberedSql {
  let out = '';
  let positional = 0;
  const names: string[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i] as string;
    const skipTo = skipEnd(sql, i);
    if (skipTo > i) {
      out += sql.slice(i, skipTo);
      i = skipTo;
    } else if (c === '?') {
      positional++;
      out += `$${positional}`;
      i++;
    } else if (c === '@' && /[A-Za-z_]/.test(sql[i + 1] ?? '')) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i + 1)) as RegExpExecArray;
      const name = m[0];
      let at = names.indexOf(name);
      if (at < 0) at = names.push(name) - 1;
      out += `$${at + 1}`;
      i += 1 + name.length;
    } else {
      out += c;
      i++;
    }
  }
  if (positional > 0 && names.length > 0) throw new Error(`statement mixes ? and @name parameters: ${sql}`);
  return { text: out, names: names.length > 0 ? names : null, count: positional + names.length };
}

/** Where a quoted string, quoted identifier or comment starting at `i` ends; `i` when none starts there. */
function skipEnd(sql: string, i: number): number {
  const c = sql[i];
  if (c === "'" || c === '"') {
    let j = i + 1;
    for (;;) {
      const k = sql.indexOf(c, j);
      if (k < 0) return sql.length;
      // A doubled quote is an escaped one, inside the same literal.
      if (sql[k + 1] === c) j = k + 2;
      else return k + 1;
    }
  }
  if (c === '-' && sql[i + 1] === '-') {
    const k = sql.indexOf('\n', i);
    return k < 0 ? sql.length : k;
  }
  if (c === '/' && sql[i + 1] === '*') {
    const k = sql.indexOf('*/', i + 2);
    return k < 0 ? sql.length : k + 2;
  }
  return i;
}

/** The `$1..$n` values of a call made with `params` (positional values, or one object of named ones). */
export function paramValues(numbered: NumberedSql, params: readonly unknown[]): unknown[] {
  if (numbered.names === null) return params.map((p) => (p === undefined ? null : p));
  const bag = params[0];
  if (params.length !== 1 || typeof bag !== 'object' || bag === null)
    throw new Error(`statement takes named parameters (${numbered.names.join(', ')}); pass one object`);
  const record = bag as Record<string, unknown>;
  return numbered.names.map((n) => {
    if (!(n in record)) throw new Error(`missing named parameter @${n}`);
    return record[n] ?? null;
  });
}
