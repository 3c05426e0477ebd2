/**
 * The agent's durable JSON records (runner checkpoint, swap pool record): written so that a crash or
 * power loss leaves either the old file or the new one, and read back validated, a corrupt file moved
 * aside for a human rather than thrown over or silently overwritten.
 */
import type { z } from 'zod';
import { type AtomicFs, nodeFs, writeJsonAtomicSync } from '../common/atomic-file.mjs';
import { err, ok, type Result, type TesseraError, tesseraError } from '../common/errors.ts';
import { type DefaultsOf, withDefaults } from '../common/options.ts';

/** The file operations a durable write needs; injected so a test can see the fsyncs happen in order. */
export type DurableFs = AtomicFs;

function ioError(what: string, path: string, op: string, e: unknown): Result<never> {
  const why = e instanceof Error ? e.message : String(e);
  return err(
    tesseraError('TESSERA_E_INTERNAL', `${what} ${path}: ${op} failed: ${why}`, {
      context: { path },
    }),
  );
}

/**
 * Replaces `path` with `value` as one line of JSON, durably (`writeFileAtomicSync` with `durable`:
 * temp file, fsync it, rename over the old one, fsync the directory), readable by its owner only.
 * `what` names the file in errors ("runner checkpoint").
 */
export function writeJsonDurable(
  path: string,
  value: unknown,
  what: string,
  io: DurableFs = nodeFs,
): Result<void> {
  try {
    writeJsonAtomicSync(path, value, { mode: 0o600, durable: true, io });
  } catch (e) {
    const dirSync = typeof e === 'object' && e !== null && 'dirSync' in e;
    return ioError(what, path, dirSync ? 'fsync of its directory' : 'write', e);
  }
  return ok(undefined);
}

/** How `readJsonRecord` names the file and what a corrupt one means for the caller. */
export interface ReadJsonRecordOptions {
  /** Names the file in errors ("runner checkpoint"). */
  what: string;
  /** Appended to the corrupt-file message, punctuation included: what was lost and what to do. */
  consequence: string;
  /** Stamps the `.corrupt-<ms>` name; default `Date.now`. */
  now?: () => number;
  /** The file operations; default the real ones (`nodeFs`). */
  io?: DurableFs;
  /** Looks at the parsed JSON before the schema does; an error it returns is the answer, the file left in place. Default none. */
  refuse?: (raw: unknown) => TesseraError | null;
}

/** The defaults of `ReadJsonRecordOptions`, as its fields document them. */
const READ_JSON_RECORD_DEFAULTS = {
  now: Date.now,
  io: nodeFs,
} as const satisfies DefaultsOf<ReadJsonRecordOptions>;

/**
 * Reads `path` validated by `schema`: null when there is no file. A file that is not valid JSON or not
 * the schema's shape is moved aside to `<path>.corrupt-<ms>` (kept for a human to read) and reported
 * as an error naming both files; it never throws.
 */
export function readJsonRecord<T>(
  path: string,
  schema: z.ZodType<T>,
  given: ReadJsonRecordOptions,
): Result<T | null> {
  const opts = withDefaults(given, READ_JSON_RECORD_DEFAULTS);
  const { io } = opts;
  let text: string;
  try {
    text = io.readFileSync(path, 'utf8');
  } catch (e) {
    if (typeof e === 'object' && e !== null && 'code' in e && e.code === 'ENOENT') return ok(null);
    return ioError(opts.what, path, 'read', e);
  }
  let why: string;
  try {
    const raw: unknown = JSON.parse(text);
    const refused = opts.refuse?.(raw) ?? null;
    if (refused !== null) return err(refused);
    const parsed = schema.safeParse(raw);
    if (parsed.success) return ok(parsed.data);
    const issue = parsed.error.issues[0];
    why =
      issue === undefined
        ? 'invalid shape'
        : `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`;
  } catch (e) {
    why = `not valid JSON (${e instanceof Error ? e.message : String(e)})`;
  }
  const aside = `${path}.corrupt-${opts.now()}`;
  let moved = true;
  try {
    io.renameSync(path, aside);
  } catch {
    moved = false;
  }
  const where = moved ? `moved aside to ${aside}` : 'could not be moved aside';
  return err(
    tesseraError(
      'TESSERA_E_INTERNAL',
      `${opts.what} ${path} is corrupt (${why}); ${where}${opts.consequence}`,
      { context: { path, aside: moved ? aside : '' } },
    ),
  );
}
