/**
 * Registry secrets per project (migration 9, common/registry-secret.ts): create, replace, list,
 * delete, and the two reads that need the password or the name: resolving a workload's
 * `imagePullSecret` into a credential for its StartPod (dispatch), and checking at submit that the
 * secret exists and serves the image. Listing never reads the password column.
 */
import { type ErrorCode, type Result, tesseraError } from '../../common/errors.ts';
import { parseImageRef } from '../../common/image-ref.ts';
import {
  credentialMismatch,
  type RegistryCredential,
  type RegistrySecretInput,
} from '../../common/registry-secret.ts';
import type { ContainerFields } from '../../common/workload-container.ts';
import { type Db, inTransaction } from './db.ts';
import { jsonField } from './dialect.ts';
import { fail, guard, StoreError } from './errors.ts';

/** A secret as lists show it: everything but the password. */
export interface RegistrySecretInfo {
  project: string;
  name: string;
  server: string;
  username: string;
  createdMs: number;
  updatedMs: number;
}

interface InfoRow {
  project: string;
  name: string;
  server: string;
  username: string;
  created_ms: number;
  updated_ms: number;
}

const INFO_COLUMNS = 'project, name, server, username, created_ms, updated_ms';

function toInfo(r: InfoRow): RegistrySecretInfo {
  return {
    project: r.project,
    name: r.name,
    server: r.server,
    username: r.username,
    createdMs: r.created_ms,
    updatedMs: r.updated_ms,
  };
}

/** How `tessera` creates one, for messages that send the user there. */
export function createSecretHint(project: string, name: string): string {
  return `tessera secret create registry ${name} -p ${project} --server HOST --username USER --password-stdin`;
}

function requireProject(db: Db, project: string): void {
  if (db.prepare('SELECT 1 FROM projects WHERE name = ?').get(project) === undefined)
    fail('TESSERA_E_NOT_FOUND', `project ${project} does not exist`, { project });
}

/**
 * Stores a secret in `project`. `replace: false` refuses a name already taken (409); `replace: true`
 * creates or overwrites it, keeping its creation time, so a rotated token takes effect at the next
 * dispatch without touching the workloads that name it.
 */
export function putRegistrySecret(
  db: Db,
  project: string,
  input: RegistrySecretInput,
  nowMs: number,
  options: { replace: boolean },
): Result<RegistrySecretInfo> {
  return guard(() =>
    inTransaction(db, () => {
      requireProject(db, project);
      const existing = getInfo(db, project, input.name);
      if (existing !== undefined && !options.replace)
        fail(
          'TESSERA_E_CONFLICT',
          `registry secret ${input.name} already exists in project ${project}; replace it with --replace (PUT), or pick another name`,
        );
      db.prepare(
        `INSERT INTO registry_secrets (project, name, server, username, password, created_ms, updated_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (project, name) DO UPDATE SET
           server = excluded.server, username = excluded.username, password = excluded.password,
           updated_ms = excluded.updated_ms`,
      ).run(project, input.name, input.server, input.username, input.password, nowMs, nowMs);
      return getInfo(db, project, input.name) as RegistrySecretInfo;
    }),
  );
}

function getInfo(db: Db, project: string, name: string): RegistrySecretInfo | undefined {
  const r = db
    .prepare(`SELECT ${INFO_COLUMNS} FROM registry_secrets WHERE project = ? AND name = ?`)
    .get(project, name) as InfoRow | undefined;
  return r === undefined ? undefined : toInfo(r);
}

/** The secrets of `project` by name, without passwords; NOT_FOUND for an unknown project. */
export function listRegistrySecrets(db: Db, project: string): Result<RegistrySecretInfo[]> {
  return guard(() => {
    requireProject(db, project);
    const rows = db
      .prepare(`SELECT ${INFO_COLUMNS} FROM registry_secrets WHERE project = ? ORDER BY name`)
      .all(project) as InfoRow[];
    return rows.map(toInfo);
  });
}

/**
 * Names of the workloads of `project` that may still start a pod and name secret `name`: everything
 * but Completed, Failed and Deleting (a Stopped one may be run again, a Running one replaced).
 */
export function workloadsUsingSecret(db: Db, project: string, name: string): string[] {
  const rows = db
    .prepare(
      `SELECT name FROM workloads
       WHERE project = ? AND phase NOT IN ('Completed', 'Failed', 'Deleting')
         AND ${jsonField(db.dialect, 'spec', 'imagePullSecret', 'text')} = ?
       ORDER BY name`,
    )
    .all(project, name) as { name: string }[];
  return rows.map((r) => r.name);
}

/**
 * Deletes a secret. Refused (409, listing them) while a workload that may still start a pod names
 * it: its next pod would fail to start for want of the login, long after the delete that caused it.
 */
export function deleteRegistrySecret(db: Db, project: string, name: string): Result<void> {
  return guard(() =>
    inTransaction(db, () => {
      requireProject(db, project);
      const users = workloadsUsingSecret(db, project, name);
      if (users.length > 0) {
        const shown =
          users.slice(0, 10).join(', ') + (users.length > 10 ? `, and ${users.length - 10} more` : '');
        fail(
          'TESSERA_E_CONFLICT',
          `registry secret ${name} is named by workloads of project ${project} that may still start pods: ${shown}; delete those workloads first, or replace the secret (tessera secret create registry ${name} -p ${project} --replace ...) to change its login`,
        );
      }
      const n = db
        .prepare('DELETE FROM registry_secrets WHERE project = ? AND name = ?')
        .run(project, name).changes;
      if (n === 0)
        fail(
          'TESSERA_E_NOT_FOUND',
          `no registry secret ${name} in project ${project}; see tessera secret list -p ${project}`,
        );
    }),
  );
}

/** The credential a secret holds, password included, or undefined. Only dispatch should need this. */
export function registryCredentialOf(db: Db, project: string, name: string): RegistryCredential | undefined {
  return db
    .prepare('SELECT server, username, password FROM registry_secrets WHERE project = ? AND name = ?')
    .get(project, name) as RegistryCredential | undefined;
}

/**
 * Throws (inside the caller's transaction) when `spec` names a pull secret its project lacks, or one
 * for another registry than its image's. Run at submit in the same transaction as the insert, so a
 * concurrent delete either sees the workload or the workload sees no secret.
 */
export function assertPullSecret(db: Db, project: string, spec: ContainerFields): void {
  const name = spec.imagePullSecret;
  if (name === undefined || spec.image === undefined) return;
  const refuse = (code: ErrorCode, why: string): never => {
    throw new StoreError(tesseraError(code, `imagePullSecret: ${why}`, { field: 'imagePullSecret' }));
  };
  const secret = getInfo(db, project, name);
  if (secret === undefined)
    refuse(
      'TESSERA_E_NOT_FOUND',
      `no registry secret ${name} in project ${project}; create it with ${createSecretHint(project, name)}`,
    );
  else {
    const ref = parseImageRef(spec.image);
    const mismatch = ref.ok ? credentialMismatch(ref.value, spec.image, secret.server) : null;
    if (mismatch !== null) refuse('TESSERA_E_INVALID_SPEC', mismatch);
  }
}

/** `assertPullSecret` as a Result, for a dry run that stores nothing. */
export function checkPullSecret(db: Db, project: string, spec: ContainerFields): Result<void> {
  return guard(() => assertPullSecret(db, project, spec));
}
