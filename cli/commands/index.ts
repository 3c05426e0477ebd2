/**
 * The registry of `tessera` subcommands. Adding one is one line here plus its own file under
 * `cli/commands/`, which exports `configure(command, context)`.
 *
 * Modules load only when their command runs, so a command with heavy or native dependencies
 * (the allocator's SQLite, the agent's execa) never slows down or breaks the others.
 */
import type { Command } from 'commander';
import type { WorkloadType } from '../../common/workload.ts';
import type { CliIo } from '../io.ts';

/** What a command's action gets besides its flags. */
export interface CliContext {
  io: CliIo;
  /**
   * Set when the command runs under a workload type's verbs (`tessera training describe`): it then
   * finds and lists only workloads of that type. Unset for the top-level commands.
   */
  workloadType?: WorkloadType;
}

/** What each command module exports. */
export interface CommandModule {
  /** Adds the command's arguments, options, help and action to `command` (already named). */
  configure(command: Command, context: CliContext): void;
}

/** One registry row: the name users type, the line `tessera --help` shows, and how to load it. */
export interface CommandEntry {
  name: string;
  summary: string;
  load: () => Promise<CommandModule>;
}

/** Every subcommand, in the order `tessera --help` lists them. */
export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'up',
    summary: 'start an allocator and agents on this machine (simulated GPUs when none are found)',
    load: () => import('./up.ts'),
  },
  {
    name: 'submit',
    summary: 'submit a workload: tessera submit <type> NAME -p PROJECT [options] -- COMMAND...',
    load: () => import('./submit.ts'),
  },
  {
    name: 'list',
    summary: 'list workloads (filter by project, type, phase)',
    load: () => import('./list.ts'),
  },
  {
    name: 'describe',
    summary: 'show one workload: spec, pods, GPUs and its phase history',
    load: () => import('./describe.ts'),
  },
  {
    name: 'stop',
    summary: 'stop a workload: its pods end, its definition and history stay',
    load: () => import('./workload-actions.ts'),
  },
  {
    name: 'run',
    summary: 'run a stopped workload again (back to Pending)',
    load: () => import('./workload-actions.ts'),
  },
  {
    name: 'delete',
    summary: 'delete a workload: its pods end and its record goes (its events stay)',
    load: () => import('./workload-actions.ts'),
  },
  {
    name: 'workspace',
    summary: 'open a workspace (its URL and how to send your token); submit, list, suspend... workspaces',
    load: () => import('./workspace.ts'),
  },
  {
    name: 'training',
    summary: 'runai CLI v2 verbs for training: submit, list, describe, suspend, resume, delete, logs',
    load: () => import('./workload-verbs.ts'),
  },
  {
    name: 'distributed',
    summary: 'runai CLI v2 verbs for distributed training: submit, list, describe, suspend, resume, ...',
    load: () => import('./workload-verbs.ts'),
  },
  {
    name: 'inference',
    summary: 'runai CLI v2 verbs for inference: submit, list, describe, suspend, resume, delete, logs',
    load: () => import('./workload-verbs.ts'),
  },
  {
    name: 'project',
    summary: 'create, list, describe, update and delete projects and their quotas',
    load: () => import('./project.ts'),
  },
  {
    name: 'department',
    summary: 'create, list, describe, update and delete departments and their quotas (admins)',
    load: () => import('./department.ts'),
  },
  {
    name: 'nodepool',
    summary: 'create, list, describe, update and delete node pools: label selector, placement (admins)',
    load: () => import('./nodepool.ts'),
  },
  {
    name: 'secret',
    summary: "create, list and delete a project's registry secrets (logins for pulling images)",
    load: () => import('./secret.ts'),
  },
  {
    name: 'node',
    summary: 'list, describe, cordon, drain, label, reset and delete nodes (admins)',
    load: () => import('./node.ts'),
  },
  {
    name: 'token',
    summary: 'create, list and revoke API tokens and join tokens for new nodes',
    load: () => import('./token.ts'),
  },
  {
    name: 'allocator',
    summary: 'run the allocator: API, agent link, scheduler, state in SQLite',
    load: () => import('./allocator.ts'),
  },
  {
    name: 'simulate',
    summary: 'replay a GPU workload trace through the placement policies',
    load: () => import('./simulate.ts'),
  },
  {
    name: 'agent',
    summary: 'run the node agent (GPUs, pods, enforcement, /metrics)',
    load: () => import('./agent.ts'),
  },
  {
    name: 'health',
    summary: "check this node's GPUs and agent; exit 1 when unhealthy",
    load: () => import('./health.ts'),
  },
  {
    name: 'logs',
    summary: "print a workload pod's output, streamed from its node (-f to follow)",
    load: () => import('./logs.ts'),
  },
  {
    name: 'explain',
    summary: 'say why a workload is pending, from the scheduler',
    load: () => import('./explain.ts'),
  },
  {
    name: 'top',
    summary: 'GPU utilization and memory by node, GPU and workload',
    load: () => import('./top.ts'),
  },
  {
    name: 'policy',
    summary: 'set, show and delete workload policies (defaults and rules) per scope and type',
    load: () => import('./policy.ts'),
  },
  {
    name: 'rule',
    summary: 'set, show and delete scheduling rules (max runtime, idle GPU timeout, node types)',
    load: () => import('./policy.ts'),
  },
  {
    name: 'login',
    summary: 'check an API token and store it with the allocator URL for later commands',
    load: () => import('./login.ts'),
  },
  {
    name: 'user',
    summary: 'create, list and delete users (admins)',
    load: () => import('./user.ts'),
  },
  {
    name: 'access',
    summary: 'grant, list and revoke access rules: a role for a user on a scope',
    load: () => import('./access.ts'),
  },
];
