// @ts-check
/**
 * Small DOM helpers. Everything the API says goes into the page as text nodes or attribute values,
 * never through innerHTML, so a workload named `<img onerror=...>` stays a name.
 */

/** @typedef {Node | string | number | null | undefined | false} Child */
/** @typedef {string | number | boolean | null | undefined | EventListener} AttrValue */

/**
 * Creates an element; `on*` attributes become listeners, `false`/null/undefined are left out.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, AttrValue>} [attrs]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith('on')) {
      // Only code becomes a handler: a string here would be a script from whatever text filled it.
      if (typeof value !== 'function') throw new Error(`h(): ${key} must be a function`);
      el.addEventListener(key.slice(2), value);
    } else if (typeof value === 'function') throw new Error(`h(): ${key} is not an event`);
    else if (key === 'class') el.className = String(value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/**
 * Appends children, flattening arrays and turning strings and numbers into text nodes.
 * @param {Element | DocumentFragment} el
 * @param {(Child | Child[])[]} children
 */
export function append(el, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'number' ? String(c) : c);
  }
}

/**
 * Replaces an element's content.
 * @param {Element} el
 * @param {...(Child | Child[])} children
 */
export function fill(el, ...children) {
  const frag = document.createDocumentFragment();
  append(frag, children);
  el.replaceChildren(frag);
}

/**
 * @template T
 * @typedef {object} Column
 * @property {string} label
 * @property {(row: T) => Child | Child[]} cell
 * @property {'num'} [align]
 */

/**
 * A table with a header row; `empty` is shown in one cell when there are no rows.
 * @template T
 * @param {{ label: string, columns: Column<T>[], rows: readonly T[], empty: string, rowClass?: (row: T) => string }} t
 * @returns {HTMLTableElement}
 */
export function table(t) {
  const head = h('tr', {}, ...t.columns.map((c) => h('th', { scope: 'col', class: c.align }, c.label)));
  const body = t.rows.map((row) =>
    h('tr', { class: t.rowClass?.(row) }, ...t.columns.map((c) => h('td', { class: c.align }, c.cell(row)))),
  );
  if (body.length === 0)
    body.push(h('tr', {}, h('td', { colspan: t.columns.length, class: 'empty' }, t.empty)));
  return h('table', { 'aria-label': t.label }, h('thead', {}, head), h('tbody', {}, ...body));
}

/** A coloured badge for a workload, pod or node state. @param {string} state */
export function badge(state) {
  return h('span', { class: `badge state-${state.toLowerCase()}` }, state);
}

/**
 * A titled section whose `body` the page refills on each poll.
 * @param {string} title
 * @param {...(Child | Child[])} extra shown after the title
 * @returns {{ el: HTMLElement, body: HTMLDivElement }}
 */
export function section(title, ...extra) {
  const id = `s-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  const body = h('div', { class: 'section-body' });
  const el = h(
    'section',
    { 'aria-labelledby': id },
    h('div', { class: 'section-head' }, h('h2', { id }, title), ...extra),
    body,
  );
  return { el, body };
}

/**
 * A horizontal meter: `value` of `max`, with optional marks (deserved, fair share) drawn as ticks.
 * @param {number} value
 * @param {number} max
 * @param {{ at: number, label: string, class: string }[]} [marks]
 */
export function meter(value, max, marks = []) {
  const pct = (/** @type {number} */ x) => `${max > 0 ? Math.min(100, Math.max(0, (x / max) * 100)) : 0}%`;
  const label = marks.length > 0 ? marks.map((m) => m.label).join(', ') : `${value} of ${max}`;
  const fillEl = h('span', { class: 'meter-fill' });
  // Set through the CSSOM, not a style attribute, so the page's CSP can forbid inline styles.
  fillEl.style.width = pct(value);
  const ticks = marks.map((m) => {
    const tick = h('span', { class: `meter-mark ${m.class}`, title: m.label });
    tick.style.left = pct(m.at);
    return tick;
  });
  return h('span', { class: 'meter', role: 'img', 'aria-label': label }, fillEl, ...ticks);
}

/** A link inside the console. @param {string} hash @param {Child} text */
export function link(hash, text) {
  return h('a', { href: hash }, text);
}
