/**
 * The flags every client command shares (`--url`, `--token`, `--ca`, `--data`) and the step from those
 * flags to a connected `ApiClient`, so each command file holds only its own flags and output.
 */
import type { Command } from 'commander';
import { CliError, EXIT_USAGE, failure } from '../errors.ts';
import {
  type ClientConfig,
  type ClientFlags,
  DEFAULT_DATA_DIR,
  readFileIfExists,
  resolveClientConfig,
} from './config.ts';
import { type ApiClient, createClient } from './http.ts';

/** Adds `--url`, `--token`, `--ca` and `--data` to `command`. */
export function addClientOptions(command: Command): Command {
  return command
    .option(
      '--url <url>',
      'allocator URL (default TESSERA_URL, ~/.config/tessera/config.json, or tessera up)',
    )
    .option('--token <token>', 'API token (default TESSERA_TOKEN, the config file, or DATA/admin-token)')
    .option(
      '--ca <file>',
      "PEM file of the CA that signed the allocator's certificate (default TESSERA_CA, the config file, or tessera up's)",
    )
    .option(
      '--data <dir>',
      `data dir of a local tessera up to find the allocator in (default ${DEFAULT_DATA_DIR})`,
    );
}

/** A client for the allocator `flags`, the environment and the config files name. */
export async function connect(
  flags: ClientFlags,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<ApiClient> {
  return createClient(await clientConfig(flags, env));
}

/** The allocator URL and token `flags`, the environment and the config files name (for streamed answers). */
export async function clientConfig(
  flags: ClientFlags,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<ClientConfig> {
  const config = await resolveClientConfig(
    { url: flags.url, token: flags.token, ca: flags.ca, data: flags.data },
    env,
    readFileIfExists,
  );
  if (config.ok) return config.value;
  // A malformed --url is a usage error like any bad flag value; env and file problems are not.
  throw config.error.context?.source === 'flag'
    ? new CliError(config.error, EXIT_USAGE)
    : failure(config.error);
}
