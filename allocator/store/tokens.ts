/**
 * The link's and the API's tokens in the store (migration 2), behind link/tokens.ts `TokenStore`,
 * so join tokens, node credentials and user tokens survive an allocator restart. Only hashes are kept.
 */
import type { TokenKind, TokenRecord, TokenStore } from '../link/tokens.ts';
import type { Db } from './db.ts';

interface TokenRow {
  id: string;
  kind: string;
  subject: string | null;
  hash: Buffer;
}

function toRecord(r: TokenRow): TokenRecord {
  // Only kinds written through `put` from a typed TokenRecord are stored.
  return { id: r.id, kind: r.kind as TokenKind, subject: r.subject, hash: r.hash };
}

/** A TokenStore over the store's tokens table; `now` stamps new rows. */
export function sqliteTokenStore(db: Db, now: () => number = Date.now): TokenStore {
  const get = db.prepare('SELECT id, kind, subject, hash FROM tokens WHERE id = ?');
  const put = db.prepare(
    'INSERT OR REPLACE INTO tokens (id, kind, subject, hash, created_ms) VALUES (?, ?, ?, ?, ?)',
  );
  const del = db.prepare('DELETE FROM tokens WHERE id = ?');
  const all = db.prepare('SELECT id, kind, subject, hash FROM tokens ORDER BY created_ms, id');
  const bySubject = db.prepare('SELECT id, kind, subject, hash FROM tokens WHERE kind = ? AND subject = ?');
  return {
    get: (id) => {
      const r = get.get(id) as TokenRow | undefined;
      return r === undefined ? undefined : toRecord(r);
    },
    put: (r) => {
      put.run(r.id, r.kind, r.subject, r.hash, now());
    },
    delete: (id) => {
      del.run(id);
    },
    list: () => (all.all() as TokenRow[]).map(toRecord),
    bySubject: (kind, subject) => (bySubject.all(kind, subject) as TokenRow[]).map(toRecord),
  };
}
