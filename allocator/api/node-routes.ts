/**
 * Nodes: agents register them over the link (issue 4's wire), so the API only reads, cordons and
 * deletes them. Labels are not writable here yet: the store's `upsertNode` replaces labels on every
 * agent report, so an admin's label would vanish at the next heartbeat. That needs admin labels
 * stored apart from reported ones; until then a `labels` field is refused with that reason.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { deleteNode, getNode, listNodes, setCordoned } from '../store/nodes.ts';
import type { ApiContext } from './context.ts';
import { fail, parseInput, unwrap } from './errors.ts';
import { nodeView } from './views.ts';

const NodePatch = z.strictObject({
  cordoned: z.boolean().optional(),
  labels: z.record(z.string(), z.string()).optional(),
});

type NameParams = { Params: { name: string } };

/** `/nodes`: list, get, PATCH `cordoned`, delete (refused while pods hold the node). */
export function registerNodeRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const nodeOf = (name: string) =>
    getNode(ctx.db, name) ?? fail('TESSERA_E_NOT_FOUND', `no node named ${name}`);

  app.get('/nodes', async () => listNodes(ctx.db).map(nodeView));

  app.get<NameParams>('/nodes/:name', async (request) => nodeView(nodeOf(request.params.name)));

  app.patch<NameParams>('/nodes/:name', async (request) => {
    const node = nodeOf(request.params.name);
    const body = parseInput(NodePatch, request.body, 'node');
    if (body.labels !== undefined)
      fail(
        'TESSERA_E_INVALID_SPEC',
        'labels: node labels come from the agent and are replaced on every report; set them in the agent configuration',
        'labels',
      );
    if (body.cordoned === undefined || body.cordoned === node.cordoned) return nodeView(node);
    const updated = unwrap(setCordoned(ctx.db, node.name, body.cordoned));
    ctx.changed('node-changed');
    return nodeView(updated);
  });

  app.delete<NameParams>('/nodes/:name', async (request, reply) => {
    unwrap(deleteNode(ctx.db, request.params.name));
    ctx.changed('node-changed');
    return reply.code(204).send();
  });
}
