/**
 * Where an allocator stands among those sharing its database, open without a token like /healthz:
 * `GET /leader` says its role, the lease's epoch and the leader's URL; `GET /readyz/leader` answers
 * 200 on the leader only, for a load balancer or Service that must reach the leader itself.
 */
import type { FastifyInstance } from 'fastify';
import { tesseraError } from '../../common/errors.ts';
import { sendError } from '../api/errors.ts';
import type { AllocatorRole } from '../service/types.ts';

/** Paths of these routes: a standby answers them itself (ha/forward.ts). */
export const ROLE_PATHS: readonly string[] = ['/leader', '/readyz/leader'];

/** Registers `/leader` and `/readyz/leader` on `app`. */
export function registerRoleRoutes(app: FastifyInstance, role: () => AllocatorRole): void {
  app.get('/leader', async () => role());
  app.get('/readyz/leader', async (_request, reply) => {
    const r = role();
    if (r.role === 'leader') return { status: 'leader', epoch: r.epoch };
    return sendError(
      reply,
      tesseraError(
        'TESSERA_E_UNAVAILABLE',
        r.leaderUrl === null
          ? `this allocator is a ${r.role} and none leads right now`
          : `this allocator is a ${r.role}; the leader is ${r.leaderUrl}`,
      ),
    );
  });
}
