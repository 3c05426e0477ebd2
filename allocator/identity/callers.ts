/**
 * Who an API caller is and what it holds: the user its bearer token names, that token's id, and the
 * user's access rules resolved to grants that rbac.ts `can` takes. The API turns a missing or bad
 * token into its 401; what each route needs is api/permissions.ts's.
 */
import { listAccessRules, projectDepartments } from '../store/access.ts';
import type { Db } from '../store/db.ts';
import { type Grant, parseScopeName } from './rbac.ts';
import { authenticate, type TokenStore, tokenIdOf } from './tokens.ts';

/** Who is calling: the user a token names, that token's id, and the user's access rules. */
export interface Caller {
  user: string;
  /** The id of the token the request came with; a token it mints records it as its parent. */
  tokenId: string;
  grants: Grant[];
}

/**
 * The user `bearer` names at `nowMs` and its token's id, or null when it is no valid user token
 * (unknown, expired or revoked, or an agent's join token or node credential).
 */
export function userOfBearer(
  tokens: TokenStore,
  bearer: string,
  nowMs: number,
): { user: string; tokenId: string } | null {
  const who = authenticate(tokens, bearer, nowMs);
  if (who === null || who.kind !== 'user') return null;
  // Authenticated, so the bearer has the `tu.<id>.<secret>` shape.
  return { user: who.user, tokenId: tokenIdOf(bearer) ?? '' };
}

/** `user`'s rules as `can` takes them; a rule whose department or project is gone covers only its name. */
export function grantsOf(db: Db, user: string): Grant[] {
  const departments = projectDepartments(db);
  return listAccessRules(db, user).flatMap((r): Grant[] => {
    const parsed = parseScopeName(r.scope);
    if (parsed === null) return [];
    if (parsed.kind === 'cluster') return [{ role: r.role, scope: { kind: 'cluster' } }];
    if (parsed.kind === 'department')
      return [{ role: r.role, scope: { kind: 'department', department: parsed.name } }];
    return [
      {
        role: r.role,
        scope: { kind: 'project', project: parsed.name, department: departments.get(parsed.name) ?? null },
      },
    ];
  });
}
