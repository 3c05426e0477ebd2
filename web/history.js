// @ts-check
/**
 * A section of plots of one project's, node pool's or node's usage over time (`GET /history/...`):
 * GPUs allocated against capacity (a node's or pool's GPUs, a project's deserved quota) and GPU
 * utilization. It polls on its own, about as often as the allocator samples, and the window (the
 * last hour, 6 hours, day) is the reader's to pick.
 */
import { request } from './api.js';
import { POLL_MS } from './constants.js';
import * as fmt from './format.js';
import { live } from './live.js';
import { linePlot } from './plot.js';
import { fill, h, section } from './render.js';

/** @typedef {import('./types.js').HistoryView} HistoryView */
/** @typedef {'project' | 'nodepool' | 'node'} HistoryKind */

/** The route segment and the words for each kind. */
const KINDS = {
  project: { path: 'projects', what: 'project', capacity: 'deserved quota' },
  nodepool: { path: 'nodepools', what: 'node pool', capacity: 'GPUs in the pool' },
  node: { path: 'nodes', what: 'node', capacity: 'GPUs on the node' },
};

/** The windows offered, shortest first. */
const WINDOWS = [
  { value: '1h', label: 'last hour', ms: 3600_000 },
  { value: '6h', label: 'last 6 hours', ms: 6 * 3600_000 },
  { value: '24h', label: 'last day', ms: 24 * 3600_000 },
];

/** The longest wait between two polls of a history: its samples come a minute apart by default. */
const MAX_PERIOD_MS = 30_000;

/**
 * The two plots of one history, with a line saying the newest sample in words.
 * @param {HistoryView} v @param {number} nowMs
 */
export function historyPlots(v, nowMs) {
  const k = KINDS[v.kind];
  const times = v.points.map((p) => Date.parse(p.at));
  const everyMs = v.stepMs ?? v.intervalMs;
  // A history younger than the window (the allocator started since) fills the plot rather than a
  // sliver at its right edge; the axis says the times.
  const fromMs = Math.max(nowMs - v.windowMs, (times[0] ?? nowMs) - everyMs);
  const gapMs = 2.5 * everyMs;
  const n = v.points.length;
  const latest = v.points.at(-1);
  if (latest === undefined)
    return h(
      'p',
      { class: 'muted' },
      `No samples of this ${k.what} yet: the allocator takes one every ${every(v.intervalMs)} (and forgets them when it restarts).`,
    );
  const gpus = linePlot({
    label: `GPUs allocated to ${k.what} ${v.name} over time: ${n} samples, newest ${fmt.gpus(latest.allocatedGpus)} of ${fmt.gpus(latest.capacityGpus)}`,
    times,
    fromMs,
    toMs: nowMs,
    gapMs,
    yMin: 1,
    yFormat: (y) => fmt.gpus(y),
    series: [
      { label: k.capacity, class: 'series-capacity', values: v.points.map((p) => p.capacityGpus) },
      {
        label: 'allocated',
        class: 'series-allocated',
        area: true,
        values: v.points.map((p) => p.allocatedGpus),
      },
    ],
  });
  const util = linePlot({
    label: `GPU utilization of ${k.what} ${v.name} over time: ${n} samples, newest ${fmt.percent(latest.utilizationPct)}`,
    times,
    fromMs,
    toMs: nowMs,
    gapMs,
    yMin: 100,
    yFormat: (y) => `${Math.round(y)}%`,
    series: [{ label: 'utilization', class: 'series-util', values: v.points.map((p) => p.utilizationPct) }],
  });
  const plots = h(
    'div',
    { class: 'plots' },
    h(
      'figure',
      { class: 'plot-figure' },
      h(
        'figcaption',
        {},
        h('strong', {}, 'GPUs allocated'),
        ' ',
        h('span', { class: 'key key-allocated' }),
        'allocated ',
        h('span', { class: 'key key-capacity' }),
        k.capacity,
      ),
      gpus,
    ),
    h(
      'figure',
      { class: 'plot-figure' },
      h(
        'figcaption',
        {},
        h('strong', {}, 'GPU utilization'),
        ' ',
        h('span', { class: 'muted' }, v.kind === 'project' ? 'of the GPUs it holds' : 'mean of its GPUs'),
      ),
      util,
    ),
  );
  return [
    plots,
    h(
      'p',
      { class: 'muted plot-note' },
      `${n} samples, one every ${every(everyMs)}; newest ${fmt.time(latest.at)}.`,
    ),
  ];
}

/** A sampling period in words: 1m, 30s, or 200 ms below a second. @param {number} ms */
function every(ms) {
  return ms < 1000 ? `${ms} ms` : fmt.duration(ms);
}

/**
 * The "Usage over time" section of a page, polling the history of `kind` `name` until stopped.
 * @param {HistoryKind} kind @param {string} name
 * @returns {{ el: HTMLElement, stop: () => void }}
 */
export function historySection(kind, name) {
  const id = `history-window-${kind}`;
  const choose = h(
    'select',
    { id, name: id },
    ...WINDOWS.map((w) => h('option', { value: w.value }, w.label)),
  );
  const sec = section(
    'Usage over time',
    h('div', { class: 'field inline' }, h('label', { for: id }, 'Window'), choose),
  );
  let periodMs = POLL_MS;
  const path = () =>
    `/history/${KINDS[kind].path}/${encodeURIComponent(name)}?window=${encodeURIComponent(choose.value)}`;
  const poll = live(
    async (signal) => /** @type {HistoryView} */ (await request('GET', path(), { signal })),
    (v) => {
      periodMs = Math.min(MAX_PERIOD_MS, Math.max(POLL_MS, v.stepMs ?? v.intervalMs));
      fill(sec.body, historyPlots(v, Date.now()));
    },
    () => periodMs,
  );
  choose.addEventListener('change', () => poll.refresh());
  return { el: sec.el, stop: () => poll.stop() };
}
