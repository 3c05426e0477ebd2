/**
 * `tessera token create --node`: mints a join token a new node's agent presents to register a name no
 * node holds yet; it then holds a credential of its own. `tessera token create [--user U] [--expires
 * 30d]` mints an API token (your own; an admin's for anyone), living no longer than the token used.
 * `tessera token list` shows which tokens exist (never secrets); `tessera token revoke ID` stops one,
 * and every token created with it, working.
 */
import type { Command } from 'commander';
import { parseDurationMs } from '../../common/resources.ts';
import type { ClientFlags } from '../client/config.ts';
import { addClientOptions, clientConfig, connect } from '../client/connect.ts';
import { createClient } from '../client/http.ts';
import { formatTable, type OutputFormat, outputOption, printData } from '../client/output.ts';
import { usageError } from '../errors.ts';
import type { CliContext } from './index.ts';

const EXAMPLES = `
Examples:
  $ tessera token create --expires 30d --name laptop     # an API token of your own
  $ tessera token create --user alice --expires 90d      # an admin, for alice
  $ tessera token revoke 0123abcd4567ef89
  $ tessera token create --node
  $ TOKEN=$(tessera token create --node) && ssh gpu-07 TESSERA_TOKEN="$TOKEN" tessera agent --allocator URL --ca ca.crt
  $ tessera token list

The token is printed once, alone on stdout; the allocator keeps only its hash. An API token expires
no later than the token used to create it (a later --expires, or none, is clamped to it) and is
revoked with it: revoking a token revokes every token created with it.
On the new node: TESSERA_TOKEN=TOKEN tessera agent --allocator URL [--ca CA_FILE] (by env, the
token stays out of ps).
`;

/** `POST /tokens`'s answer. */
interface CreatedToken {
  token: string;
  kind: string;
  subject?: string | null;
  expiresAt?: string | null;
}

/** A row of `GET /tokens`. */
interface TokenInfo {
  id: string;
  kind: string;
  subject: string | null;
  name?: string | null;
  expiresAt?: string | null;
  revokedAt?: string | null;
}

/** `create`'s flags. */
interface CreateFlags {
  node?: boolean;
  user?: string;
  name?: string;
  expires?: string;
  output: OutputFormat;
}

/** The `POST /tokens` body the flags ask for; --node excludes the user token's flags. */
export function tokenBody(f: CreateFlags): Record<string, string> {
  if (f.node === true) {
    const extra =
      f.user !== undefined
        ? '--user'
        : f.expires !== undefined
          ? '--expires'
          : f.name !== undefined
            ? '--name'
            : null;
    if (extra !== null)
      throw usageError(
        extra,
        `${extra} is for API tokens; a join token (--node) takes neither --user, --name nor --expires`,
      );
    return { kind: 'join' };
  }
  const body: Record<string, string> = { kind: 'user' };
  if (f.user !== undefined) body.user = f.user;
  if (f.name !== undefined) body.name = f.name;
  if (f.expires !== undefined) body.expiresIn = f.expires;
  return body;
}

/**
 * Said when the allocator gave the token an earlier expiry than `--expires` asked for (or one where
 * none was asked): a token expires no later than the token that minted it. A minute of slack covers
 * the two clocks.
 */
export function clampNote(
  expires: string | undefined,
  expiresAt: string | null | undefined,
  nowMs: number,
): string {
  if (expiresAt === undefined || expiresAt === null) return '';
  const asked = expires === undefined ? null : parseDurationMs(expires, '--expires');
  if (asked !== null && (!asked.ok || Date.parse(expiresAt) >= nowMs + asked.value - 60_000)) return '';
  return ' (no later than the token you minted it with)';
}

/** A token's state for the list: revoked, expired, or when it expires. */
function status(t: TokenInfo, nowMs: number): string {
  if (t.revokedAt !== undefined && t.revokedAt !== null) return 'revoked';
  if (t.expiresAt === undefined || t.expiresAt === null) return 'active';
  return Date.parse(t.expiresAt) <= nowMs ? 'expired' : `expires ${t.expiresAt}`;
}

/** Adds `token create` and `token list` to `command`. */
export function configure(command: Command, { io }: CliContext): void {
  command
    .description('Create, list and revoke tokens: API tokens for users, join tokens for new nodes.')
    .addHelpText('after', EXAMPLES);

  addClientOptions(
    command
      .command('create')
      .description(
        'Create an API token (yours, or --user U as an admin) or, with --node, a join token (shown once).',
      )
      .option('--node', 'a join token, for a node agent to join with')
      .option('--user <user>', 'the user the API token is for (default: you; others need admin)')
      .option('--name <name>', 'a label for the API token, e.g. laptop or ci')
      .option(
        '--expires <duration>',
        "how long the API token works, e.g. '30d', '12h' (default: until revoked)",
      )
      .addOption(outputOption())
      .addHelpText('after', EXAMPLES),
  ).action(async (_flags: unknown, cmd: Command) => {
    const flags = cmd.opts<CreateFlags>();
    const body = tokenBody(flags);
    const config = await clientConfig(cmd.opts<ClientFlags>());
    const client = createClient(config);
    const created = await client.request<CreatedToken>('POST', '/tokens', body);
    printData(io, flags.output, created, (t) => `${t.token}\n`);
    // The hint goes to stderr so `TOKEN=$(tessera token create --node)` captures the token alone.
    if (flags.output !== 'table') return;
    // The CA this client trusts is the one the node and the user need too.
    const ca = config.ca === undefined ? '' : ` --ca ${config.ca.path}`;
    if (body.kind === 'join')
      io.err(
        `On the new node: TESSERA_TOKEN=${created.token} tessera agent --allocator ${client.url}${ca}\n`,
      );
    else
      io.err(
        `API token for ${created.subject ?? 'you'}${created.expiresAt ? `, expires ${created.expiresAt}` : ''}${clampNote(flags.expires, created.expiresAt, Date.now())}; use it with: tessera login --url ${client.url} --token TOKEN${ca}\n`,
      );
  });

  addClientOptions(
    command
      .command('list')
      .description(
        'List tokens: id, kind, whom they belong to and their state (never the secret); yours, or all for an admin.',
      )
      .addOption(outputOption())
      .addHelpText('after', EXAMPLES),
  ).action(async (_flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ output: OutputFormat }>();
    const client = await connect(cmd.opts<ClientFlags>());
    const tokens = await client.request<TokenInfo[]>('GET', '/tokens');
    const now = Date.now();
    printData(io, flags.output, tokens, (ts) =>
      formatTable({
        header: ['ID', 'KIND', 'SUBJECT', 'NAME', 'STATUS'],
        rows: ts.map((t) => [t.id, t.kind, t.subject ?? '-', t.name ?? '-', status(t, now)]),
      }),
    );
  });

  addClientOptions(
    command
      .command('revoke <id>')
      .description('Revoke a token by its ID (see token list): it stops working at once.')
      .addHelpText('after', EXAMPLES),
  ).action(async (id: string, _flags: unknown, cmd: Command) => {
    const client = await connect(cmd.opts<ClientFlags>());
    await client.request<TokenInfo>('DELETE', `/tokens/${encodeURIComponent(id)}`);
    io.out(`token ${id} revoked\n`);
  });
}
