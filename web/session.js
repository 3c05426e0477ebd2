// @ts-check
/**
 * Who is logged in, what its access rules let it do (asked once per login: `GET /whoami`), and the
 * way out: logging out (by hand or because the API answered 401) forgets the token and opens the
 * login page with the reason, then returns to the page the user was on.
 */
import { CLUSTER, can, grantsOf } from './access.js';
import { clearToken, request } from './api.js';
import { go } from './router.js';

/** @typedef {import('./types.js').WhoAmI} WhoAmI */

/** @type {string | null} */
let reason = null;
let next = '#/';
/** The logged-in user, asked once per login. @type {Promise<WhoAmI> | null} */
let current = null;

/** Shows the user's name in the header. @param {string} user */
export function showUser(user) {
  const el = document.getElementById('who');
  if (el !== null) el.textContent = user;
}

/** Forgets the token and opens the login page, saying why when `why` is given. @param {string | null} why */
export function logout(why) {
  clearToken();
  current = null;
  showUser('');
  reason = why;
  if (!location.hash.startsWith('#/login')) {
    next = location.hash === '' ? '#/' : location.hash;
    go('#/login');
  }
}

/** The reason the user was sent to log in, once. */
export function takeReason() {
  const r = reason;
  reason = null;
  return r;
}

/** Goes back to the page the user was sent away from. */
export function afterLogin() {
  const to = next;
  next = '#/';
  go(to);
}

/** Fetches who the stored token belongs to and shows it (a 401 logs out through the API client). */
export async function loadUser() {
  const asked = request('GET', '/whoami').then((me) => /** @type {WhoAmI} */ (me));
  current = asked;
  try {
    const me = await asked;
    rememberUser(me);
    return me;
  } catch (e) {
    if (current === asked) current = null;
    throw e;
  }
}

/**
 * Keeps `me` as the logged-in user: its name in the header, and the nav entries its rules give it
 * (`data-needs="read-nodes"`: nodes and pools) shown, the others hidden.
 * @param {WhoAmI} me
 */
export function rememberUser(me) {
  current = Promise.resolve(me);
  showUser(me.user);
  const grants = grantsOf(me.rules, () => null);
  for (const a of document.querySelectorAll('nav a[data-needs]'))
    a.toggleAttribute('hidden', !can(grants, a.getAttribute('data-needs') ?? '', CLUSTER));
}

/** The logged-in user and its rules: asked of the API on first use after a login, then kept. */
export function currentUser() {
  return current ?? loadUser();
}
