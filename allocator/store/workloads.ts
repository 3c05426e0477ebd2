/**
 * Workloads: submit (validated spec, Creating -> Pending), read, list, and every phase change
 * through `common/phases.ts` `transition()`, stored with its event in the same transaction.
 */
import { randomUUID } from 'node:crypto';
import { KEEP } from '../../common/disconnect.ts';
import type { Result } from '../../common/errors.ts';
import { type PodPhase, transition, type WorkloadPhase } from '../../common/phases.ts';
import { parseWorkloadSpec, type WorkloadSpec, type WorkloadType } from '../../common/workload.ts';
import { type RestartFields, storedRestart } from '../../common/workload-restart.ts';
import { type Db, inTransaction, NO_LIMIT } from './db.ts';
import { fail, guard, StoreError } from './errors.ts';
import { insertEvent } from './events.ts';
import { ACTIVE_POD_PHASES } from './pods.ts';
import { assertPullSecret } from './registry-secrets.ts';

/** A workload as stored. */
export interface WorkloadRecord {
  id: string;
  name: string;
  project: string;
  type: WorkloadType;
  spec: WorkloadSpec;
  phase: WorkloadPhase;
  phaseReason: string;
  createdMs: number;
  nextPodOrdinal: number;
  belowMinSinceMs: number | null;
  /** Restarts after a pod failure so far (restartPolicy OnFailure), counted against backoffLimit. */
  restarts: number;
}

/**
 * Filters for `listWorkloads`; each omitted one matches all. All of them run in SQL: a spec is
 * parsed only for the rows returned, so finished work with large specs costs a filtered list nothing.
 */
export interface WorkloadFilter {
  project?: string;
  phases?: readonly WorkloadPhase[];
  type?: WorkloadType;
  /** Only workloads with at least one pod in one of these phases. */
  withPodsIn?: readonly PodPhase[];
}

/** Where a page of workloads ends, in list order (oldest first); the next page starts after it. */
export interface WorkloadCursor {
  createdMs: number;
  rowid: number;
}

/** One page of `listWorkloadPage`; `next` is null on the last page. */
export interface WorkloadPage {
  items: WorkloadRecord[];
  next: WorkloadCursor | null;
}

interface WorkloadRow {
  id: string;
  name: string;
  project: string;
  type: string;
  spec: string;
  phase: string;
  phase_reason: string;
  created_ms: number;
  next_pod_ordinal: number;
  below_min_since_ms: number | null;
  restarts: number;
}

/** A spec as an older release may have stored it: fields added since then are absent. */
type StoredSpec = Omit<WorkloadSpec, 'disconnect' | 'mounts' | 'public' | 'ports' | keyof RestartFields> &
  Partial<Pick<WorkloadSpec, 'disconnect' | 'mounts' | 'public' | 'ports' | keyof RestartFields>>;

/**
 * A stored spec with the defaults of fields added after it was stored. A distributed workload
 * stored before `ports` keeps running as it was: no ports and no framework, so no rendezvous env.
 */
function withDefaults(s: StoredSpec): WorkloadSpec {
  return {
    ...s,
    disconnect: s.disconnect ?? KEEP,
    mounts: s.mounts ?? [],
    public: s.public ?? false,
    ports: s.ports ?? [],
    ...storedRestart(s),
  };
}

/** A stored spec column parsed, with the defaults of fields added after it was stored. */
export function parseStoredSpec(raw: string): WorkloadSpec {
  return withDefaults(JSON.parse(raw) as StoredSpec);
}

function toWorkload(r: WorkloadRow): WorkloadRecord {
  return {
    id: r.id,
    name: r.name,
    project: r.project,
    // Only specs that passed parseWorkloadSpec and phases that passed transition() are stored.
    type: r.type as WorkloadType,
    spec: parseStoredSpec(r.spec),
    phase: r.phase as WorkloadPhase,
    phaseReason: r.phase_reason,
    createdMs: r.created_ms,
    nextPodOrdinal: r.next_pod_ordinal,
    belowMinSinceMs: r.below_min_since_ms,
    restarts: r.restarts,
  };
}

/** Options of `submitWorkload` and `submitSpec`. */
export interface SubmitOptions {
  /** The workload's id; default a fresh random UUID, drawn per submit (so no table holds it). */
  id?: string;
}

/**
 * Validates `input` as a workload spec and stores it: Creating, then Pending, both as events.
 * `id` defaults to a random UUID (tests pass their own for stable output).
 */
