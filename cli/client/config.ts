/**
 * Where the client commands find the allocator, their token and the CA they trust. The order is that
 * of docs/architecture.md §8 (flags, env, `~/.config/tessera/config.json`, which `common/config.ts`
 * resolves) plus one more source at the end: the data dir of a `tessera up` started here, whose
 * `allocator.json` names the URL and its CA file and whose `admin-token` holds the token, so
 * `tessera up` then `tessera list` just works.
 *
 * `resolveClientConfig` is pure apart from the `readFile` it is handed; `readFileIfExists` is the real one.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { defaultConfigPath, loadConfig } from '../../common/config.ts';
import { err, ok, type Result, tesseraError } from '../../common/errors.ts';
import { checkCaPem, type TrustedCa, unreadableCa } from '../../common/tls-files.ts';

/**
 * `tessera up`'s default data dir: allocator/store/db.ts's DEFAULT_DATA_DIR, written out here because
 * importing that module would load SQLite into every client command.
 */
export const DEFAULT_DATA_DIR = './tessera-data';

/** The flags every client command takes. */
export interface ClientFlags {
  url?: string | undefined;
  token?: string | undefined;
  /** The CA file to trust (`--ca`). */
  ca?: string | undefined;
  /** The `tessera up` data dir to look in last (default `./tessera-data`, or TESSERA_DATA). */
  data?: string | undefined;
}

/** Reads a UTF-8 file; `undefined` when it does not exist, a throw for any other failure. */
export type ReadFile = (path: string) => Promise<string | undefined>;

/** Where the allocator is and how to prove who we are. */
export interface ClientConfig {
  /** Base URL without a trailing slash. */
  url: string;
  /** Bearer token; undefined sends none (the allocator then answers 401 with how to get one). */
  token: string | undefined;
  /** Where the URL came from, for messages such as "is tessera up still running?". */
  urlFrom: string;
  /** The CA an https:// allocator's certificate must chain to; none: the system's CAs. */
  ca?: TrustedCa | undefined;
}

// `tessera up` writes more keys than these; unknown ones are ignored so an older CLI still reads it.
const AllocatorFile = z.looseObject({
  url: z.string().min(1),
  pid: z.number().int().optional(),
  ca: z.string().min(1).optional(),
});

/** The message for "no source names an allocator", which says every way to name one. */
export const NO_ALLOCATOR =
  'no allocator: pass --url, set TESSERA_URL, or run tessera up (its ./tessera-data/allocator.json is found from here)';

/** Resolves url and token: flags, env, config file, then a local `tessera up` data dir. */
export async function resolveClientConfig(
  flags: ClientFlags,
  env: Readonly<Record<string, string | undefined>>,
  readFile: ReadFile,
  home: string = homedir(),
): Promise<Result<ClientConfig>> {
  const configPath = nonEmpty(env.TESSERA_CONFIG) ?? defaultConfigPath(home);
  const fileText = await readSafely(readFile, configPath);
  if (!fileText.ok) return fileText;
  const file = parseJson(fileText.value, configPath);
  if (!file.ok) return file;

  const config = loadConfig({
    flags: { url: flags.url, token: flags.token, ca: flags.ca },
    env,
    file: file.value,
    filePath: configPath,
  });
  if (!config.ok) return config;
  const { url, token, sources } = config.value;
  // A relative path in the config file means relative to that file, not to wherever a command runs.
  const caSetting =
    config.value.ca === undefined
      ? undefined
      : {
          path: sources.ca === 'file' ? resolve(dirname(configPath), config.value.ca) : config.value.ca,
          from: sources.ca === 'flag' ? '--ca' : sources.ca === 'env' ? 'TESSERA_CA' : `${configPath} ca`,
        };
  const named =
    caSetting === undefined ? ok(undefined) : await readCa(readFile, caSetting.path, caSetting.from);
  if (!named.ok) return named;
  if (sources.url !== 'default') {
    const urlFrom = sources.url === 'flag' ? '--url' : sources.url === 'env' ? 'TESSERA_URL' : configPath;
    return ok({ url, token, urlFrom, ca: named.value });
  }

  // common/config.ts falls back to a default URL; a client command must not guess, so only an
  // allocator this machine's `tessera up` recorded counts as found.
  const dataDir = nonEmpty(flags.data) ?? nonEmpty(env.TESSERA_DATA) ?? DEFAULT_DATA_DIR;
  const allocatorPath = join(dataDir, 'allocator.json');
  const allocatorText = await readSafely(readFile, allocatorPath);
  if (!allocatorText.ok) return allocatorText;
  if (allocatorText.value === undefined) {
    return err(tesseraError('TESSERA_E_UNAVAILABLE', NO_ALLOCATOR, { field: 'url' }));
  }
  const allocatorJson = parseJson(allocatorText.value, allocatorPath);
  if (!allocatorJson.ok) return allocatorJson;
  const recorded = AllocatorFile.safeParse(allocatorJson.value);
  if (!recorded.success) {
    return err(
      tesseraError(
        'TESSERA_E_INVALID_CONFIG',
        `${allocatorPath}: expected {"url": "https://127.0.0.1:PORT", "pid": N, "ca": "CA file"}; remove it and run tessera up again`,
        { context: { path: allocatorPath } },
      ),
    );
  }
  // Re-use common/config.ts's URL check by handing the recorded URL in as if it were the file's.
  const checked = loadConfig({
    flags: {},
    env: {},
    file: { url: recorded.data.url },
    filePath: allocatorPath,
  });
  if (!checked.ok) return checked;

  let adminToken = token;
  if (adminToken === undefined) {
    const tokenPath = join(dataDir, 'admin-token');
    const text = await readSafely(readFile, tokenPath);
    if (!text.ok) return text;
    adminToken = nonEmpty(text.value?.trim());
  }
  // The CA `tessera up` made, unless the user named one.
  let ca = named.value;
  if (ca === undefined && recorded.data.ca !== undefined) {
    const local = await readCa(readFile, resolve(dataDir, recorded.data.ca), allocatorPath);
    if (!local.ok) return local;
    ca = local.value;
  }
  return ok({ url: checked.value.url, token: adminToken, urlFrom: allocatorPath, ca });
}

/** Reads and checks a CA file through `readFile`; `from` names the setting for messages. */
async function readCa(readFile: ReadFile, path: string, from: string): Promise<Result<TrustedCa>> {
  let text: string | undefined;
  try {
    text = await readFile(path);
  } catch (e) {
    return err(unreadableCa(path, from, e instanceof Error ? e.message : String(e)));
  }
  if (text === undefined) return err(unreadableCa(path, from, 'no such file'));
  return checkCaPem(text, path, from);
}

/** The real `ReadFile`: missing file is `undefined`. */
export const readFileIfExists: ReadFile = async (path) => {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if (e instanceof Error && 'code' in e && e.code === 'ENOENT') return undefined;
    throw e;
  }
};

/** An empty string counts as unset, as `TESSERA_URL= tessera list` intends. */
function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s;
}

async function readSafely(readFile: ReadFile, path: string): Promise<Result<string | undefined>> {
  try {
    return ok(await readFile(path));
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return err(
      tesseraError('TESSERA_E_INVALID_CONFIG', `${path}: cannot read: ${why}`, { context: { path } }),
    );
  }
}

function parseJson(text: string | undefined, path: string): Result<unknown> {
  if (text === undefined) return ok(undefined);
  try {
    return ok(JSON.parse(text) as unknown);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return err(
      tesseraError('TESSERA_E_INVALID_CONFIG', `${path}: not valid JSON: ${why}`, { context: { path } }),
    );
  }
}
