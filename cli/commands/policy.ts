/**
 * `tessera policy set|get|delete|list` and `tessera rule set|get|delete|list`: one module for two
 * registry entries over `/api/v1/policies` and `/api/v1/rules` (allocator/api/policy-routes.ts),
 * which differ only in their path and table; `command.name()` says which one runs.
 */
import type { Command } from 'commander';
import { WORKLOAD_TYPES, type WorkloadType } from '../../common/workload.ts';
import type { ClientFlags } from '../client/config.ts';
import { addClientOptions, connect } from '../client/connect.ts';
import { readDataFile } from '../client/data-file.ts';
import { formatTable, type OutputFormat, outputOption, printData } from '../client/output.ts';
import { usageError } from '../errors.ts';
import type { CliContext } from './index.ts';

const FAMILIES = {
  policy: {
    path: '/policies',
    noun: 'policy',
    what: 'defaults, rules (min, max, options, required, canEdit) and container rules',
  },
  rule: {
    path: '/rules',
    noun: 'scheduling rules',
    what: 'maxRuntimeSeconds, idleGpuTimeoutSeconds, nodeTypes',
  },
} as const;

type Family = keyof typeof FAMILIES;

function examples(name: Family): string {
  const file = name === 'policy' ? 'policy.yaml' : 'rules.yaml';
  const sample =
    name === 'policy'
      ? `  # policy.yaml
  defaults: { resources.gpuFraction: 0.5, priorityClass: train, runAsUser: 1000 }
  rules: { resources.gpuFraction: { max: 0.5 }, nodePools: { options: [default, a100] } }
  container: { requireImage: true, allowedImagePrefixes: [nvcr.io/nvidia], runAsNonRoot: true,
               allowedHostPaths: [/datasets] }     # host paths: cluster scope only`
      : `  # rules.yaml
  maxRuntimeSeconds: 86400
  idleGpuTimeoutSeconds: 1800
  nodeTypes: [dgx]`;
  return `
Examples:
  $ tessera ${name} set cluster training -f ${file}
  $ tessera ${name} set department:research training -f ${file}
  $ tessera ${name} get project:vision training
  $ tessera ${name} get training --effective -p vision
  $ tessera ${name} delete project:vision training
  $ tessera ${name} list -o yaml

SCOPE is cluster, department:<name> or project:<name>; TYPE is ${WORKLOAD_TYPES.join(', ')}.
A lower scope may only tighten what a higher one set.
${sample}
`;
}

function isFamily(name: string): name is Family {
  return Object.hasOwn(FAMILIES, name);
}

function typeOf(t: string | undefined): WorkloadType {
  const found = WORKLOAD_TYPES.find((w) => w === t);
  if (found === undefined)
    throw usageError('TYPE', `workload type '${t ?? ''}' must be one of ${WORKLOAD_TYPES.join(', ')}`);
  return found;
}

