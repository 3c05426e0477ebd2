/**
 * A tiny structured logger: one JSON object per line (`time`, `level`, `msg`, then fields) written
 * to a stream the caller provides, so daemons log to stderr and tests to an array. No dependencies.
 */
import { err, ok, type Result, tesseraError } from './errors.ts';

/** Log levels, least severe first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Every level, least severe first. */
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

const SEVERITY: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

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
  /** Fields on every line (e.g. `{ component: 'link' }`). */
  fields?: LogFields;
  /** Epoch milliseconds; injected so tests get stable times. Default `Date.now`. */
  now?: () => number;
}

/** A structured logger. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line, sharing stream, level and clock. */
  child(fields: LogFields): Logger;
  /** True when a line at `level` would be written; guards costly field building. */
  isEnabled(level: LogLevel): boolean;
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
export function createLogger(options: LoggerOptions): Logger {
  const threshold = SEVERITY[options.level ?? 'info'];
  const now = options.now ?? Date.now;
  const base = options.fields ?? {};

  const isEnabled = (level: LogLevel): boolean => SEVERITY[level] >= threshold;
  const write = (level: LogLevel, msg: string, fields: LogFields | undefined): void => {
    if (!isEnabled(level)) return;
    const line: Record<string, unknown> = { time: new Date(now()).toISOString(), level, msg };
    for (const source of [base, fields ?? {}]) {
      for (const [key, value] of Object.entries(source)) line[RESERVED.has(key) ? `${key}_` : key] = value;
    }
    options.stream.write(`${serialise(line)}\n`);
  };

  return {
    debug: (msg, fields) => write('debug', msg, fields),
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
    child: (fields) => createLogger({ ...options, fields: { ...base, ...fields } }),
    isEnabled,
  };
}

/** JSON.stringify drops an Error's message and stack (they are not enumerable); keep them. */
function plain(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const out: Record<string, unknown> = { ...value, name: value.name, message: value.message };
    if (value.stack !== undefined) out.stack = value.stack;
    if (value.cause !== undefined) out.cause = value.cause;
    return out;
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/** Serialises a line; a circular field must not throw out of a log call, so it is replaced. */
function serialise(line: Record<string, unknown>): string {
  try {
    return JSON.stringify(line, plain);
  } catch {
    const seen = new WeakSet<object>();
    return JSON.stringify(line, (key, value: unknown) => {
      // Track the original value: `plain` returns a fresh object for an Error each time.
      if (typeof value === 'object' && value !== null) {
        if (seen.has(value)) return '[Circular]';
        seen.add(value);
      }
      return plain(key, value);
    });
  }
}