export function submitWorkload(
  db: Db,
  input: unknown,
  nowMs: number,
  options: SubmitOptions = {},
): Result<WorkloadRecord> {
  const parsed = parseWorkloadSpec(input);
  return parsed.ok ? submitSpec(db, parsed.value, nowMs, options) : parsed;
}

/**
 * Stores a spec `parseWorkloadSpec` produced (the API's path, after the policies checked it): its
 * project must exist, its name be free there, and a pull secret it names exist in that project.
 */
export function submitSpec(
  db: Db,
  spec: WorkloadSpec,
  nowMs: number,
  options: SubmitOptions = {},
): Result<WorkloadRecord> {
  const id = options.id ?? randomUUID();
  return guard(() =>
    inTransaction(db, () => {
      if (db.prepare('SELECT 1 FROM projects WHERE name = ?').get(spec.project) === undefined)
        fail('TESSERA_E_NOT_FOUND', `project ${spec.project} does not exist`, { project: spec.project });
      if (db.prepare('SELECT 1 FROM workloads WHERE project = ? AND name = ?').get(spec.project, spec.name))
        fail('TESSERA_E_CONFLICT', `workload ${spec.name} already exists in project ${spec.project}`);
      assertPullSecret(db, spec.project, spec);
      db.prepare(
        `INSERT INTO workloads (id, name, project, type, spec, phase, phase_reason, created_ms)
         VALUES (?, ?, ?, ?, ?, 'Creating', 'Submitted', ?)`,
      ).run(id, spec.name, spec.project, spec.type, JSON.stringify(spec), nowMs);
      insertEvent(db, {
        timeMs: nowMs,
        workload: id,
        from: null,
        to: 'Creating',
        reason: 'Submitted',
        message: '',
      });
      moveWorkload(db, id, 'Pending', 'Queued', 'waiting for the scheduler', nowMs);
      return getWorkload(db, id) as WorkloadRecord;
    }),
  );
}

/** Every workload's project, by workload id. */
export function workloadProjects(db: Db): Map<string, string> {
  const rows = db.prepare('SELECT id, project FROM workloads').all() as { id: string; project: string }[];
  return new Map(rows.map((w) => [w.id, w.project]));
}

/**
 * A counter of workloads by phase for a metrics scrape: the statement is prepared once, each call
 * counts afresh. A phase no workload is in is absent.
 */
export function workloadPhaseCounter(db: Db): () => Map<string, number> {
  const countByPhase = db.prepare('SELECT phase, COUNT(*) AS n FROM workloads GROUP BY phase');
  return () => {
    const rows = countByPhase.all() as { phase: string; n: number }[];
    return new Map(rows.map((r) => [r.phase, r.n]));
  };
}

/** One workload, or undefined. */
export function getWorkload(db: Db, id: string): WorkloadRecord | undefined {
  const r = db.prepare('SELECT * FROM workloads WHERE id = ?').get(id) as WorkloadRow | undefined;
  return r === undefined ? undefined : toWorkload(r);
}

/** One workload by project and name, or undefined. */
export function findWorkload(db: Db, project: string, name: string): WorkloadRecord | undefined {
  const r = db.prepare('SELECT * FROM workloads WHERE project = ? AND name = ?').get(project, name) as
    | WorkloadRow
    | undefined;
  return r === undefined ? undefined : toWorkload(r);
}

/** `?, ?, ?` for a list of `n` values. */
const marks = (n: number): string => Array.from({ length: n }, () => '?').join(', ');

/**
 * The rows `filter` selects after `after`, at most `limit`, oldest first. The WHERE holds
 * only the filters given, as plain `IN (?, ...)` lists, so SQLite answers a phase filter from the
 * workloads_phase index: a scan of the table itself would walk every row's spec, which sits before
 * `phase` in the row, through its overflow pages.
 */
