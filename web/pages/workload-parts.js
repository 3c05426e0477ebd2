// @ts-check
/**
 * The sections of the workload page, each built from one poll's data: spec, pods, GPU use and
 * events. Kept apart from workload.js, which owns polling and the actions.
 */
import * as fmt from '../format.js';
import { badge, h, table } from '../render.js';

/** @typedef {import('../types.js').WorkloadView} WorkloadView */
/** @typedef {import('../types.js').EventView} EventView */
/** @typedef {import('../types.js').TopView} TopView */
/** @typedef {import('../types.js').PodView} PodView */

/** @param {string} term @param {import('../render.js').Child[]} value */
function item(term, ...value) {
  return [h('dt', {}, term), h('dd', {}, ...value)];
}

/** The spec as a definition list. @param {WorkloadView} w */
export function specList(w) {
  const r = w.resources;
  const replicas =
    w.minReplicas === w.maxReplicas
      ? String(w.replicas)
      : `${w.replicas} (${w.minReplicas}–${w.maxReplicas})`;
  const env = Object.entries(w.env);
  return h(
    'dl',
    { class: 'spec' },
    item('Project', w.project),
    item('Type', w.type),
    item(
      'Priority',
      `${w.priorityClass} (${w.priority}), ${w.preemptible ? 'preemptible' : 'not preemptible'}`,
    ),
    item('Command', h('code', {}, w.command.join(' '))),
    w.image === undefined
      ? null
      : item(
          'Image',
          h('code', {}, w.image),
          ` (pull ${w.imagePullPolicy ?? 'IfNotPresent'}${w.imagePullSecret === undefined ? '' : ` with secret ${w.imagePullSecret}`})`,
        ),
    w.workingDir === undefined ? null : item('Working directory', h('code', {}, w.workingDir)),
    w.runAsUser === undefined && w.runAsGroup === undefined
      ? null
      : item(
          'Runs as',
          [
            w.runAsUser === undefined ? '' : `user ${w.runAsUser}`,
            w.runAsGroup === undefined ? '' : `group ${w.runAsGroup}`,
          ]
            .filter((x) => x !== '')
            .join(', '),
        ),
    (w.mounts ?? []).length === 0
      ? null
      : item(
          'Mounts',
          (w.mounts ?? [])
            .map(
              (m) =>
                `${m.hostPath}${m.containerPath === m.hostPath ? '' : ` → ${m.containerPath}`} (${m.readOnly ? 'read-only' : 'writable'})`,
            )
            .join(', '),
        ),
    item('Pods', replicas),
    w.url === undefined ? null : item('Served at', h('a', { href: w.url }, w.url)),
    w.readyReplicas === undefined
      ? null
      : item(
          'Ready replicas',
          `${w.readyReplicas} of ${w.wantedReplicas ?? w.replicas}${w.wantedReplicas === undefined ? '' : ' wanted by its autoscaler'}`,
        ),
    item('GPUs per pod', fmt.gpuRequest(r)),
    item(
      'CPU / memory per pod',
      `${r.cpuMillis === 0 ? '–' : `${r.cpuMillis / 1000} cores`} / ${r.memoryMiB === 0 ? '–' : fmt.memory(r.memoryMiB)}`,
    ),
    item('Node pools', w.nodePools.join(', ')),
    env.length === 0 ? null : item('Environment', h('code', {}, env.map(([k, v]) => `${k}=${v}`).join(' '))),
    item('Created', fmt.time(w.createdAt)),
    item('ID', h('code', {}, w.id)),
  );
}

/** @param {PodView} p */
function podGpus(p) {
  if (p.gpus.length === 0) return h('span', { class: 'muted' }, '–');
  return h(
    'ul',
    { class: 'plain' },
    ...p.gpus.map((g) => {
      const limit = g.memoryLimitMiB > g.memoryMiB ? ` (limit ${fmt.memory(g.memoryLimitMiB)})` : '';
      return h('li', { title: g.uuid }, `${fmt.gpus(g.fraction)} GPU · ${fmt.memory(g.memoryMiB)}${limit}`);
    }),
  );
}

