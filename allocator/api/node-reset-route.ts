/**
 * `POST /nodes/:name/reset`: an admin resets a node's identity (identity/nodes.ts `resetNode`):
 * its credentials stop working, its live session is closed, and its agent, or a new machine, may
 * register the name again with a join token. For a node whose credential was lost or leaked, and to
 * rotate a live node's credential (its agent rejoins with the join token it was started with).
 */
import type { FastifyInstance } from 'fastify';
import { resetNode } from '../identity/nodes.ts';
import type { TokenStore } from '../identity/tokens.ts';
import type { ApiContext } from './context.ts';
import { unwrap } from './errors.ts';

/** Closes a node's session after its credentials were revoked; true when one was open. */
export type DisconnectNode = (node: string, reason: string) => boolean;

/** Registers `POST /nodes/:name/reset`, answering `{node, revokedCredentials, disconnected}`. */
export function registerNodeResetRoute(
  app: FastifyInstance,
  ctx: ApiContext,
  tokens: TokenStore,
  disconnect: DisconnectNode,
): void {
  app.post<{ Params: { name: string } }>('/nodes/:name/reset', async (request) => {
    const node = request.params.name;
    const { revokedCredentials } = unwrap(resetNode(ctx.db, tokens, node, ctx.now()));
    // After the commit: the session opened with a credential that no longer exists.
    const disconnected = disconnect(node, `credential revoked: an admin ran tessera node reset ${node}`);
    return { node, revokedCredentials, disconnected };
  });
}
