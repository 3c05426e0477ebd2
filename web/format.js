// @ts-check
/** How numbers from the API read on screen: GPUs, memory, ages, percentages. */

/** @typedef {import('./types.js').PodResources} PodResources */

/** A GPU amount without float noise: 0.5, 1, 2.25. @param {number} gpus */
export function gpus(gpus) {
  return String(Math.round(gpus * 1000) / 1000);
}

/** MiB as GiB with one decimal, or MiB below 1 GiB. @param {number} mib */
export function memory(mib) {
  if (mib < 1024) return `${Math.round(mib)} MiB`;
  return `${(mib / 1024).toFixed(1)} GiB`;
}

/** A percentage, or a dash when the GPU reported none. @param {number | null} pct */
export function percent(pct) {
  return pct === null ? '–' : `${Math.round(pct)}%`;
}

/** A duration in the largest unit that fits: 45s, 12m, 3h, 2d. @param {number} ms */
export function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** The age of an ISO time at `nowMs`. @param {string} iso @param {number} nowMs */
export function age(iso, nowMs) {
  return duration(nowMs - Date.parse(iso));
}

/** A local date and time for an ISO time. @param {string} iso */
export function time(iso) {
  return new Date(iso).toLocaleString();
}

/** What one pod asks of GPUs: "2 GPUs", "0.5 GPU", "20.0 GiB of a GPU", or "none". @param {PodResources} r */
export function gpuRequest(r) {
  const g = r.gpu;
  switch (g.kind) {
    case 'devices':
      return `${g.count} GPU${g.count === 1 ? '' : 's'}`;
    case 'fraction':
      return `${gpus(g.milli / 1000)} GPU`;
    case 'memory':
      return `${memory(g.memoryMiB)} of a GPU`;
    default:
      return 'none';
  }
}

/** GPUs one pod holds at most, for totals: a memory share counts as unknown (0). @param {PodResources} r */
export function gpuAmount(r) {
  const g = r.gpu;
  if (g.kind === 'devices') return g.count;
  if (g.kind === 'fraction') return g.milli / 1000;
  return 0;
}

/** A limit where -1 means none. @param {number} limit */
export function limit(limit) {
  return limit < 0 ? 'none' : gpus(limit);
}
