/**
 * Nodes as their agents report them, plus the allocator's own marks: cordoned (by an admin) and
 * lost (its lease expired). Either mark makes a node unschedulable.
 */
import type { Result } from '../../common/errors.ts';
import type { NodeNetwork } from '../../common/wire-types.ts';
import type { GpuSnap } from '../scheduler/snapshot.ts';
import { type Db, inTransaction } from './db.ts';
import { fail, guard } from './errors.ts';
import { ACTIVE_POD_PHASES } from './pods.ts';

const ACTIVE = ACTIVE_POD_PHASES.map((p) => `'${p}'`).join(', ');

/** A node as stored. */
export interface NodeRecord {
  name: string;
  /** The labels that count: the agent's, with the admin's on top. */
  labels: Record<string, string>;
  /** Labels an admin set through the API; they win over the agent's and survive its reports. */
  adminLabels: Record<string, string>;
  gpus: GpuSnap[];
  cpuMillis: number;
  memoryMiB: number;
  /** What the agent reports (e.g. false while draining itself). */
  schedulable: boolean;
  cordoned: boolean;
  lastSeenMs: number;
  lost: boolean;
  /** Its pods' address and the host ports the allocator gives them; null: not reported (no ports here). */
  network: NodeNetwork | null;
}

/** What an agent reports about its node. */
export type NodeReport = Pick<NodeRecord, 'name' | 'labels' | 'gpus' | 'cpuMillis' | 'memoryMiB'> & {
  schedulable?: boolean;
  /** Absent: as null, none reported. */
  network?: NodeNetwork | null;
};

/** A `nodes` row as SQL returns it. */
export interface NodeRow {
  name: string;
  labels: string;
  admin_labels: string;
  gpus: string;
  cpu_millis: number;
  memory_mib: number;
  schedulable: number;
  cordoned: number;
  last_seen_ms: number;
  lost: number;
  address: string | null;
  port_first: number | null;
  port_last: number | null;
}

function toNode(r: NodeRow): NodeRecord {
  return {
    name: r.name,
    // JSON written by upsertNode from typed values.
    labels: {
      ...(JSON.parse(r.labels) as Record<string, string>),
      ...(JSON.parse(r.admin_labels) as Record<string, string>),
    },
    adminLabels: JSON.parse(r.admin_labels) as Record<string, string>,
    gpus: JSON.parse(r.gpus) as GpuSnap[],
    cpuMillis: r.cpu_millis,
    memoryMiB: r.memory_mib,
    schedulable: r.schedulable === 1,
    cordoned: r.cordoned === 1,
    lastSeenMs: r.last_seen_ms,
    lost: r.lost === 1,
    network:
      r.address === null || r.port_first === null || r.port_last === null
        ? null
        : { address: r.address, portRange: { first: r.port_first, last: r.port_last } },
  };
}

/** Registers a node or refreshes its inventory; a report also means it is seen and no longer lost. */
export function upsertNode(db: Db, report: NodeReport, nowMs: number): NodeRecord {
  db.prepare(
    `INSERT INTO nodes (name, labels, gpus, cpu_millis, memory_mib, schedulable, last_seen_ms, lost,
       address, port_first, port_last)
     VALUES (@name, @labels, @gpus, @cpu, @mem, @sched, @now, 0, @address, @portFirst, @portLast)
     ON CONFLICT(name) DO UPDATE SET labels = excluded.labels, gpus = excluded.gpus,
       cpu_millis = excluded.cpu_millis, memory_mib = excluded.memory_mib,
       schedulable = excluded.schedulable, last_seen_ms = excluded.last_seen_ms, lost = 0,
       address = excluded.address, port_first = excluded.port_first, port_last = excluded.port_last`,
  ).run({
    address: report.network?.address ?? null,
    portFirst: report.network?.portRange.first ?? null,
    portLast: report.network?.portRange.last ?? null,
    name: report.name,
    labels: JSON.stringify(report.labels),
    gpus: JSON.stringify(report.gpus),
    cpu: report.cpuMillis,
    mem: report.memoryMiB,
    sched: report.schedulable === false ? 0 : 1,
    now: nowMs,
  });
  return getNode(db, report.name) as NodeRecord;
}

/** One node, or undefined. */
export function getNode(db: Db, name: string): NodeRecord | undefined {
  const r = db.prepare('SELECT * FROM nodes WHERE name = ?').get(name) as NodeRow | undefined;
  return r === undefined ? undefined : toNode(r);
}

/**
 * Each node's address, for the nodes that report one: what a pod's endpoints are built from. Given
 * `names` (pods' nodes, null for unplaced ones, repeats allowed), only those nodes are read: a
 * proxied request needs its replicas' few, not the cluster's.
 */
export function nodeAddresses(db: Db, names?: readonly (string | null)[]): Map<string, string> {
  const wanted = names === undefined ? undefined : [...new Set(names)].filter((n) => n !== null);
  if (wanted !== undefined && wanted.length === 0) return new Map();
  const only = wanted === undefined ? '' : ` AND name IN (${wanted.map(() => '?').join(', ')})`;
  const rows = db
    .prepare(`SELECT name, address FROM nodes WHERE address IS NOT NULL${only}`)
    .all(...(wanted ?? [])) as { name: string; address: string }[];
  return new Map(rows.map((r) => [r.name, r.address]));
}

