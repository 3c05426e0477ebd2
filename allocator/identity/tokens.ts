/**
 * Tokens: what a bearer proves (join a new node, be one node, be a user of the API) and the one
 * place they are minted, checked and revoked. Only sha256 hashes of tokens are kept, so a leaked
 * store does not let anyone connect, and a token is checked with a constant-time compare.
 *
 * Tokens look like `tj.<id>.<secret>` (join), `tn.<id>.<secret>` (node) or `tu.<id>.<secret>` (user):
 * the id finds the record without comparing against every stored hash, the 32 random bytes of secret
 * are what is proven. The store is a small interface: an in-memory map here for tests, the
 * allocator's SQLite tokens table (store/tokens.ts) in the service, so tokens survive a restart.
 * Join tokens and node credentials are nodes.ts's.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** What a token proves: join a new node, be one node, or be a user of the API (its roles come from access rules). */
export type TokenKind = 'join' | 'node' | 'user';

/** One stored token: never the token itself, only its hash. */
export interface TokenRecord {
  id: string;
  kind: TokenKind;
  /** The node a node credential belongs to, the user a user token belongs to; null for a join token. */
  subject: string | null;
  /** sha256 of the whole token string. */
  hash: Buffer;
  /** When it was made (ms); absent in records made before the store kept it. */
  createdMs?: number;
  /** From this instant (ms) it no longer authenticates; null or absent: never expires. */
  expiresMs?: number | null;
  /** When it was revoked (ms); a revoked token never authenticates again. */
  revokedMs?: number | null;
  /** The user's label for a user token ("laptop", "ci"). */
  name?: string | null;
  /**
   * The id of the user token this one was minted with through the API; null or absent: made by the
   * allocator itself (bootstrap, join tokens, node credentials). It lives only as long as its parent.
   */
  parent?: string | null;
}

/** Where token records live. */
export interface TokenStore {
  get(id: string): TokenRecord | undefined;
  put(record: TokenRecord): void;
  delete(id: string): void;
  list(): TokenRecord[];
  /** The tokens of one kind naming `subject`: a node's credentials, found without reading them all. */
  bySubject(kind: TokenKind, subject: string): TokenRecord[];
  /** The tokens minted with token `id`. */
  byParent(id: string): TokenRecord[];
}

/** Who a bearer token authenticates. */
export type TokenIdentity =
  | { kind: 'join' }
  | { kind: 'node'; node: string }
  | { kind: 'user'; user: string };

/** A TokenStore in memory: tokens last as long as the process. */
export function memoryTokenStore(): TokenStore {
  const records = new Map<string, TokenRecord>();
  return {
    get: (id) => records.get(id),
    put: (record) => {
      records.set(record.id, record);
    },
    delete: (id) => {
      records.delete(id);
    },
    list: () => [...records.values()],
    bySubject: (kind, subject) =>
      [...records.values()].filter((r) => r.kind === kind && r.subject === subject),
    byParent: (id) => [...records.values()].filter((r) => r.parent === id),
  };
}

const PREFIX: Readonly<Record<TokenKind, string>> = { join: 'tj', node: 'tn', user: 'tu' };

/** sha256 of a token string. */
export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Optional details of a user token. */
export interface UserTokenOptions {
  /** A label for the token; default none (stored as null). */
  name?: string;
  /** When it stops working (ms since the epoch). Default: never (or, with `parent`, the parent's expiry). */
  expiresMs?: number;
  /** Creation time (ms). Default `Date.now()`. */
  nowMs?: number;
  /**
   * The id of the token it is minted with (the API caller's): it then expires no later than that
   * token and is revoked with it. Default none.
   */
  parent?: string;
}

/** Mints a token of `kind` for `subject` and stores its hash; returns the token, shown once. */
export function mint(
  store: TokenStore,
  kind: TokenKind,
  subject: string | null,
  extra: Partial<TokenRecord> = {},
): string {
  const id = randomBytes(8).toString('hex');
  const token = `${PREFIX[kind]}.${id}.${randomBytes(32).toString('base64url')}`;
  store.put({ ...extra, id, kind, subject, hash: hashToken(token) });
  return token;
}

