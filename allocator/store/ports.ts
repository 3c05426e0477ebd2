/**
 * Host ports for pods: each named port of a pod gets one port of its node's range when the pod is
 * bound, the lowest one no other pod on that node holds. Pods share the host's network, so this is
 * what keeps two of them from binding the same port. The scheduler has already counted the ports
 * (placement/mutate.ts charges them like CPU), so a bind finds enough free.
 */
import type { Db } from './db.ts';
import { fail } from './errors.ts';
import { getNode } from './nodes.ts';
import { SCHEDULED_POD_PHASES } from './pods.ts';

const SCHEDULED = SCHEDULED_POD_PHASES.map((p) => `'${p}'`).join(', ');

/** The host ports `node`'s pods hold, apart from pod `except`: those placed, and those being stopped. */
function heldPorts(
  db: Db,
  node: string,
  except: { workload: string; pod: string },
): {
  placed: Set<number>;
  stopping: Set<number>;
} {
  const rows = db
    .prepare(
      `SELECT ports, phase IN (${SCHEDULED}) AS placed FROM pods
       WHERE node = ? AND ports IS NOT NULL AND (phase IN (${SCHEDULED}) OR phase = 'Stopping')
       AND NOT (workload = ? AND name = ?)`,
    )
    .all(node, except.workload, except.pod) as { ports: string; placed: number }[];
  const placed = new Set<number>();
  const stopping = new Set<number>();
  for (const r of rows)
    for (const port of Object.values(JSON.parse(r.ports) as Record<string, number>))
      (r.placed === 1 ? placed : stopping).add(port);
  return { placed, stopping };
}

/**
 * Assigns pod `pod` of `workload`, being bound to `node`, one host port per name in `names`: the
 * lowest of the node's range no placed pod holds, preferring ports no pod being stopped still holds
 * (the dispatcher holds a StartPod behind such a stop, as it does for a GPU). Throws StoreError when
 * the node reports no range or too few ports are left: the scheduler counted them, so that is a bug,
 * and the plan's transaction rolls back.
 */
export function assignPorts(
  db: Db,
  node: string,
  ref: { workload: string; pod: string },
  names: readonly string[],
): Record<string, number> {
  if (names.length === 0) return {};
  const range = getNode(db, node)?.network?.portRange;
  if (range === undefined)
    fail(
      'TESSERA_E_CONFLICT',
      `pod ${ref.pod} needs ${names.length} host port(s), and node ${node} reports no port range`,
      {
        workload: ref.workload,
        node,
      },
    );
  const { placed, stopping } = heldPorts(db, node, ref);
  const free: number[] = [];
  const shared: number[] = [];
  for (let p = range.first; p <= range.last && free.length < names.length; p++) {
    if (placed.has(p)) continue;
    if (stopping.has(p)) shared.push(p);
    else free.push(p);
  }
  const chosen = [...free, ...shared].slice(0, names.length).sort((a, b) => a - b);
  if (chosen.length < names.length)
    fail(
      'TESSERA_E_CONFLICT',
      `node ${node} has ${chosen.length} free host port(s) in ${range.first}-${range.last}, and pod ${ref.pod} needs ${names.length}`,
      { workload: ref.workload, node },
    );
  const out: Record<string, number> = {};
  for (const [i, name] of names.entries()) out[name] = chosen[i] as number;
  return out;
}
