/**
 * `tessera login --url URL --token T [--ca FILE]`: checks the token against the allocator (`GET
 * /whoami`, over TLS trusting FILE when given) and stores them in `~/.config/tessera/config.json`
 * (TESSERA_CONFIG overrides the path), mode 0600, so later commands need none of the flags. Other
 * keys in that file are kept.
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { defaultConfigPath } from '../../common/config.ts';
import { tesseraError } from '../../common/errors.ts';
import type { ClientFlags } from '../client/config.ts';
import { addClientOptions, clientConfig } from '../client/connect.ts';
import { createClient } from '../client/http.ts';
import { type OutputFormat, outputOption, printData } from '../client/output.ts';
import { failure, usageError } from '../errors.ts';
import type { CliContext } from './index.ts';

const EXAMPLES = `
Examples:
  $ tessera login --url https://alloc:7400 --token tu.0123abcd.SECRET --ca ./tessera-ca.crt
  $ TESSERA_CONFIG=./ci-config.json tessera login --url https://alloc:7400 --token "$TOKEN"

--ca (or TESSERA_CA) names the CA that signed the allocator's certificate; login stores its absolute
path as "ca", so later commands trust it too.

Get a token from an admin (tessera token create --user NAME) or make one more of your own
(tessera token create --expires 30d) once logged in.
`;

/** `GET /whoami`'s answer. */
interface WhoAmI {
  user: string;
  rules: { id: number; role: string; scope: string }[];
}

/** Where login writes: TESSERA_CONFIG, else `~/.config/tessera/config.json`. */
export function configPath(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const set = env.TESSERA_CONFIG;
  return set === undefined || set === '' ? defaultConfigPath() : set;
}

/**
 * Merges `url`, `token` and (when given) the CA file `ca` into the JSON object at `path` and writes
 * it readable by its owner only.
 */
export async function writeLogin(path: string, url: string, token: string, ca?: string): Promise<void> {
  let existing: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      existing = parsed as Record<string, unknown>;
  } catch (e) {
    const missing = e instanceof Error && 'code' in e && e.code === 'ENOENT';
    if (!missing)
      throw failure(
        tesseraError(
          'TESSERA_E_INVALID_CONFIG',
          `${path}: cannot read it to update (${e instanceof Error ? e.message : String(e)}); fix or remove it`,
        ),
      );
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const values = { ...existing, url, token, ...(ca === undefined ? {} : { ca }) };
  await writeFile(path, `${JSON.stringify(values, null, 2)}\n`, { mode: 0o600 });
  // writeFile's mode applies only when it creates the file.
  await chmod(path, 0o600);
}

/** Adds `login`'s flags and action to `command`. */
export function configure(command: Command, { io }: CliContext): void {
  addClientOptions(
    command
      .description('Check an API token against the allocator and store URL and token for later commands.')
      .addOption(outputOption())
      .addHelpText('after', EXAMPLES),
  ).action(async (_flags: unknown, cmd: Command) => {
    const flags = cmd.opts<ClientFlags & { output: OutputFormat }>();
    if (flags.token === undefined || flags.token === '')
      throw usageError('--token', 'pass --token TOKEN: the API token to log in with (ask an admin for one)');
    const config = await clientConfig(flags);
    const client = createClient(config);
    const me = await client.request<WhoAmI>('GET', '/whoami');
    const path = configPath();
    // An absolute path: the config file is read from wherever later commands run.
    await writeLogin(
      path,
      client.url,
      flags.token,
      config.ca === undefined ? undefined : resolve(config.ca.path),
    );
    printData(io, flags.output, { url: client.url, configPath: path, ...me }, (m) => {
      const rules =
        m.rules.length === 0
          ? 'no access rules yet'
          : m.rules.map((r) => `${r.role} on ${r.scope}`).join(', ');
      return `logged in to ${m.url} as ${m.user} (${rules}); saved to ${m.configPath}\n`;
    });
  });
}