function selectWorkloads(
  db: Db,
  filter: WorkloadFilter,
  after: WorkloadCursor | null,
  limit: number,
): (WorkloadRow & { rid: number })[] {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (filter.project !== undefined) {
    where.push('w.project = ?');
    args.push(filter.project);
  }
  if (filter.type !== undefined) {
    where.push('w.type = ?');
    args.push(filter.type);
  }
  if (filter.phases !== undefined) {
    where.push(`w.phase IN (${marks(filter.phases.length)})`);
    args.push(...filter.phases);
  }
  if (filter.withPodsIn !== undefined) {
    where.push(
      `EXISTS (SELECT 1 FROM pods p WHERE p.workload = w.id AND p.phase IN (${marks(filter.withPodsIn.length)}))`,
    );
    args.push(...filter.withPodsIn);
  }
  if (after !== null) {
    where.push('(w.created_ms > ? OR (w.created_ms = ? AND w.rowid > ?))');
    args.push(after.createdMs, after.createdMs, after.rowid);
  }
  const sql = `SELECT w.rowid AS rid, w.* FROM workloads w${where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`}
    ORDER BY w.created_ms, w.rowid LIMIT ?`;
  return db.prepare(sql).all(...args, limit) as (WorkloadRow & { rid: number })[];
}

/** Workloads matching `filter`, oldest first. */
export function listWorkloads(db: Db, filter: WorkloadFilter = {}): WorkloadRecord[] {
  return selectWorkloads(db, filter, null, NO_LIMIT).map(toWorkload);
}

/** At most `limit` workloads matching `filter` after `after` (from the start when null), oldest first. */
export function listWorkloadPage(
  db: Db,
  filter: WorkloadFilter,
  page: { limit: number; after: WorkloadCursor | null },
): WorkloadPage {
  // One row more than asked says whether another page follows, without a COUNT over the rest.
  const rows = selectWorkloads(db, filter, page.after, page.limit + 1);
  const items = rows.slice(0, page.limit);
  const last = items.at(-1);
  const next =
    rows.length > page.limit && last !== undefined ? { createdMs: last.created_ms, rowid: last.rid } : null;
  return { items: items.map(toWorkload), next };
}

/**
 * Moves a workload to `to` if the phase table allows it and stores the event; throws `StoreError`
 * otherwise so the enclosing transaction writes nothing. Callers hold a transaction.
 */
export function moveWorkload(
  db: Db,
  id: string,
  to: WorkloadPhase,
  reason: string,
  message: string,
  nowMs: number,
): { from: WorkloadPhase; to: WorkloadPhase } {
  const w = getWorkload(db, id);
  if (w === undefined) fail('TESSERA_E_NOT_FOUND', `no workload with id ${id}`, { workload: id });
  const t = transition(w.phase, to, reason, message);
  if (!t.ok) throw new StoreError(t.error);
  db.prepare('UPDATE workloads SET phase = ?, phase_reason = ? WHERE id = ?').run(to, reason, id);
  insertEvent(db, { timeMs: nowMs, workload: id, from: w.phase, to, reason, message });
  return { from: w.phase, to };
}

/** Counts one more restart of a workload after a pod failure; returns the new count. Callers hold a transaction. */
export function countRestart(db: Db, id: string): number {
  const row = db
    .prepare('UPDATE workloads SET restarts = restarts + 1 WHERE id = ? RETURNING restarts')
    .get(id) as { restarts: number } | undefined;
  if (row === undefined) fail('TESSERA_E_NOT_FOUND', `no workload with id ${id}`, { workload: id });
  return row.restarts;
}

/** Changes a workload's phase in its own transaction; an illegal change writes nothing. */
export function changePhase(
  db: Db,
  id: string,
  to: WorkloadPhase,
  reason: string,
  nowMs: number,
  message = '',
): Result<WorkloadRecord> {
  return guard(() =>
    inTransaction(db, () => {
      moveWorkload(db, id, to, reason, message, nowMs);
      return getWorkload(db, id) as WorkloadRecord;
    }),
  );
}

/** Removes the record of a workload in Deleting whose pods have all ended; its events stay. */
export function purgeWorkload(db: Db, id: string): Result<void> {
  return guard(() =>
    inTransaction(db, () => {
      const w = getWorkload(db, id);
      if (w === undefined) fail('TESSERA_E_NOT_FOUND', `no workload with id ${id}`, { workload: id });
      if (w.phase !== 'Deleting')
        fail(
          'TESSERA_E_ILLEGAL_TRANSITION',
          `workload ${w.name} is ${w.phase}; delete moves it to Deleting first`,
        );
      const marks = ACTIVE_POD_PHASES.map(() => '?').join(', ');
      if (
        db
          .prepare(`SELECT 1 FROM pods WHERE workload = ? AND phase IN (${marks})`)
          .get(id, ...ACTIVE_POD_PHASES)
      )
        fail(
          'TESSERA_E_CONFLICT',
          `workload ${w.name} still has pods holding resources; wait for them to stop`,
        );
      db.prepare('DELETE FROM workloads WHERE id = ?').run(id);
    }),
  );
}
