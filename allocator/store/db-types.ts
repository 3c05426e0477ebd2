/**
 * The store's handle as its repositories see it, apart from how either backend opens (store/db.ts):
 * the backends and the migrations import this, db.ts imports them, so no import loops back.
 */
/** Which SQL a backend speaks; repositories ask it only where one text cannot serve both (store/dialect.ts). */
export type Dialect = 'sqlite' | 'postgres';

/**
 * A prepared statement. Parameters are positional (`?`) or one object for `@name`, as better-sqlite3
 * takes them; PostgreSQL's statements are translated to `$n` underneath.
 */
export interface Statement {
  /** The first row, or undefined when there is none. */
  get(...params: unknown[]): unknown;
  /** Every row. */
  all(...params: unknown[]): unknown[];
  /** Runs a write; `changes` is the number of rows it wrote. */
  run(...params: unknown[]): { changes: number };
}

/**
 * A statement that must change a row for a write to count (HA: the leader's lease row at its own
 * epoch). While a fence is set, every top-level transaction and every write outside one runs it
 * first, in the same transaction; when it changes no row the transaction is rolled back and a
 * `FencedError` thrown, so a deposed leader's late writes are refused by the database itself.
 */
export interface Fence {
  sql: string;
  params: readonly unknown[];
}

/** The store's handle, on either backend. */
export interface Db {
  readonly dialect: Dialect;
  /** What it is, for messages: SQLite's file, or PostgreSQL's URL without its password. */
  readonly name: string;
  /** False once closed. */
  readonly open: boolean;
  prepare(sql: string): Statement;
  /** Runs a script of statements without parameters (migrations). */
  exec(sql: string): void;
  close(): void;
  /** Sets (or, with null, clears) the fence every transaction and lone write runs first. */
  setFence(fence: Fence | null): void;
  /** Runs `fn` in one transaction, a savepoint when nested; call `inTransaction` rather than this. */
  transaction<T>(fn: () => T): T;
}

/** A LIMIT that limits nothing, in both dialects (SQLite's -1 is an error in PostgreSQL). */
export const NO_LIMIT = Number.MAX_SAFE_INTEGER;