/** Every node, by name. */
export function listNodes(db: Db): NodeRecord[] {
  return (db.prepare('SELECT * FROM nodes ORDER BY name').all() as NodeRow[]).map(toNode);
}

/**
 * Marks `name` reset by an admin: its name is open to one join token (identity/nodes.ts). False
 * when there is no such node record.
 */
export function markNodeReset(db: Db, name: string, nowMs: number): boolean {
  return db.prepare('UPDATE nodes SET reset_ms = ? WHERE name = ?').run(nowMs, name).changes > 0;
}

/** Whether `name` has a node record and, if so, when an admin last reset it (null: registered). */
export function nodeRegistration(db: Db, name: string): { resetMs: number | null } | undefined {
  const r = db.prepare('SELECT reset_ms FROM nodes WHERE name = ?').get(name) as
    | { reset_ms: number | null }
    | undefined;
  return r === undefined ? undefined : { resetMs: r.reset_ms };
}

/** Clears the reset mark once a join token registered the name again. */
export function clearNodeReset(db: Db, name: string): void {
  db.prepare('UPDATE nodes SET reset_ms = NULL WHERE name = ?').run(name);
}

/**
 * Records when each node's agent was last heard from (node name -> ms), in one transaction: the
 * link gathers them in memory and writes them once per lease check, not once per frame.
 */
export function touchNodes(db: Db, heard: ReadonlyMap<string, number>): void {
  const touch = db.prepare('UPDATE nodes SET last_seen_ms = ?, lost = 0 WHERE name = ?');
  inTransaction(db, () => {
    for (const [name, ms] of heard) touch.run(ms, name);
  });
}

/**
 * Gives every node not already lost a lease from `nowMs`: after an allocator start nobody can tell
 * how long they were silent while it was down, and their agents have been redialling all along.
 */
export function renewLeases(db: Db, nowMs: number): void {
  db.prepare(
    'UPDATE nodes SET last_seen_ms = CASE WHEN last_seen_ms > @now THEN last_seen_ms ELSE @now END WHERE lost = 0',
  ).run({ now: nowMs });
}

/**
 * Merges `changes` into the node's admin labels: a string sets a label, null removes the admin's
 * value (the agent's own, if any, shows again).
 */
export function setAdminLabels(
  db: Db,
  name: string,
  changes: Readonly<Record<string, string | null>>,
): Result<NodeRecord> {
  return guard(() =>
    inTransaction(db, () => {
      const node = getNode(db, name);
      if (node === undefined) fail('TESSERA_E_NOT_FOUND', `no node named ${name}`, { node: name });
      const next: Record<string, string> = { ...node.adminLabels };
      for (const [k, v] of Object.entries(changes)) {
        if (v === null) delete next[k];
        else next[k] = v;
      }
      db.prepare('UPDATE nodes SET admin_labels = ? WHERE name = ?').run(JSON.stringify(next), name);
      return getNode(db, name) as NodeRecord;
    }),
  );
}

/** Cordons (true) or uncordons (false) a node: nothing new lands there, running pods stay. */
export function setCordoned(db: Db, name: string, cordoned: boolean): Result<NodeRecord> {
  return guard(() => {
    const n = db.prepare('UPDATE nodes SET cordoned = ? WHERE name = ?').run(cordoned ? 1 : 0, name).changes;
    if (n === 0) fail('TESSERA_E_NOT_FOUND', `no node named ${name}`, { node: name });
    return getNode(db, name) as NodeRecord;
  });
}

/** Marks nodes silent since before `nowMs - leaseMs` as lost; returns their names. */
export function markLostNodes(db: Db, nowMs: number, leaseMs: number): string[] {
  const rows = db
    .prepare('UPDATE nodes SET lost = 1 WHERE lost = 0 AND last_seen_ms < ? RETURNING name')
    .all(nowMs - leaseMs) as { name: string }[];
  return rows.map((r) => r.name).sort();
}

/** How long each node silent for at least `minSilentMs` has been, by the heard-from times stored. */
export function silentNodes(db: Db, nowMs: number, minSilentMs: number): Map<string, number> {
  const rows = db
    .prepare('SELECT name, last_seen_ms FROM nodes WHERE last_seen_ms <= ?')
    .all(nowMs - minSilentMs) as { name: string; last_seen_ms: number }[];
  return new Map(rows.map((r) => [r.name, nowMs - r.last_seen_ms]));
}

/** Deletes a node; refused while pods are bound to it. */
export function deleteNode(db: Db, name: string): Result<void> {
  return guard(() =>
    inTransaction(db, () => {
      if (db.prepare(`SELECT 1 FROM pods WHERE node = ? AND phase IN (${ACTIVE})`).get(name) !== undefined)
        fail(
          'TESSERA_E_CONFLICT',
          `node ${name} still holds pods; drain it first, or, if it missed its lease for good, delete it with --force (its pods are then placed elsewhere)`,
          { node: name },
        );
      // Finished pods and past assignments only record history; the node's history goes with it.
      db.prepare('UPDATE pods SET node = NULL WHERE node = ?').run(name);
      db.prepare('DELETE FROM assignments WHERE node = ?').run(name);
      if (db.prepare('DELETE FROM nodes WHERE name = ?').run(name).changes === 0)
        fail('TESSERA_E_NOT_FOUND', `no node named ${name}`, { node: name });
    }),
  );
}
