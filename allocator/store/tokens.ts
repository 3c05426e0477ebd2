/**
 * The link's and the API's tokens in the store (migrations 2, 4 and 7), behind identity/tokens.ts
 * `TokenStore`, so join tokens, node credentials and user tokens survive an allocator restart.
 * Only hashes are kept; a revoked token keeps its row (with `revoked_ms`) so `token list` shows it.
 */
import type { TokenKind, TokenRecord, TokenStore } from '../identity/tokens.ts';
import type { Db } from './db.ts';

interface TokenRow {
  id: string;
  kind: string;
  subject: string | null;
  hash: Buffer;
  created_ms: number;
  expires_ms: number | null;
  revoked_ms: number | null;
  name: string | null;
  parent: string | null;
}

const COLUMNS = 'id, kind, subject, hash, created_ms, expires_ms, revoked_ms, name, parent';

function toRecord(r: TokenRow): TokenRecord {
  // Only kinds written through `put` from a typed TokenRecord are stored.
  return {
    id: r.id,
    kind: r.kind as TokenKind,
    subject: r.subject,
    hash: r.hash,
    createdMs: r.created_ms,
    expiresMs: r.expires_ms,
    revokedMs: r.revoked_ms,
    name: r.name,
    parent: r.parent,
  };
}

/** A TokenStore over the store's tokens table; `now` stamps new rows that carry no `createdMs`. */
export function sqliteTokenStore(db: Db, now: () => number = Date.now): TokenStore {
  const get = db.prepare(`SELECT ${COLUMNS} FROM tokens WHERE id = ?`);
  const put = db.prepare(
    `INSERT INTO tokens (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET ${COLUMNS.split(', ')
       .filter((c) => c !== 'id')
       .map((c) => `${c} = excluded.${c}`)
       .join(', ')}`,
  );
  const del = db.prepare('DELETE FROM tokens WHERE id = ?');
  const all = db.prepare(`SELECT ${COLUMNS} FROM tokens ORDER BY created_ms, id`);
  const bySubject = db.prepare(`SELECT ${COLUMNS} FROM tokens WHERE kind = ? AND subject = ?`);
  const byParent = db.prepare(`SELECT ${COLUMNS} FROM tokens WHERE parent = ?`);
  return {
    get: (id) => {
      const r = get.get(id) as TokenRow | undefined;
      return r === undefined ? undefined : toRecord(r);
    },
    put: (r) => {
      put.run(
        r.id,
        r.kind,
        r.subject,
        r.hash,
        r.createdMs ?? now(),
        r.expiresMs ?? null,
        r.revokedMs ?? null,
        r.name ?? null,
        r.parent ?? null,
      );
    },
    delete: (id) => {
      del.run(id);
    },
    list: () => (all.all() as TokenRow[]).map(toRecord),
    bySubject: (kind, subject) => (bySubject.all(kind, subject) as TokenRow[]).map(toRecord),
    byParent: (id) => (byParent.all(id) as TokenRow[]).map(toRecord),
  };
}
