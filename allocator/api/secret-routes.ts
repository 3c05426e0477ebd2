/**
 * A project's registry secrets (common/registry-secret.ts): list, create, create-or-replace and
 * delete under `/projects/:project/secrets`. Write-only: the password goes in with a create or a
 * replace and no route answers it, not even to an admin; the only reader is dispatch, which puts it
 * in the StartPod of a pod whose workload names the secret. `registry` in the path is the secret's
 * type, so another kind of secret can have its own routes later.
 */
import type { FastifyInstance } from 'fastify';
import { parseRegistrySecretInput } from '../../common/registry-secret.ts';
import {
  deleteRegistrySecret,
  listRegistrySecrets,
  putRegistrySecret,
  type RegistrySecretInfo,
} from '../store/registry-secrets.ts';
import type { ApiContext } from './context.ts';
import { failRequest, unwrap } from './errors.ts';

type ProjectParams = { Params: { project: string } };
type SecretParams = { Params: { project: string; name: string } };

/** A secret as the API shows it: never its password. */
export function registrySecretView(s: RegistrySecretInfo) {
  return {
    project: s.project,
    name: s.name,
    type: 'registry' as const,
    server: s.server,
    username: s.username,
    createdAt: new Date(s.createdMs).toISOString(),
    updatedAt: new Date(s.updatedMs).toISOString(),
  };
}

/** `/projects/:project/secrets` and its registry secrets. */
export function registerSecretRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<ProjectParams>('/projects/:project/secrets', async (request) =>
    unwrap(listRegistrySecrets(ctx.db, request.params.project)).map(registrySecretView),
  );

  app.post<ProjectParams>('/projects/:project/secrets/registry', async (request, reply) => {
    const input = unwrap(parseRegistrySecretInput(request.body));
    const saved = unwrap(
      putRegistrySecret(ctx.db, request.params.project, input, ctx.now(), { replace: false }),
    );
    return reply.code(201).send(registrySecretView(saved));
  });

  app.put<SecretParams>('/projects/:project/secrets/registry/:name', async (request) => {
    // The name is the path's; a body may repeat it but not contradict it.
    const body = request.body;
    const named =
      typeof body === 'object' && body !== null && !Array.isArray(body)
        ? { name: request.params.name, ...body }
        : body;
    const input = unwrap(parseRegistrySecretInput(named));
    if (input.name !== request.params.name)
      failRequest(
        'TESSERA_E_INVALID_SPEC',
        `registry secret name: the body names ${input.name} but the path ${request.params.name}; leave name out of the body`,
        'name',
      );
    const saved = unwrap(
      putRegistrySecret(ctx.db, request.params.project, input, ctx.now(), { replace: true }),
    );
    return registrySecretView(saved);
  });

  app.delete<SecretParams>('/projects/:project/secrets/registry/:name', async (request) => {
    const { project, name } = request.params;
    unwrap(deleteRegistrySecret(ctx.db, project, name));
    return { project, name, deleted: true };
  });
}