/** The id part of a `tj.<id>.<secret>` style token, or null for anything else. */
export function tokenIdOf(token: string): string | null {
  const parts = token.split('.');
  return parts.length === 3 && parts[1] !== undefined && parts[1] !== '' ? parts[1] : null;
}

/**
 * Creates an API token for `user`; returns the token, shown once. Minted with a `parent`, it expires
 * no later than the parent: a later expiry, or none, is clamped to the parent's (as a token made from a
 * 5-minute token must not outlive it); the stored record holds the effective expiry.
 */
export function createUserToken(store: TokenStore, user: string, options: UserTokenOptions = {}): string {
  const parent = options.parent === undefined ? undefined : store.get(options.parent);
  return mint(store, 'user', user, {
    createdMs: options.nowMs ?? Date.now(),
    expiresMs: earlierExpiry(options.expiresMs ?? null, parent?.expiresMs ?? null),
    revokedMs: null,
    name: options.name ?? null,
    parent: options.parent ?? null,
  });
}

/** The earlier of two expiries, null meaning never. */
function earlierExpiry(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  return b === null ? a : Math.min(a, b);
}

/**
 * Revokes token `id` and every token minted from it, transitively; false when there is no such
 * token. A token already revoked keeps its first stamp.
 */
export function revokeToken(store: TokenStore, id: string, nowMs: number = Date.now()): boolean {
  const record = store.get(id);
  if (record === undefined) return false;
  const seen = new Set<string>();
  const queue = [record];
  for (let r = queue.pop(); r !== undefined; r = queue.pop()) {
    if (seen.has(r.id)) continue;
    seen.add(r.id);
    if (r.revokedMs === undefined || r.revokedMs === null) store.put({ ...r, revokedMs: nowMs });
    queue.push(...store.byParent(r.id));
  }
  return true;
}

/** Neither revoked nor expired at `nowMs`. */
export function isLive(record: TokenRecord, nowMs: number): boolean {
  if (record.revokedMs !== undefined && record.revokedMs !== null) return false;
  return record.expiresMs === undefined || record.expiresMs === null || nowMs < record.expiresMs;
}

/**
 * Whether every token `record` descends from is still live. Revocation marks descendants and minting
 * clamps expiries already; this walk also covers rows written before either, and a parent gone.
 */
function ancestorsLive(store: TokenStore, record: TokenRecord, nowMs: number): boolean {
  const seen = new Set<string>([record.id]);
  for (let id = record.parent ?? null; id !== null; ) {
    // A loop cannot be written through the API (a parent exists before its child); refuse one anyway.
    if (seen.has(id)) return false;
    seen.add(id);
    const parent = store.get(id);
    if (parent === undefined || !isLive(parent, nowMs)) return false;
    id = parent.parent ?? null;
  }
  return true;
}

/**
 * Who `bearer` (the token, without `Bearer `) authenticates at `nowMs`, or null for anything
 * unknown, revoked or expired.
 */
export function authenticate(
  store: TokenStore,
  bearer: string,
  nowMs: number = Date.now(),
): TokenIdentity | null {
  const parts = bearer.split('.');
  if (parts.length !== 3) return null;
  const [prefix, id] = parts;
  if (id === undefined) return null;
  const record = store.get(id);
  if (record === undefined || PREFIX[record.kind] !== prefix) return null;
  // Both sides are sha256 digests, so the lengths match and the compare leaks no timing.
  if (!timingSafeEqual(hashToken(bearer), record.hash)) return null;
  if (!isLive(record, nowMs) || !ancestorsLive(store, record, nowMs)) return null;
  if (record.kind === 'join') return { kind: 'join' };
  if (record.subject === null) return null;
  return record.kind === 'node'
    ? { kind: 'node', node: record.subject }
    : { kind: 'user', user: record.subject };
}

/** The token of an `Authorization: Bearer <token>` header, or null when absent or another scheme. */
export function bearerOf(header: string | undefined): string | null {
  if (header === undefined) return null;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return m?.[1] ?? null;
}
