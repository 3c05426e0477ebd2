// @ts-check
/**
 * The console's entry: takes a `#token=` handed over once, wires the header, and shows the page the
 * hash names. Each page returns its own teardown, called before the next page mounts, so a page's
 * polling never outlives it.
 */
import { ApiError, getToken, onUnauthorized, setToken } from './api.js';
import { accessPage } from './pages/access.js';
import { loginPage } from './pages/login.js';
import { nodePage } from './pages/node.js';
import { nodepoolPage, nodepoolsPage } from './pages/nodepools.js';
import { nodesPage } from './pages/nodes.js';
import { overviewPage } from './pages/overview.js';
import { policiesPage } from './pages/policies.js';
import { projectsPage } from './pages/projects.js';
import { queuePage } from './pages/queue.js';
import { submitPage } from './pages/submit.js';
import { workloadPage } from './pages/workload.js';
import { workloadsPage } from './pages/workloads.js';
import { h } from './render.js';
import { parseHash, replaceHash, startRouter } from './router.js';
import { loadUser, logout } from './session.js';
import { resetForPage, showError, startClock } from './status.js';

/** @typedef {import('./router.js').Route} Route */
/** @typedef {(root: HTMLElement, route: Route) => () => void} Page */

/** @param {HTMLElement} root */
function notFound(root) {
  root.replaceChildren(
    h('h1', {}, 'No such page'),
    h(
      'p',
      {},
      'The console has no page at this address. ',
      h('a', { href: '#/' }, 'Go to the overview'),
      '.',
    ),
  );
  return () => {};
}

/**
 * The page for a path, its title and its nav entry.
 * @param {string[]} path
 * @returns {{ page: Page, title: string, nav: string }}
 */
function pageFor(path) {
  const [first, second, ...rest] = path;
  if (rest.length > 0) return { page: notFound, title: 'Not found', nav: '' };
  if (first === undefined) return { page: overviewPage, title: 'Overview', nav: 'overview' };
  if (second === undefined) {
    if (first === 'login') return { page: loginPage, title: 'Log in', nav: '' };
    if (first === 'projects') return { page: projectsPage, title: 'Projects', nav: 'projects' };
    if (first === 'workloads') return { page: workloadsPage, title: 'Workloads', nav: 'workloads' };
    if (first === 'submit') return { page: submitPage, title: 'Submit a workload', nav: 'submit' };
    if (first === 'nodes') return { page: nodesPage, title: 'Nodes', nav: 'nodes' };
    if (first === 'nodepools') return { page: nodepoolsPage, title: 'Node pools', nav: 'nodepools' };
    if (first === 'access') return { page: accessPage, title: 'Users and access', nav: 'access' };
    if (first === 'policies') return { page: policiesPage, title: 'Policies', nav: 'policies' };
  } else if (first === 'workloads') return { page: workloadPage, title: 'Workload', nav: 'workloads' };
  else if (first === 'nodes') return { page: nodePage, title: `Node ${second}`, nav: 'nodes' };
  else if (first === 'nodepools')
    return { page: nodepoolPage, title: `Node pool ${second}`, nav: 'nodepools' };
  else if (first === 'projects')
    return { page: queuePage('project'), title: `Project ${second}`, nav: 'projects' };
  else if (first === 'departments')
    return { page: queuePage('department'), title: `Department ${second}`, nav: 'projects' };
  return { page: notFound, title: 'Not found', nav: '' };
}

let teardown = () => {};

/** @param {Route} route */
function show(route) {
  teardown();
  teardown = () => {};
  // A token may also arrive on a page already open (a second link pasted into the same tab).
  if (takeAddressToken()) route = parseHash(location.hash);
  const onLogin = route.path[0] === 'login';
  if (!onLogin && getToken() === null) {
    logout(null);
    return;
  }
  resetForPage();
  const { page, title, nav } = pageFor(route.path);
  document.body.classList.toggle('logged-out', onLogin);
  document.title = `${title} · Tessera`;
  for (const a of document.querySelectorAll('nav a[data-nav]')) {
    if (a.getAttribute('data-nav') === nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const main = document.getElementById('main');
  if (main === null) throw new Error('index.html has no #main');
  main.replaceChildren();
  teardown = page(main, route);
}

/** Shows who the stored token belongs to; a 401 has already sent the user to log in. */
function refreshUser() {
  loadUser().catch((e) => {
    if (!(e instanceof ApiError && e.status === 401)) showError(e);
  });
}

/**
 * Takes a token handed over in the address (`/#token=...`, as `tessera up` may print) and removes
 * it, so it stays in neither the history nor a copied URL; true when there was one.
 */
function takeAddressToken() {
  if (!location.hash.startsWith('#token=')) return false;
  setToken(decodeURIComponent(location.hash.slice('#token='.length)));
  replaceHash('#/');
  refreshUser();
  return true;
}

function boot() {
  onUnauthorized((message) => logout(`Your token was refused, log in again: ${message}`));
  document.getElementById('logout')?.addEventListener('click', () => logout('You logged out.'));
  startClock();
  if (!takeAddressToken() && getToken() !== null) refreshUser();
  startRouter(show);
}

boot();
