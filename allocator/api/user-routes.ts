/**
 * `/users`, `/access-rules` and `/whoami`: an admin creates users and grants them roles
 * on scopes; anyone asks who its token says it is and what it may do. Deleting a user revokes its
 * tokens. Who may call which is permissions.ts's.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { revokeToken, type TokenStore } from '../identity/tokens.ts';
import {
  type AccessRuleRecord,
  createUser,
  deleteUser,
  grantAccess,
  listAccessRules,
  listUsers,
  revokeAccess,
  type UserRecord,
} from '../store/access.ts';
import type { ApiContext } from './context.ts';
import { failRequest, parseInput, unwrap } from './errors.ts';

const UserCreate = z.strictObject({ name: z.string().min(1) });
const RuleCreate = z.strictObject({
  subject: z.string().min(1),
  role: z.string().min(1),
  scope: z.string().min(1),
});

const userView = (u: UserRecord) => ({ name: u.name, createdAt: new Date(u.createdMs).toISOString() });

/** An access rule on the wire. */
export const ruleView = (r: AccessRuleRecord) => ({
  id: r.id,
  subject: r.subject,
  role: r.role,
  scope: r.scope,
  createdAt: new Date(r.createdMs).toISOString(),
});

/** Registers the user, access-rule and whoami routes. */
export function registerUserRoutes(app: FastifyInstance, ctx: ApiContext, tokens: TokenStore): void {
  app.get('/whoami', async (request) => {
    const user = request.caller?.user ?? failRequest('TESSERA_E_UNAUTHENTICATED', 'no caller');
    return { user, rules: listAccessRules(ctx.db, user).map(ruleView) };
  });

  app.post('/users', async (request, reply) => {
    const body = parseInput(UserCreate, request.body, 'user');
    return reply.code(201).send(userView(unwrap(createUser(ctx.db, body.name, ctx.now()))));
  });

  app.get('/users', async () => listUsers(ctx.db).map(userView));

  app.delete<{ Params: { name: string } }>('/users/:name', async (request, reply) => {
    const name = request.params.name;
    unwrap(deleteUser(ctx.db, name));
    const nowMs = ctx.now();
    for (const t of tokens.bySubject('user', name)) revokeToken(tokens, t.id, nowMs);
    return reply.code(204).send();
  });

  app.post('/access-rules', async (request, reply) => {
    const body = parseInput(RuleCreate, request.body, 'access rule');
    return reply.code(201).send(ruleView(unwrap(grantAccess(ctx.db, body, ctx.now()))));
  });

  app.get('/access-rules', async () => listAccessRules(ctx.db).map(ruleView));

  app.delete<{ Params: { id: string } }>('/access-rules/:id', async (request) => {
    const id = Number(request.params.id);
    if (!Number.isSafeInteger(id) || id <= 0)
      failRequest(
        'TESSERA_E_INVALID_SPEC',
        `access rule id '${request.params.id}' is not a number; see tessera access list`,
        'id',
      );
    return ruleView(unwrap(revokeAccess(ctx.db, id)));
  });
}
