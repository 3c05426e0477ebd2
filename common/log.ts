/**
 * The one structured logger of both daemons: one JSON object per line (`time`, `level`, `msg`, then
 * fields) written to a stream the caller provides, so daemons log to stderr and tests to an array.
 * It is pino underneath, so libraries that log through pino (fastify) write the same lines to the
 * same stream at the same level.
 */
import { type Logger as PinoLogger, pino } from 'pino';
import { err, ok, type Result, tesseraError } from './errors.ts';
import { type DefaultsOf, withDefaults } from './options.ts';

/** Log levels, least severe first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Every level, least severe first. */
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** Keys every line owns; a field with the same name is written as `<name>_` rather than overwriting. */
const RESERVED = new Set(['time', 'level', 'msg']);

/** Anything with a `write(string)`: `process.stderr`, a file stream, or a test collector. */
export interface LogSink {
  write(line: string): unknown;
}

/** Extra structured data on a line. */
export type LogFields = Readonly<Record<string, unknown>>;

/** Options for `createLogger`. */
export interface LoggerOptions {
  stream: LogSink;
  /** Lines below this level are dropped. Default `info`. */
  level?: LogLevel;
  /** Fields on every line (e.g. `{ component: 'link' }`); default none. */
  fields?: LogFields;
  /** Epoch milliseconds; injected so tests get stable times. Default `Date.now`. */
  now?: () => number;
}

/** The defaults of `LoggerOptions`, as its fields document them. */
const LOGGER_DEFAULTS = {
  level: 'info',
  fields: {},
  now: Date.now,
} as const satisfies DefaultsOf<LoggerOptions>;

/** A structured logger. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line, sharing stream, level and clock. */
  child(fields: LogFields): Logger;
  /** The least severe level written: lines below it are dropped. */
  readonly level: LogLevel;
  /** True when a line at `level` would be written; guards costly field building. */
  isEnabled(level: LogLevel): boolean;
  /** The pino instance behind it (with its fields bound), for a library that takes one: fastify. */
  readonly pino: PinoLogger;
}

/** Parses a level name (e.g. from `--log-level`), refusing unknown ones with the accepted list. */
export function parseLogLevel(s: string): Result<LogLevel> {
  const level = LOG_LEVELS.find((l) => l === s.trim().toLowerCase());
  if (level !== undefined) return ok(level);
  return err(
    tesseraError(
      'TESSERA_E_INVALID_CONFIG',
      `invalid log level ${JSON.stringify(s)}; accepted: ${LOG_LEVELS.join(', ')}`,
      {
        field: 'logLevel',
        context: { input: s },
      },
    ),
  );
}

/** Creates a JSON-lines logger writing to `options.stream`. */
export function createLogger(given: LoggerOptions): Logger {
  const options = withDefaults(given, LOGGER_DEFAULTS);
  const { now } = options;
  const root = pino(
    {
      level: options.level,
      base: null,
      messageKey: 'msg',
      // Level names, not pino's numbers: the lines are read by people and by `grep '"level":"error"'`.
      formatters: { level: (label) => ({ level: label }), bindings: plainFields, log: plainFields },
      timestamp: () => `,"time":"${new Date(now()).toISOString()}"`,
      // plainFields already made every Error plain; pino's own would rename `name` to `type`.
      serializers: { err: (e: unknown) => e },
    },
    options.stream,
  );
  return wrap(root, options.fields);
}

function wrap(root: PinoLogger, fields: LogFields): Logger {
  const p = Object.keys(fields).length === 0 ? root : root.child(fields);
  const at =
    (level: LogLevel) =>
    (msg: string, extra?: LogFields): void => {
      if (extra === undefined) p[level](msg);
      else p[level](extra, msg);
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    // Bound on the root with all fields merged, so a child's `component` replaces its parent's
    // rather than appearing twice on the line.
    child: (more) => wrap(root, { ...fields, ...more }),
    get level() {
      return p.level as LogLevel;
    },
    isEnabled: (level) => p.isLevelEnabled(level),
    pino: p,
  };
}

/**
 * Fields as JSON can carry them: a field named like a key the line owns is written as `<name>_`,
 * an Error keeps its name, message, stack and cause (JSON.stringify drops them, they are not
 * enumerable), a bigint becomes a string, and a cycle becomes `'[Circular]'` instead of a throw.
 * Only plain objects and arrays are walked: anything else (a request) is left to pino's serializers.
 */
function plainFields(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const ancestors = new Set<object>();
  for (const [key, value] of Object.entries(fields))
    out[RESERVED.has(key) ? `${key}_` : key] = plain(value, ancestors);
  return out;
}

function plain(value: unknown, ancestors: Set<object>): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object' || value === null) return value;
  const isError = value instanceof Error;
  if (!isError && !Array.isArray(value) && !isPlainObject(value)) return value;
  if (ancestors.has(value)) return '[Circular]';
  ancestors.add(value);
  let out: unknown;
  if (Array.isArray(value)) out = value.map((v) => plain(v, ancestors));
  else {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) o[k] = plain(v, ancestors);
    if (isError) {
      o.name = value.name;
      o.message = value.message;
      if (value.stack !== undefined) o.stack = value.stack;
      if (value.cause !== undefined) o.cause = plain(value.cause, ancestors);
    }
    out = o;
  }
  ancestors.delete(value);
  return out;
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
