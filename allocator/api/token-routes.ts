/**
 * `/tokens`: mint join tokens for new nodes and list what tokens exist. A token is shown once, in
 * the answer that creates it; the store keeps only its hash, so neither route can ever show it again.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { createJoinToken, type TokenStore } from '../link/tokens.ts';
import type { ApiContext } from './context.ts';
import { parseInput } from './errors.ts';

// Only join tokens for now: user tokens come with users and roles (issue 5), node credentials are
// issued by the link itself when a node joins.
const TokenCreate = z.strictObject({ kind: z.literal('join') });

/** `POST /tokens` (201 `{token, kind}`) and `GET /tokens` (`[{id, kind, subject}]`, never a hash). */
export function registerTokenRoutes(app: FastifyInstance, _ctx: ApiContext, tokens: TokenStore): void {
  app.post('/tokens', async (request, reply) => {
    const body = parseInput(TokenCreate, request.body, 'token');
    return reply.code(201).send({ token: createJoinToken(tokens), kind: body.kind });
  });

  app.get('/tokens', async () => tokens.list().map((t) => ({ id: t.id, kind: t.kind, subject: t.subject })));
}
