// @ts-check
/**
 * Line plots as inline SVG, built node by node (no markup strings, no library): time on x, one or
 * more series on y, a gap where samples are missing (the allocator restarted, a node was away).
 * Colours and strokes come from plots.css by class, so the page's CSP needs no inline style.
 */

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 640;
const HEIGHT = 170;
const M = { left: 44, right: 12, top: 10, bottom: 24 };

/**
 * @typedef {object} PlotSeries
 * @property {string} label
 * @property {string} class CSS class of its line (plots.css)
 * @property {(number | null)[]} values one per time; null: no value there
 * @property {boolean} [area] fill under the line
 */

/**
 * @typedef {object} Plot
 * @property {string} label what the plot shows, for screen readers and the title
 * @property {number[]} times ms since the epoch, ascending
 * @property {PlotSeries[]} series
 * @property {number} fromMs left edge
 * @property {number} toMs right edge
 * @property {number} gapMs two samples further apart than this are not joined
 * @property {number} yMin the y axis reaches at least this high
 * @property {(y: number) => string} yFormat tick labels
 */

/**
 * An SVG element; attributes as strings, children appended.
 * @param {string} tag @param {Record<string, string | number>} [attrs] @param {...(Node | string)} children
 */
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
}

/** Round numbers for ticks: the smallest of 1, 2, 5 × 10^k at or above `max / 4`. @param {number} max */
export function tickStep(max) {
  const raw = max / 4;
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * pow >= raw) return m * pow;
  return 10 * pow;
}

/**
 * The runs of a series to draw: consecutive values with no null between and no gap in time.
 * @param {number[]} times @param {(number | null)[]} values @param {number} gapMs
 * @returns {[number, number][][]}
 */
export function runs(times, values, gapMs) {
  /** @type {[number, number][][]} */
  const out = [];
  /** @type {[number, number][]} */
  let run = [];
  let last = Number.NaN;
  for (let i = 0; i < times.length; i++) {
    const t = times[i] ?? 0;
    const v = values[i] ?? null;
    if (v === null || t - last > gapMs) {
      if (run.length > 0) out.push(run);
      run = [];
    }
    if (v !== null) run.push([t, v]);
    last = t;
  }
  if (run.length > 0) out.push(run);
  return out;
}

/**
 * A clock time for an x tick: 14:05; with seconds over a span of minutes, with the date over a day.
 * @param {number} ms @param {number} spanMs
 */
function clock(ms, spanMs) {
  const d = new Date(ms);
  const hm = d.toLocaleTimeString([], {
    hour: '2-digit',
    minute: '2-digit',
    ...(spanMs < 15 * 60_000 ? { second: '2-digit' } : {}),
  });
  return spanMs >= 24 * 3600_000
    ? `${d.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${hm}`
    : hm;
}

/** The plot as an `<svg role="img">` labelled with what it shows. @param {Plot} p */
export function linePlot(p) {
  const w = WIDTH - M.left - M.right;
  const ht = HEIGHT - M.top - M.bottom;
  const span = Math.max(1, p.toMs - p.fromMs);
  let top = p.yMin;
  for (const ser of p.series) for (const v of ser.values) if (v !== null && v > top) top = v;
  const step = tickStep(top > 0 ? top : 1);
  top = Math.ceil(top / step) * step || step;
  const x = (/** @type {number} */ t) => M.left + ((t - p.fromMs) / span) * w;
  const y = (/** @type {number} */ v) => M.top + ht - (v / top) * ht;
  const svg = s('svg', {
    class: 'plot',
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: 'img',
    'aria-label': p.label,
    preserveAspectRatio: 'xMidYMid meet',
  });
  svg.append(s('title', {}, p.label));
  const grid = s('g', { class: 'plot-grid' });
  for (let v = 0; v <= top + step / 2; v += step) {
    grid.append(
      s('line', { x1: M.left, x2: M.left + w, y1: y(v), y2: y(v) }),
      s('text', { x: M.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, p.yFormat(v)),
    );
  }
  for (let i = 0; i <= 4; i++) {
    const t = p.fromMs + (span * i) / 4;
    grid.append(
      s(
        'text',
        { x: x(t), y: HEIGHT - 6, 'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle' },
        clock(t, span),
      ),
    );
  }
  svg.append(grid);
  for (const ser of p.series) {
    const g = s('g', { class: `plot-series ${ser.class}`, 'data-series': ser.label });
    for (const run of runs(p.times, ser.values, p.gapMs)) {
      const pts = run.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`);
      if (ser.area === true && run.length > 1) {
        const first = run[0]?.[0] ?? 0;
        const last = run.at(-1)?.[0] ?? 0;
        g.append(
          s('polygon', {
            class: 'plot-area',
            points: `${x(first).toFixed(1)},${y(0)} ${pts.join(' ')} ${x(last).toFixed(1)},${y(0)}`,
          }),
        );
      }
      // A lone sample is a dot: a line needs two.
      if (run.length === 1) {
        const [t, v] = run[0] ?? [0, 0];
        g.append(s('circle', { class: 'plot-dot', cx: x(t).toFixed(1), cy: y(v).toFixed(1), r: 2.5 }));
      } else g.append(s('polyline', { class: 'plot-line', points: pts.join(' ') }));
    }
    svg.append(g);
  }
  return svg;
}
