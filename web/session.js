// @ts-check
/**
 * Who is logged in, and the way out: logging out (by hand or because the API answered 401) forgets
 * the token and opens the login page with the reason, then returns to the page the user was on.
 */
import { clearToken, request } from './api.js';
import { go } from './router.js';

/** @typedef {import('./types.js').WhoAmI} WhoAmI */

/** @type {string | null} */
let reason = null;
let next = '#/';

/** Shows the user's name in the header. @param {string} user */
export function showUser(user) {
  const el = document.getElementById('who');
  if (el !== null) el.textContent = user;
}

/** Forgets the token and opens the login page, saying why when `why` is given. @param {string | null} why */
export function logout(why) {
  clearToken();
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
  const me = /** @type {WhoAmI} */ (await request('GET', '/whoami'));
  showUser(me.user);
  return me;
}
