/**
 * Which node names a join token may register. A join token registers a name no node holds yet; a name
 * with a node record or a live credential is locked to that node's own credential until an admin
 * resets it (`tessera node reset`: credentials revoked, the record marked). Otherwise anyone holding
 * the cluster's join token could name a running node and take it over: its session, its credential
 * and the work placed on it next.
 */
import { err, ok, type Result, tesseraError } from '../../common/errors.ts';
import type { Db } from '../store/db.ts';
import { markNodeReset, nodeRegistration } from '../store/nodes.ts';
import { MAX_REASON_BYTES } from './close.ts';
import { liveNodeCredentials, revokeNodeCredentials, type TokenStore } from './tokens.ts';

/** Why a join token may not register `node` (a close reason an operator can act on); null when it may. */
export function joinRefusal(db: Db, tokens: TokenStore, node: string, nowMs: number): string | null {
  const record = nodeRegistration(db, node);
  const locked = record !== undefined && record.resetMs === null;
  if (!locked && liveNodeCredentials(tokens, node, nowMs).length === 0) return null;
  return nodeExistsReason(node);
}

/** The close reason for a name already registered: the way out first when both ways do not fit. */
export function nodeExistsReason(node: string): string {
  const full = `node ${node} is already registered; start its agent with DATA/node-credential.json, or admin: tessera node reset ${node}`;
  if (Buffer.byteLength(full, 'utf8') <= MAX_REASON_BYTES) return full;
  return `node ${node} is already registered; an admin may run: tessera node reset ${node}`;
}

/**
 * Resets `node`'s identity: revokes every credential it holds and opens its name to one join token;
 * what the allocator knows of the node (labels, cordon, pods) stays. Not found when the name has
 * neither a record nor a live credential.
 */
export function resetNode(
  db: Db,
  tokens: TokenStore,
  node: string,
  nowMs: number,
): Result<{ revokedCredentials: number }> {
  return db.transaction(() => {
    const revokedCredentials = revokeNodeCredentials(tokens, node, nowMs);
    if (!markNodeReset(db, node, nowMs) && revokedCredentials === 0)
      return err(
        tesseraError('TESSERA_E_NOT_FOUND', `no node named ${node}; see tessera node list`, {
          field: 'name',
          context: { node },
        }),
      );
    return ok({ revokedCredentials });
  })();
}
