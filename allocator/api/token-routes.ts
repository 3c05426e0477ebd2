/**
 * `/tokens`: join tokens for new nodes (admins) and users' API tokens (a user its own, an admin
 * anyone's), listed and revoked. A user token minted here is the child of the caller's token. A token is shown once, in the answer that creates it; the store
 * keeps only its hash, so no route can ever show it again. Who may call which is permissions.ts's.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseDurationMs } from '../../common/resources.ts';
import { createJoinToken } from '../identity/nodes.ts';
import { createUserToken, revokeToken, type TokenRecord, type TokenStore } from '../identity/tokens.ts';
import { getUser } from '../store/access.ts';
import type { ApiContext } from './context.ts';
import { failRequest, parseInput, unwrap } from './errors.ts';

const TokenCreate = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('join') }),
  z.strictObject({
    kind: z.literal('user'),
    /** Whose token; default the caller. */
    user: z.string().min(1).optional(),
    /** A label ("laptop", "ci"). */
    name: z.string().min(1).max(100).optional(),
    /** How long it works, e.g. '30d' or '12h'; default forever. */
    expiresIn: z.string().min(1).optional(),
  }),
]);

const iso = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? null : new Date(ms).toISOString();

/** A token as listed: never its hash or secret. */
export function tokenView(t: TokenRecord) {
  return {
    id: t.id,
    kind: t.kind,
    subject: t.subject,
    name: t.name ?? null,
    createdAt: iso(t.createdMs),
    expiresAt: iso(t.expiresMs),
    revokedAt: iso(t.revokedMs),
    parent: t.parent ?? null,
  };
}

/**
 * `POST /tokens` (201 `{token, kind, id, ...}`; a user token's `expiresAt` is the effective one,
 * clamped to the caller's token), `GET /tokens` (`[{id, kind, subject, name, createdAt, expiresAt,
 * revokedAt, parent}]`) and `DELETE /tokens/:id` (revoke it and every token minted from it; the token
 * view).
 */
export function registerTokenRoutes(app: FastifyInstance, ctx: ApiContext, tokens: TokenStore): void {
  app.post('/tokens', async (request, reply) => {
    const body = parseInput(TokenCreate, request.body, 'token');
    if (body.kind === 'join')
      return reply.code(201).send({ token: createJoinToken(tokens), kind: body.kind });
    const nowMs = ctx.now();
    const user = body.user ?? request.caller?.user;
    if (user === undefined)
      failRequest('TESSERA_E_INVALID_SPEC', 'token field user: name the user the token is for', 'user');
    if (body.user !== undefined && getUser(ctx.db, user) === undefined)
      failRequest(
        'TESSERA_E_NOT_FOUND',
        `no user named ${user}; create it with tessera user create ${user}`,
        'user',
      );
    // The caller's token is the parent even when an admin mints for another user: what a token
    // mints never outlives it, nor survives its revocation.
    const options: Parameters<typeof createUserToken>[2] = { nowMs };
    if (request.caller !== null) options.parent = request.caller.tokenId;
    if (body.name !== undefined) options.name = body.name;
    if (body.expiresIn !== undefined) {
      const ms = unwrap(parseDurationMs(body.expiresIn, 'expiresIn'));
      if (ms <= 0)
        failRequest(
          'TESSERA_E_INVALID_DURATION',
          'token field expiresIn: must be longer than 0',
          'expiresIn',
        );
      options.expiresMs = nowMs + ms;
    }
    const token = createUserToken(tokens, user, options);
    const id = token.split('.')[1] ?? '';
    const record =
      tokens.get(id) ?? failRequest('TESSERA_E_INTERNAL', `token ${id} vanished after it was stored`);
    return reply.code(201).send({ token, ...tokenView(record) });
  });

  app.get('/tokens', async () => tokens.list().map(tokenView));

  app.delete<{ Params: { id: string } }>('/tokens/:id', async (request) => {
    const id = request.params.id;
    if (!revokeToken(tokens, id, ctx.now()))
      failRequest('TESSERA_E_NOT_FOUND', `no token ${id}; see tessera token list`);
    const record = tokens.get(id) ?? failRequest('TESSERA_E_NOT_FOUND', `no token ${id}`);
    return tokenView(record);
  });
}
