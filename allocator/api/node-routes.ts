/**
 * Nodes: agents register them over the link, so the API reads, labels, cordons and deletes them.
 * An admin's labels are stored apart from the agent's and win over them, so the next report from
 * the agent does not erase them (docs/architecture.md §7: nodes read, label, cordon).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { forceDeleteNode } from '../lifecycle/reports.ts';
import { deleteNode, getNode, listNodes, setAdminLabels, setCordoned } from '../store/nodes.ts';
import type { ApiContext } from './context.ts';
import { failRequest, parseInput, unwrap } from './errors.ts';
import { nodeView } from './views.ts';

const NodePatch = z.strictObject({
  cordoned: z.boolean().optional(),
  /** Admin labels to set (a string) or remove (null); the agent's own labels cannot be removed here. */
  labels: z.record(z.string().min(1).max(253), z.string().max(253).nullable()).optional(),
});

type NameParams = { Params: { name: string } };

const ForceQuery = z.strictObject({ force: z.enum(['true', 'false']).optional() });

/** `/nodes`: list, get, PATCH `cordoned` and admin `labels`, delete (refused while pods hold the node). */
export function registerNodeRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const nodeOf = (name: string) =>
    getNode(ctx.db, name) ?? failRequest('TESSERA_E_NOT_FOUND', `no node named ${name}`);

  app.get('/nodes', async () => listNodes(ctx.db).map(nodeView));

  app.get<NameParams>('/nodes/:name', async (request) => nodeView(nodeOf(request.params.name)));

  app.patch<NameParams>('/nodes/:name', async (request) => {
    const node = nodeOf(request.params.name);
    const body = parseInput(NodePatch, request.body, 'node');
    let updated = node;
    if (body.labels !== undefined) updated = unwrap(setAdminLabels(ctx.db, node.name, body.labels));
    if (body.cordoned !== undefined && body.cordoned !== node.cordoned)
      updated = unwrap(setCordoned(ctx.db, node.name, body.cordoned));
    // Labels move nodes between pools and change what fits where; cordon changes where pods may land.
    if (updated !== node) ctx.changed('node-changed');
    return nodeView(updated);
  });

  // `?force=true` declares a lost node dead: its pods are replaced (lifecycle forceDeleteNode).
  app.delete<NameParams & { Querystring: { force?: string } }>('/nodes/:name', async (request, reply) => {
    const force = parseInput(ForceQuery, request.query ?? {}, 'query').force === 'true';
    if (force) unwrap(forceDeleteNode(ctx.db, request.params.name, ctx.now()));
    else unwrap(deleteNode(ctx.db, request.params.name));
    ctx.changed('node-changed');
    return reply.code(204).send();
  });
}
