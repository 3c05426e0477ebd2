/**
 * Who may call a served workload: the holder of a user token that may read its project (the API's
 * own rule, identity/rbac.ts `read` on the project), or anyone when the workload is `public` and the
 * allocator allows public serving. 401 without a valid token, 403 without read access, in the API's
 * words. The proxy's HTTP route and its websocket upgrade both ask here.
 */
import { err, ok, type Result, tesseraError } from '../../common/errors.ts';
import { grantsOf, userOfBearer } from '../identity/callers.ts';
import { can } from '../identity/rbac.ts';
import { bearerOf, type TokenStore } from '../identity/tokens.ts';
import { projectDepartments } from '../store/access.ts';
import type { Db } from '../store/db.ts';
import type { WorkloadRecord } from '../store/workloads.ts';

/** What the access check needs. */
export interface ServeAccess {
  db: Db;
  /** Absent: an open allocator (no tokens), where anyone may call. */
  tokens: TokenStore | undefined;
  now: () => number;
  /** Whether a spec's `public: true` opens a workload to callers without a token. */
  allowPublic: boolean;
}

/** Ok when the caller presenting `authorization` may call workload `w` (in `project`). */
export function checkServeAccess(
  access: ServeAccess,
  authorization: string | undefined,
  project: string,
  w: Pick<WorkloadRecord, 'name' | 'spec'> | undefined,
): Result<void> {
  if (access.tokens === undefined) return ok(undefined);
  if (w?.spec.public === true && access.allowPublic) return ok(undefined);
  const bearer = bearerOf(authorization);
  if (bearer === null)
    return err(
      tesseraError(
        'TESSERA_E_UNAUTHENTICATED',
        `no API token: send Authorization: Bearer <token> with a token that may read project ${project} (tessera login stores one; tessera token create makes one)`,
      ),
    );
  const who = userOfBearer(access.tokens, bearer, access.now());
  if (who === null)
    return err(
      tesseraError(
        'TESSERA_E_UNAUTHENTICATED',
        'this token is not a valid API token (unknown, expired or revoked, or an agent credential); ask an admin for one: tessera token create --user NAME',
      ),
    );
  const scope = {
    kind: 'project' as const,
    project,
    department: projectDepartments(access.db).get(project) ?? null,
  };
  if (can(grantsOf(access.db, who.user), 'read', scope)) return ok(undefined);
  return err(
    tesseraError(
      'TESSERA_E_FORBIDDEN',
      `${who.user} may not call workloads of project ${project}: it needs role viewer on project/${project}; an admin can run: tessera access grant ${who.user} viewer project/${project}`,
    ),
  );
}
