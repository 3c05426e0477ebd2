/**
 * Where the CLI finds the allocator, its token and the CA it trusts: flags, then env (`TESSERA_URL`,
 * `TESSERA_TOKEN`, `TESSERA_CA`), then `~/.config/tessera/config.json` (docs/architecture.md §8). `loadConfig` is the pure rule;
 * `readConfigFile` and `loadConfigFromEnvironment` are the thin I/O around it.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { err, ok, type Result, tesseraError } from './errors.ts';

/** The allocator URL used when no source names one: `tessera up` on this machine. */
export const DEFAULT_URL = 'http://localhost:7400';

/** Where a setting came from, so `tessera config` style output can say why a value is what it is. */
export type ConfigSource = 'flag' | 'env' | 'file' | 'default';

/** The settings each source may provide. */
export interface ConfigValues {
  url?: string | undefined;
  token?: string | undefined;
  /** A PEM file of the CA that signed the allocator's certificate (`--ca`). */
  ca?: string | undefined;
}

/** The three sources, highest precedence first; `file` is the parsed JSON (undefined when absent). */
export interface ConfigSources {
  flags: ConfigValues;
  env: Readonly<Record<string, string | undefined>>;
  file: unknown;
  /** Shown in messages about the file. */
  filePath?: string;
}

/** The resolved client configuration. */
export interface TesseraConfig {
  /** Allocator base URL, without a trailing slash. */
  url: string;
  token: string | undefined;
  /** The CA file to trust, as given (a config file's relative path is the caller's to resolve). */
  ca: string | undefined;
  sources: { url: ConfigSource; token: ConfigSource | undefined; ca: ConfigSource | undefined };
}

// Unknown keys are allowed so a config written by a newer CLI still loads in an older one.
const FileSchema = z.looseObject({
  url: z.string().optional(),
  token: z.string().optional(),
  ca: z.string().optional(),
});

/** `~/.config/tessera/config.json` under `home`. */
export function defaultConfigPath(home: string = homedir()): string {
  return join(home, '.config', 'tessera', 'config.json');
}

/** Resolves url and token from flags > env > file > default; pure, for tests and for the CLI. */
export function loadConfig(sources: ConfigSources): Result<TesseraConfig> {
  const filePath = sources.filePath ?? defaultConfigPath();
  let file: ConfigValues = {};
  if (sources.file !== undefined) {
    const parsed = FileSchema.safeParse(sources.file);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field =
        issue === undefined || issue.path.length === 0 ? undefined : issue.path.map(String).join('.');
      const why = field === undefined ? 'must be a JSON object' : `${field} must be a string`;
      return err(
        tesseraError(
          'TESSERA_E_INVALID_CONFIG',
          `${filePath}: ${why}; accepted: {"url": "...", "token": "...", "ca": "CA file"}`,
          {
            field,
            context: { source: 'file', path: filePath },
          },
        ),
      );
    }
    file = parsed.data;
  }

  const urlPick = pick([
    ['flag', sources.flags.url, '--url'],
    ['env', sources.env.TESSERA_URL, 'TESSERA_URL'],
    ['file', file.url, `${filePath} url`],
  ]);
  const tokenPick = pick([
    ['flag', sources.flags.token, '--token'],
    ['env', sources.env.TESSERA_TOKEN, 'TESSERA_TOKEN'],
    ['file', file.token, `${filePath} token`],
  ]);
  const caPick = pick([
    ['flag', sources.flags.ca, '--ca'],
    ['env', sources.env.TESSERA_CA, 'TESSERA_CA'],
    ['file', file.ca, `${filePath} ca`],
  ]);

  let url = DEFAULT_URL;
  let urlSource: ConfigSource = 'default';
  if (urlPick !== undefined) {
    const checked = checkUrl(urlPick.value, urlPick.label, urlPick.source);
    if (!checked.ok) return checked;
    url = checked.value;
    urlSource = urlPick.source;
  }
  if (tokenPick !== undefined && /\s/.test(tokenPick.value)) {
    return err(
      tesseraError('TESSERA_E_INVALID_CONFIG', `${tokenPick.label}: a token must not contain whitespace`, {
        field: 'token',
        context: { source: tokenPick.source },
      }),
    );
  }
  return ok({
    url,
    token: tokenPick?.value,
    ca: caPick?.value,
    sources: { url: urlSource, token: tokenPick?.source, ca: caPick?.source },
  });
}

/**
 * The first source that sets a value. An empty string counts as unset, so `TESSERA_TOKEN= tessera
 * list` falls through to the file as the shell idiom intends.
 */
function pick(
  candidates: [ConfigSource, string | undefined, string][],
): { source: ConfigSource; value: string; label: string } | undefined {
  for (const [source, value, label] of candidates) {
    if (value !== undefined && value !== '') return { source, value, label };
  }
  return undefined;
}

function checkUrl(value: string, label: string, source: ConfigSource): Result<string> {
  let parsed: URL | undefined;
  try {
    parsed = new URL(value);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    return err(
      tesseraError(
        'TESSERA_E_INVALID_CONFIG',
        `${label}: invalid allocator URL ${JSON.stringify(value)}; accepted: an http:// or https:// URL such as ${DEFAULT_URL}`,
        { field: 'url', context: { source, input: value } },
      ),
    );
  }
  // Callers append '/api/v1/...'; a trailing slash would make '//api'.
  return ok(value.replace(/\/+$/, ''));
}

/** Reads and JSON-parses a config file; a missing file is `ok(undefined)`, a broken one an error. */
export async function readConfigFile(path: string = defaultConfigPath()): Promise<Result<unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (e instanceof Error && 'code' in e && e.code === 'ENOENT') return ok(undefined);
    const why = e instanceof Error ? e.message : String(e);
    return err(
      tesseraError('TESSERA_E_INVALID_CONFIG', `${path}: cannot read: ${why}`, {
        context: { path, source: 'file' },
      }),
    );
  }
  try {
    return ok(JSON.parse(text) as unknown);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return err(
      tesseraError('TESSERA_E_INVALID_CONFIG', `${path}: not valid JSON: ${why}`, {
        context: { path, source: 'file' },
      }),
    );
  }
}

/** Where `loadConfigFromEnvironment` reads; both defaults are read per call (tests pass their own). */
export interface ConfigEnvironmentOptions {
  /** The environment; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** The config file; default `defaultConfigPath()` (`~/.config/tessera/config.json`). */
  path?: string;
}

/** Resolves the config from flags, `process.env` and the config file on disk. */
export async function loadConfigFromEnvironment(
  flags: ConfigValues,
  options: ConfigEnvironmentOptions = {},
): Promise<Result<TesseraConfig>> {
  const path = options.path ?? defaultConfigPath();
  const file = await readConfigFile(path);
  if (!file.ok) return file;
  return loadConfig({ flags, env: options.env ?? process.env, file: file.value, filePath: path });
}