/** The pods with node, phase, GPU grants and exit code. @param {WorkloadView} w */
export function podsTable(w) {
  return table({
    label: 'Pods',
    rows: w.pods,
    empty: 'No pods yet: the scheduler has not placed this workload.',
    columns: [
      { label: 'Pod', cell: (p) => p.name },
      { label: 'Node', cell: (p) => p.node ?? h('span', { class: 'muted' }, 'not placed') },
      { label: 'Phase', cell: (p) => badge(p.phase) },
      { label: 'GPUs', cell: podGpus },
      { label: 'Exit code', align: 'num', cell: (p) => (p.exitCode === null ? '–' : String(p.exitCode)) },
    ],
  });
}

/** Where each pod with ports listens (address:port per name) and whether it takes requests. @param {WorkloadView} w */
export function endpointsTable(w) {
  return table({
    label: 'Endpoints',
    rows: w.endpoints ?? [],
    empty: 'No endpoints: no pod with ports is placed.',
    columns: [
      { label: 'Pod', cell: (e) => e.pod },
      { label: 'Node', cell: (e) => e.node },
      {
        label: 'Address',
        cell: (e) =>
          h(
            'code',
            {},
            Object.entries(e.ports)
              .map(([name, port]) => `${name} ${e.address}:${port}`)
              .join(', '),
          ),
      },
      { label: 'Ready', cell: (e) => badge(e.ready ? 'Ready' : 'Starting') },
    ],
  });
}

/** The workload's GPU use from `/top`: a summary line and one row per pod and GPU. @param {WorkloadView} w @param {TopView} top */
export function gpuUse(w, top) {
  const sum = top.workloads.find((x) => x.id === w.id);
  const rows = top.nodes.flatMap((n) =>
    n.gpus.flatMap((g) => g.pods.filter((p) => p.workload === w.id).map((p) => ({ node: n.name, g, p }))),
  );
  return [
    sum === undefined
      ? h('p', { class: 'muted' }, 'No pods on GPUs right now.')
      : h(
          'p',
          { class: 'summary' },
          `${fmt.gpus(sum.gpus)} GPU granted over ${sum.pods} pod${sum.pods === 1 ? '' : 's'} · ${fmt.percent(sum.gpuUtilizationPct)} utilization · ${fmt.memory(sum.gpuMemoryUsedMiB)} GPU memory in use`,
        ),
    rows.length === 0
      ? null
      : table({
          label: 'GPU use',
          rows,
          empty: '',
          columns: [
            { label: 'Pod', cell: (r) => r.p.pod },
            { label: 'Node', cell: (r) => r.node },
            { label: 'GPU', cell: (r) => `${r.g.index} · ${r.g.model}` },
            { label: 'Share', align: 'num', cell: (r) => fmt.gpus(r.p.fraction) },
            { label: 'Utilization', align: 'num', cell: (r) => fmt.percent(r.p.utilizationPct) },
            {
              label: 'Memory used',
              align: 'num',
              cell: (r) => (r.p.memoryUsedMiB === null ? '–' : fmt.memory(r.p.memoryUsedMiB)),
            },
          ],
        }),
  ];
}

/** The phase changes, newest first. @param {EventView[]} events */
export function eventsTable(events) {
  return table({
    label: 'Events',
    rows: [...events].reverse(),
    empty: 'No events.',
    columns: [
      { label: 'Time', cell: (e) => fmt.time(e.time) },
      {
        label: 'Change',
        cell: (e) =>
          h('span', { class: 'phase' }, e.from === null ? null : [badge(e.from), ' → '], badge(e.to)),
      },
      { label: 'Reason', cell: (e) => e.reason },
      { label: 'Message', cell: (e) => e.message ?? '' },
    ],
  });
}
