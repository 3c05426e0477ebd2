// @ts-check
/**
 * Log in with an API token: checked with `GET /whoami` before it is kept, so a mistyped token is
 * refused here, with the API's reason, rather than on the next page.
 */
import { ApiError, request, setToken } from '../api.js';
import { h } from '../render.js';
import { afterLogin, rememberUser, takeReason } from '../session.js';
import { describe } from '../status.js';

/** @typedef {import('../types.js').WhoAmI} WhoAmI */

/** The login page. @param {HTMLElement} root */
export function loginPage(root) {
  const reason = takeReason();
  const input = h('input', {
    id: 'token',
    name: 'token',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'aria-describedby': 'token-help',
  });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Log in');
  let closed = false;

  /** @param {SubmitEvent} ev */
  async function submit(ev) {
    ev.preventDefault();
    const token = input.value.trim();
    if (token === '') return;
    button.disabled = true;
    error.hidden = true;
    try {
      const me = /** @type {WhoAmI} */ (await request('GET', '/whoami', { token, keep401: true }));
      if (closed) return;
      setToken(token);
      rememberUser(me);
      afterLogin();
    } catch (e) {
      if (closed) return;
      error.textContent =
        e instanceof ApiError && e.status === 401
          ? `That token is not valid: ${e.message}`
          : `Could not check the token: ${describe(e)}`;
      error.hidden = false;
      input.focus();
    } finally {
      button.disabled = false;
    }
  }

  const form = h(
    'form',
    {
      class: 'login card',
      'aria-labelledby': 'login-title',
      onsubmit: (ev) => void submit(/** @type {SubmitEvent} */ (ev)),
    },
    h('h1', { id: 'login-title' }, 'Log in to Tessera'),
    reason === null ? null : h('p', { class: 'login-reason', role: 'status' }, reason),
    h('label', { for: 'token' }, 'API token'),
    input,
    h(
      'p',
      { id: 'token-help', class: 'help' },
      'Paste a user token. tessera up writes the admin token to DATA/admin-token; an admin can make one with tessera token create --user NAME.',
    ),
    error,
    h('div', { class: 'actions' }, button),
  );
  root.replaceChildren(form);
  input.focus();
  return () => {
    closed = true;
  };
}
