/**
 * Finds the workload a command line names. People type names; the API addresses workloads by id.
 * Names are unique only within a project, so a name found in several projects needs `-p`.
 */
import { Argument, type Command, Option } from 'commander';
import { tesseraError } from '../../common/errors.ts';
import type { WorkloadType } from '../../common/workload.ts';
import { failure, usageError } from '../errors.ts';
import type { ClientConfig, ClientFlags } from './config.ts';
import { clientConfig } from './connect.ts';
import { type ApiClient, createClient } from './http.ts';
import type { WorkloadView } from './views.ts';

/**
 * The workload named `ref` (a name, or an id) in `project` (any project when undefined), of `type`
 * when given (`tessera training describe` finds only trainings).
 */
export async function findWorkload(
  client: ApiClient,
  ref: string,
  project: string | undefined,
  type?: WorkloadType,
): Promise<WorkloadView> {
  const params = new URLSearchParams();
  if (project !== undefined) params.set('project', project);
  if (type !== undefined) params.set('type', type);
  const query = params.size === 0 ? '' : `?${params}`;
  const all = await client.list<WorkloadView>(`/workloads${query}`);
  // An exact id wins over a name, so a workload can always be reached even if names collide.
  const byId = all.find((w) => w.id === ref);
  if (byId !== undefined) return byId;
  const named = all.filter((w) => w.name === ref);
  const [only] = named;
  if (only !== undefined && named.length === 1) return only;
  if (named.length > 1) {
    const projects = named.map((w) => w.project).join(', ');
    throw usageError(
      '--project',
      `${named.length} workloads are named ${ref} (projects ${projects}): add -p PROJECT or give the id`,
    );
  }
  const where = project === undefined ? '' : ` in project ${project}`;
  const kind = type === undefined ? 'workload' : `${type} workload`;
  throw failure(
    tesseraError('TESSERA_E_NOT_FOUND', `no ${kind} named ${ref}${where}; tessera list shows what exists`, {
      context: { workload: ref },
    }),
  );
}

/** The `<workload>` argument of every per-workload command. */
export function workloadArgument(): Argument {
  return new Argument('<workload>', 'workload name (with -p) or id');
}

/** The `-p` option of every per-workload command. */
export function projectOption(): Option {
  return new Option('-p, --project <project>', 'the project the workload is in (needed when names repeat)');
}

/** The client (and its config, for streamed answers) and the workload a per-workload command line names. */
export async function connectToWorkload(
  ref: string,
  cmd: Command,
  type?: WorkloadType,
): Promise<{ client: ApiClient; config: ClientConfig; workload: WorkloadView }> {
  const config = await clientConfig(cmd.opts<ClientFlags>());
  const client = createClient(config);
  return {
    client,
    config,
    workload: await findWorkload(client, ref, cmd.opts<{ project?: string }>().project, type),
  };
}