function at(path: string, scope: string, type: WorkloadType): string {
  // Access rules spell scopes department/<d>; the API path uses department:<d>. Accept both here.
  const wire = scope.replace(/^(department|project)\//, '$1:');
  return `${path}/${encodeURIComponent(wire)}/${type}`;
}

/** A stored or effective document as rows: one per field (policy) or rule. */
export function documentTable(family: Family, doc: Record<string, unknown>): string {
  const cell = (v: unknown) => (v === undefined ? '-' : typeof v === 'string' ? v : JSON.stringify(v));
  if (family === 'rule') {
    const rows = ['maxRuntimeSeconds', 'idleGpuTimeoutSeconds', 'nodeTypes'].flatMap((k) => {
      const v = doc[k];
      if (v === undefined) return [];
      // Effective rules carry {value, scope}; stored ones the value alone.
      const inner = typeof v === 'object' && v !== null && 'value' in v ? v : { value: v, scope: doc.scope };
      return [[k, cell(inner.value), cell('scope' in inner ? inner.scope : undefined)]];
    });
    return rows.length === 0 ? 'no rules\n' : formatTable({ header: ['RULE', 'VALUE', 'SCOPE'], rows });
  }
  const defaults = (doc.defaults ?? {}) as Record<string, unknown>;
  const rules = (doc.rules ?? {}) as Record<string, Record<string, unknown>>;
  const fields = [...new Set([...Object.keys(defaults), ...Object.keys(rules)])].sort();
  const container = containerTable(doc.container);
  if (fields.length === 0) return container === '' ? 'no defaults or rules\n' : container;
  const plain = (v: unknown) =>
    typeof v === 'object' && v !== null && 'raw' in v
      ? cell(v.raw)
      : typeof v === 'object' && v !== null && 'values' in v
        ? cell(v.values)
        : cell(v);
  const rows = fields.map((f) => {
    const d = defaults[f];
    const r = rules[f] ?? {};
    const def = typeof d === 'object' && d !== null && 'value' in d && !Array.isArray(d) ? d.value : d;
    const required = r.required === undefined ? '-' : r.required === false ? 'no' : 'yes';
    const canEdit = r.canEdit ?? (r.locked === undefined ? undefined : false);
    return [
      f,
      cell(def),
      plain(r.min),
      plain(r.max),
      plain(r.options),
      required,
      canEdit === undefined ? '-' : String(canEdit),
    ];
  });
  const table = formatTable({
    header: ['FIELD', 'DEFAULT', 'MIN', 'MAX', 'OPTIONS', 'REQUIRED', 'CAN EDIT'],
    rows,
  });
  return container === '' ? table : `${table}\n${container}`;
}

/**
 * A policy's container rules as rows, stored (`requireImage: true`, lists) or effective (each
 * with the scope that set it: `requireImage: 'cluster'`, `{values, scope}`); '' when there are none.
 */
function containerTable(container: unknown): string {
  if (typeof container !== 'object' || container === null) return '';
  const c = container as Record<string, unknown>;
  const rows = ['requireImage', 'runAsNonRoot', 'allowedImagePrefixes', 'allowedHostPaths'].flatMap((k) => {
    const v = c[k];
    if (v === undefined) return [];
    if (typeof v === 'string') return [[k, 'true', v]];
    if (typeof v === 'object' && v !== null && 'values' in v && 'scope' in v)
      return [[k, JSON.stringify(v.values), String(v.scope)]];
    return [[k, typeof v === 'boolean' ? String(v) : JSON.stringify(v), '-']];
  });
  return rows.length === 0 ? '' : formatTable({ header: ['CONTAINER RULE', 'VALUE', 'SCOPE'], rows });
}

/** Adds `set`, `get`, `delete` and `list` for `policy` or `rule` (from `command.name()`) to `command`. */
export function configure(command: Command, { io }: CliContext): void {
  const name = command.name();
  if (!isFamily(name)) throw new Error(`policy.ts configured for unknown command ${name}`);
  const f = FAMILIES[name];
  command.description(`Set, show and delete ${f.noun} per scope and workload type: ${f.what}.`);
  command.addHelpText('after', examples(name));

  addClientOptions(
    command
      .command('set')
      .description(`Create or replace the ${f.noun} of SCOPE and TYPE from a YAML or JSON file.`)
      .argument(
        '<scope>',
        'cluster, department:<name> or project:<name> (or department/<name>, project/<name>)',
      )
      .argument('<type>', `workload type: ${WORKLOAD_TYPES.join(', ')}`)
      .requiredOption('-f, --file <file>', 'YAML or JSON file (- for stdin)')
      .addOption(outputOption()),
  ).action(async (scope: string, type: string, _flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ file: string; output: OutputFormat }>();
    const t = typeOf(type);
    const body = await readDataFile(flags.file);
    const client = await connect(cmd.opts<ClientFlags>());
    const saved = await client.request<Record<string, unknown>>('PUT', at(f.path, scope, t), body ?? {});
    printData(io, flags.output, saved, (d) => `${f.noun} ${scope} ${t} set\n${documentTable(name, d)}`);
  });

  addClientOptions(
    command
      .command('get')
      .description(
        `Show the ${f.noun} of SCOPE and TYPE, or with --effective what a project's workloads meet.`,
      )
      .argument('[scope]', 'cluster, department:<name> or project:<name> (with --effective: optional)')
      .argument('[type]', 'workload type')
      .option('--effective', 'merge the chain cluster -> department -> project')
      .option('-p, --project <project>', 'the project for --effective (default: from project:<name>)')
      .addOption(outputOption()),
  ).action(async (scope: string | undefined, type: string | undefined, _flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ effective?: boolean; project?: string; output: OutputFormat }>();
    const client = await connect(cmd.opts<ClientFlags>());
    if (flags.effective === true) {
      // `get training --effective -p vision`: one positional is the type.
      const [s, t] = type === undefined ? [undefined, scope] : [scope, type];
      const project = flags.project ?? (s?.startsWith('project:') === true ? s.slice(8) : undefined);
      if (project === undefined)
        throw usageError('-p', '--effective needs the project: -p PROJECT or SCOPE project:<name>');
      const query = new URLSearchParams({ project, type: typeOf(t) });
      const eff = await client.request<{ chain: string[]; effective: Record<string, unknown> }>(
        'GET',
        `${f.path}/effective?${query}`,
      );
      printData(
        io,
        flags.output,
        eff,
        (e) => `chain: ${e.chain.join(' -> ')}\n${documentTable(name, e.effective)}`,
      );
      return;
    }
    if (scope === undefined) throw usageError('SCOPE', 'give SCOPE and TYPE, or --effective with -p PROJECT');
    const doc = await client.request<Record<string, unknown>>('GET', at(f.path, scope, typeOf(type)));
    printData(io, flags.output, doc, (d) => documentTable(name, d));
  });

  addClientOptions(
    command
      .command('delete')
      .description(`Delete the ${f.noun} of SCOPE and TYPE.`)
      .argument(
        '<scope>',
        'cluster, department:<name> or project:<name> (or department/<name>, project/<name>)',
      )
      .argument('<type>', 'workload type')
      .addOption(outputOption()),
  ).action(async (scope: string, type: string, _flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ output: OutputFormat }>();
    const t = typeOf(type);
    const client = await connect(cmd.opts<ClientFlags>());
    const answer = await client.request<unknown>('DELETE', at(f.path, scope, t));
    printData(io, flags.output, answer, () => `${f.noun} ${scope} ${t} deleted\n`);
  });

  addClientOptions(
    command.command('list').description(`List every stored ${f.noun}.`).addOption(outputOption()),
  ).action(async (_flags: unknown, cmd: Command) => {
    const flags = cmd.opts<{ output: OutputFormat }>();
    const client = await connect(cmd.opts<ClientFlags>());
    const all = await client.request<Record<string, unknown>[]>('GET', f.path);
    printData(io, flags.output, all, (docs) =>
      docs.length === 0
        ? `no ${f.noun}\n`
        : docs.map((d) => `${String(d.scope)} ${String(d.type)}\n${documentTable(name, d)}`).join('\n'),
    );
  });
}
