/**
 * Node identity. A join token lets a new agent register a node name no node holds yet; it then holds
 * a credential of its own node, good for that node only, renewed on every connection. A name with a
 * node record or a live credential is locked to that node's own credential until an admin resets it
 * (`tessera node reset`: credentials revoked, the record marked). Otherwise anyone holding the
 * cluster's join token could name a running node and take it over: its session, its credential and
 * the work placed on it next. The link asks here and turns the answers into close frames.
 */
import { timingSafeEqual } from 'node:crypto';
import { err, ok, type Result, tesseraError } from '../../common/errors.ts';
import { type Db, inTransaction } from '../store/db.ts';
import { clearNodeReset, markNodeReset, nodeRegistration } from '../store/nodes.ts';
import {
  authenticate,
  hashToken,
  isLive,
  mint,
  type TokenIdentity,
  type TokenRecord,
  type TokenStore,
  tokenIdOf,
} from './tokens.ts';

/** Who a bearer opens the agent link as: a join token or a node credential. */
export type AgentIdentity = Exclude<TokenIdentity, { kind: 'user' }>;

/** The shape of a join token an operator supplies: `tj.<id>.<secret>` with a long enough secret. */
const PRESET_JOIN = /^tj\.([A-Za-z0-9]{8,32})\.([A-Za-z0-9_-]{32,256})$/;

/**
 * Registers a join token made outside (a Helm-generated Secret, a config manager) so agents holding
 * it can join; idempotent. Null when the token is not of the `tj.<id>.<secret>` shape (an id of 8-32
 * letters or digits, a secret of at least 32 characters of [A-Za-z0-9_-]).
 */
export function registerJoinToken(store: TokenStore, token: string): string | null {
  const m = PRESET_JOIN.exec(token);
  const id = m?.[1];
  if (id === undefined) return null;
  const existing = store.get(id);
  if (
    existing !== undefined &&
    (existing.kind !== 'join' || !timingSafeEqual(existing.hash, hashToken(token)))
  )
    return null;
  if (existing === undefined) store.put({ id, kind: 'join', subject: null, hash: hashToken(token) });
  return token;
}

/** Creates a join token, which registers any node name not yet registered; returns the token, shown once. */
export function createJoinToken(store: TokenStore): string {
  return mint(store, 'join', null);
}

/**
 * Issues a fresh credential for `node` and removes its earlier ones but `keepId`: an agent keeps only
 * the newest (it arrives in Welcome), and an older copy elsewhere should stop working. A rotation
 * keeps the credential the connection presented, since the Welcome carrying its successor may be
 * lost; the agent's next connection with the successor removes it.
 */
export function issueNodeCredential(store: TokenStore, node: string, keepId?: string): string {
  for (const r of store.bySubject('node', node)) if (r.id !== keepId) store.delete(r.id);
  return mint(store, 'node', node);
}

/** Revokes every live credential of `node` (`tessera node reset`); returns how many. */
export function revokeNodeCredentials(store: TokenStore, node: string, nowMs: number): number {
  const live = liveNodeCredentials(store, node, nowMs);
  for (const r of live) store.put({ ...r, revokedMs: nowMs });
  return live.length;
}

/** The credentials of `node` that still authenticate at `nowMs`. */
export function liveNodeCredentials(store: TokenStore, node: string, nowMs: number): TokenRecord[] {
  return store.bySubject('node', node).filter((r) => isLive(r, nowMs));
}

/**
 * Who `bearer` opens the agent link as at `nowMs`, or null: unknown, revoked, expired, or a user's API
 * token (only join tokens and node credentials open the link).
 */
export function agentIdentityOf(
  tokens: TokenStore,
  bearer: string,
  nowMs: number = Date.now(),
): AgentIdentity | null {
  const found = authenticate(tokens, bearer, nowMs);
  return found === null || found.kind === 'user' ? null : found;
}

/** Why a Hello may not make its connection node `node`. */
export type HelloRefusal =
  /** The connection's token was revoked or expired after it opened. */
  | { kind: 'revoked' }
  /** A node credential naming another node. */
  | { kind: 'other-node'; credentialNode: string }
  /** A join token naming a node already registered. */
  | { kind: 'registered' };

/**
 * Whether `who`, connected with `bearer`, may be node `node` at `nowMs`: null when it may. The caller
 * checks and registers in one synchronous turn, so two joins of one new name cannot both pass.
 */
export function helloRefusal(
  db: Db,
  tokens: TokenStore,
  who: AgentIdentity,
  bearer: string,
  node: string,
  nowMs: number,
): HelloRefusal | null {
  // Checked again: a node reset between the upgrade and this Hello revoked the credential, and a
  // rotation now would mint it a valid successor.
  if (authenticate(tokens, bearer, nowMs) === null) return { kind: 'revoked' };
  if (who.kind === 'node' && who.node !== node) return { kind: 'other-node', credentialNode: who.node };
  if (who.kind === 'join' && !joinOpen(db, tokens, node, nowMs)) return { kind: 'registered' };
  return null;
}

/** Whether a join token may register `node`: no record locks it and no live credential holds it. */
function joinOpen(db: Db, tokens: TokenStore, node: string, nowMs: number): boolean {
  const record = nodeRegistration(db, node);
  const locked = record !== undefined && record.resetMs === null;
  return !locked && liveNodeCredentials(tokens, node, nowMs).length === 0;
}

/**
 * The credential a Hello `helloRefusal` passed is answered with. Every connection gets a fresh one,
 * so a copied credential stops working once the agent has reconnected twice; the agent saves each
 * (agent/link/credential-file.ts). A reset name opens to one join; from then on it is locked to the
 * credential issued here. Callers hold a transaction.
 */
export function credentialForHello(
  db: Db,
  tokens: TokenStore,
  who: AgentIdentity,
  bearer: string,
  node: string,
): string {
  if (who.kind === 'node') return issueNodeCredential(tokens, node, tokenIdOf(bearer) ?? undefined);
  clearNodeReset(db, node);
  return issueNodeCredential(tokens, node);
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
  return inTransaction(db, () => {
    const revokedCredentials = revokeNodeCredentials(tokens, node, nowMs);
    if (!markNodeReset(db, node, nowMs) && revokedCredentials === 0)
      return err(
        tesseraError('TESSERA_E_NOT_FOUND', `no node named ${node}; see tessera node list`, {
          field: 'name',
          context: { node },
        }),
      );
    return ok({ revokedCredentials });
  });
}
