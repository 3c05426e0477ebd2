/**
 * Agent identity (issue 4): a join token lets a new agent register once; it then holds a credential
 * of its own node, good for that node only. Only sha256 hashes of tokens are kept, so a leaked
 * store does not let anyone connect, and a token is checked with a constant-time compare.
 *
 * Tokens look like `tj.<id>.<secret>` (join) or `tn.<id>.<secret>` (node): the id finds the record
 * without comparing against every stored hash, the 32 random bytes of secret are what is proven.
 * The store is a small interface: an in-memory map here for tests, the allocator's SQLite tokens
 * table (store/tokens.ts) in the service, so tokens survive a restart.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** What a token proves: join a new node, be one node, or be a user of the API (issue 5 adds roles). */
export type TokenKind = 'join' | 'node' | 'user';

/** One stored token: never the token itself, only its hash. */
export interface TokenRecord {
  id: string;
  kind: TokenKind;
  /** The node a node credential belongs to, the user a user token belongs to; null for a join token. */
  subject: string | null;
  /** sha256 of the whole token string. */
  hash: Buffer;
}

/** Where token records live. */
export interface TokenStore {
  get(id: string): TokenRecord | undefined;
  put(record: TokenRecord): void;
  delete(id: string): void;
  list(): TokenRecord[];
  /** The tokens of one kind naming `subject`: a node's credentials, found without reading them all. */
  bySubject(kind: TokenKind, subject: string): TokenRecord[];
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
  };
}

const PREFIX: Readonly<Record<TokenKind, string>> = { join: 'tj', node: 'tn', user: 'tu' };

/** sha256 of a token string. */
export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

function mint(store: TokenStore, kind: TokenKind, subject: string | null): string {
  const id = randomBytes(8).toString('hex');
  const token = `${PREFIX[kind]}.${id}.${randomBytes(32).toString('base64url')}`;
  store.put({ id, kind, subject, hash: hashToken(token) });
  return token;
}

/** Creates a join token, which registers any node; returns the token, shown once. */
export function createJoinToken(store: TokenStore): string {
  return mint(store, 'join', null);
}

/**
 * Issues a fresh credential for `node` and revokes its earlier ones: an agent keeps only the newest
 * (it arrives in Welcome), and an older copy elsewhere should stop working.
 */
export function issueNodeCredential(store: TokenStore, node: string): string {
  for (const r of store.bySubject('node', node)) store.delete(r.id);
  return mint(store, 'node', node);
}

/** Creates an API token for `user`; returns the token, shown once. */
export function createUserToken(store: TokenStore, user: string): string {
  return mint(store, 'user', user);
}

/** Who `bearer` (the token, without `Bearer `) authenticates, or null for anything unknown. */
export function authenticate(store: TokenStore, bearer: string): TokenIdentity | null {
  const parts = bearer.split('.');
  if (parts.length !== 3) return null;
  const [prefix, id] = parts;
  if (id === undefined) return null;
  const record = store.get(id);
  if (record === undefined || PREFIX[record.kind] !== prefix) return null;
  // Both sides are sha256 digests, so the lengths match and the compare leaks no timing.
  if (!timingSafeEqual(hashToken(bearer), record.hash)) return null;
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
