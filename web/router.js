// @ts-check
/**
 * Hash routing: `#/workloads/<id>?x=y` names the page, its path parameters and its query, so a
 * reload or a shared link opens the same page and the allocator serves one index.html for all.
 */

/** @typedef {{ path: string[], query: URLSearchParams }} Route */

/** The route a hash names: `#/workloads/abc?phase=Running` -> path [workloads, abc]. @param {string} hash */
export function parseHash(hash) {
  const raw = hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const pathPart = q < 0 ? raw : raw.slice(0, q);
  const path = pathPart
    .split('/')
    .filter((s) => s !== '')
    .map((s) => decodeURIComponent(s));
  return { path, query: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
}

/** The hash of a path and query, the reverse of parseHash. @param {string[]} path @param {Record<string, string>} [query] */
export function hashOf(path, query = {}) {
  const qs = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== '')).toString();
  return `#/${path.map(encodeURIComponent).join('/')}${qs === '' ? '' : `?${qs}`}`;
}

/** Goes to a page (a new history entry, so Back returns). @param {string} hash */
export function go(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}

/** Changes the shown URL without a new page (filters). @param {string} hash */
export function replaceHash(hash) {
  history.replaceState(null, '', `${location.pathname}${location.search}${hash}`);
}

/** Calls `onRoute` now and on every hash change. @param {(route: Route) => void} onRoute */
export function startRouter(onRoute) {
  window.addEventListener('hashchange', () => onRoute(parseHash(location.hash)));
  onRoute(parseHash(location.hash));
}
