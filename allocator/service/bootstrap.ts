/**
 * An allocator's first start in a data dir: a join token for agents and an admin token for
 * the API, each written to a 0600 file beside the database, and a default department and project.
 * Later starts keep whatever is there: a token file that still authenticates is reused.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../../common/atomic-file.mjs';
import { tesseraError } from '../../common/errors.ts';
import { createJoinToken, registerJoinToken } from '../identity/nodes.ts';
import { authenticate, createUserToken, type TokenStore } from '../identity/tokens.ts';
import { ensureAccess, ensureUser } from '../store/access.ts';
import type { Db } from '../store/db.ts';
import { StoreError } from '../store/errors.ts';
import { createDepartment, createProject, listQueues } from '../store/org.ts';

/** File names in the data dir. */
export const JOIN_TOKEN_FILE = 'join-token';
export const ADMIN_TOKEN_FILE = 'admin-token';
export const ALLOCATOR_FILE = 'allocator.json';

/** The organisation a fresh allocator starts with, so `tessera submit -p main` works at once. */
export const DEFAULT_DEPARTMENT = 'default';
export const DEFAULT_PROJECT = 'main';

/** The user the first admin token belongs to. */
export const ADMIN_USER = 'admin';

/** What bootstrap found or made. */
export interface Bootstrapped {
  joinToken: string;
  adminToken: string;
  /** True when this start created the default organisation (a fresh data dir). */
  fresh: boolean;
}

/** Reads a token file if it still names a token of `kind`; else null. */
function reusable(file: string, tokens: TokenStore, kind: 'join' | 'user'): string | null {
  if (!existsSync(file)) return null;
  const token = readFileSync(file, 'utf8').trim();
  return authenticate(tokens, token)?.kind === kind ? token : null;
}

/** Writes a secret readable by its owner only, whatever the umask; a reader never sees half of it. */
export function writeSecret(file: string, secret: string): void {
  writeFileAtomicSync(file, `${secret}\n`, { mode: 0o600 });
}

/** Ensures the tokens and the default organisation exist; returns the tokens. */
export function bootstrap(
  db: Db,
  tokens: TokenStore,
  dataDir: string,
  nowMs: number,
  presetJoinToken?: string,
): Bootstrapped {
  const joinFile = join(dataDir, JOIN_TOKEN_FILE);
  const adminFile = join(dataDir, ADMIN_TOKEN_FILE);
  let joinToken: string | null = null;
  if (presetJoinToken !== undefined) {
    joinToken = registerJoinToken(tokens, presetJoinToken);
    if (joinToken === null)
      throw new StoreError(
        tesseraError(
          'TESSERA_E_INVALID_CONFIG',
          'the preset join token (TESSERA_JOIN_TOKEN) must look like tj.<8-32 letters or digits>.<32+ characters of A-Z a-z 0-9 _ ->, and its id must not belong to another token',
          { field: 'TESSERA_JOIN_TOKEN' },
        ),
      );
    writeSecret(joinFile, joinToken);
  }
  joinToken ??= reusable(joinFile, tokens, 'join');
  if (joinToken === null) {
    joinToken = createJoinToken(tokens);
    writeSecret(joinFile, joinToken);
  }
  let adminToken = reusable(adminFile, tokens, 'user');
  if (adminToken === null) {
    ensureUser(db, ADMIN_USER, nowMs);
    adminToken = createUserToken(tokens, ADMIN_USER);
    writeSecret(adminFile, adminToken);
  }
  // Every start, so a data dir from before access rules existed still has an admin.
  ensureAccess(db, ADMIN_USER, 'admin', 'cluster', nowMs);
  const fresh = listQueues(db).length === 0;
  if (fresh) {
    const d = createDepartment(db, DEFAULT_DEPARTMENT, nowMs);
    if (!d.ok) throw new Error(d.error.message);
    const p = createProject(db, DEFAULT_PROJECT, DEFAULT_DEPARTMENT, nowMs);
    if (!p.ok) throw new Error(p.error.message);
  }
  return { joinToken, adminToken, fresh };
}
