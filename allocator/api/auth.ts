/**
 * Who is calling: every `/api/v1` request carries `Authorization: Bearer <user token>`
 * (ARCHITECTURE 7). Checked in `onRequest`, before the body is read. Issue 5 adds roles and scopes
 * on top of the identity found here; until then any user token may do everything.
 */
import type { FastifyInstance } from 'fastify';
import { authenticate, bearerOf, type TokenStore } from '../link/tokens.ts';
import { fail } from './errors.ts';

/** Refuses any request in `app`'s scope without a valid user token (401). */
export function requireUserToken(app: FastifyInstance, tokens: TokenStore): void {
  app.addHook('onRequest', async (request) => {
    const bearer = bearerOf(request.headers.authorization);
    if (bearer === null)
      fail(
        'TESSERA_E_UNAUTHENTICATED',
        'no API token: send Authorization: Bearer <token> (tessera up prints one and writes it to DATA/admin-token)',
      );
    const who = authenticate(tokens, bearer);
    if (who === null || who.kind !== 'user')
      fail('TESSERA_E_UNAUTHENTICATED', 'this token is not a valid API token; ask an admin for one');
  });
}
