/** Probes outside /api/v1 and open without a token, as kubelets and load balancers expect. */
import type { FastifyInstance } from 'fastify';
import { tesseraError } from '../../common/errors.ts';
import type { Db } from '../store/db.ts';
import { sendError } from './errors.ts';

/** `/healthz`: the process serves. `/readyz`: and its database answers a query. */
export function registerHealth(app: FastifyInstance, db: Db): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    try {
      db.prepare('SELECT 1').get();
    } catch (e) {
      // Not ready rather than crashed: the probe reports it and the orchestrator stops routing here.
      return sendError(
        reply,
        tesseraError(
          'TESSERA_E_INTERNAL',
          `database not answering: ${e instanceof Error ? e.message : String(e)}`,
        ),
      );
    }
    return { status: 'ready' };
  });
}
