/** Probes outside /api/v1 and open without a token, as kubelets and load balancers expect. */
import type { FastifyInstance } from 'fastify';
import { tesseraError } from '../../common/errors.ts';
import { type Db, ping } from '../store/db.ts';
import { ApiError } from './errors.ts';

/** `/healthz`: the process serves. `/readyz`: and its database answers a query. */
export function registerHealth(app: FastifyInstance, db: Db): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async () => {
    try {
      ping(db);
    } catch (e) {
      // Not ready rather than crashed: the probe reports it and the orchestrator stops routing here;
      // the error handler logs the database's stack under the request id.
      throw new ApiError(
        tesseraError(
          'TESSERA_E_INTERNAL',
          `database not answering: ${e instanceof Error ? e.message : String(e)}`,
        ),
        e,
      );
    }
    return { status: 'ready' };
  });
}
