// @ts-check
/**
 * Users and access rules: who may do what where (a role on the cluster, a department or a project).
 * Everyone sees its own rules; an admin sees and manages every user and rule; a department-admin
 * grants and revokes roles inside its departments (but never admin). The API decides each write.
 */

import { CLUSTER, can, grantsOf, ROLES, scopeOf } from '../access.js';
import { act, confirmButton, createForm, keeper, labelled } from '../actions.js';
import { request } from '../api.js';
import * as fmt from '../format.js';
import { live } from '../live.js';
import { fill, h, section, table } from '../render.js';
import { currentUser } from '../session.js';
import { showNotice } from '../status.js';

/** @typedef {import('../types.js').UserView} UserView */
/** @typedef {import('../types.js').AccessRuleView} AccessRuleView */
/** @typedef {import('../types.js').ProjectView} ProjectView */
/** @typedef {import('../access.js').Grant} Grant */

/** Writing a rule at a scope is managing that scope; `admin` anywhere is the cluster's to give. @param {string} role @param {import('../access.js').Scope} s */
function manageVerb(role, s) {
  if (role === 'admin' || s.kind === 'cluster') return 'manage-cluster';
  return s.kind === 'department' ? 'manage-department' : 'manage-project';
}

/** @param {AbortSignal} signal */
async function load(signal) {
  const [me, rules, projects] = await Promise.all([
    currentUser(),
    request('GET', '/access-rules', { signal }),
    request('GET', '/projects', { signal }),
  ]);
  const all = /** @type {ProjectView[]} */ (projects);
  const departmentOf = (/** @type {string} */ p) => all.find((x) => x.name === p)?.department ?? null;
  const grants = grantsOf(me.rules, departmentOf);
  const admin = can(grants, 'manage-cluster', CLUSTER);
  const users = admin ? /** @type {UserView[]} */ (await request('GET', '/users', { signal })) : null;
  return {
    me,
    grants,
    departmentOf,
    admin,
    // Anyone who manages some scope may grant there: an admin, or a department-admin.
    grantor: grants.some((g) => g.role === 'admin' || g.role === 'department-admin'),
    rules: /** @type {AccessRuleView[]} */ (rules),
    users,
  };
}

/** The form that grants a role. @param {() => void} granted */
function grantForm(granted) {
  const subject = h('input', { name: 'subject', type: 'text', required: true, autocomplete: 'off' });
  const role = h('select', { name: 'role' }, ...ROLES.map((r) => h('option', { value: r }, r)));
  const scope = h('input', {
    name: 'scope',
    type: 'text',
    required: true,
    placeholder: 'cluster, department/NAME or project/NAME',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const form = h(
    'form',
    { class: 'card-form', 'aria-label': 'Grant a role' },
    h('h2', {}, 'Grant a role'),
    h(
      'div',
      { class: 'grid' },
      labelled('grant-subject', 'User', subject),
      labelled('grant-role', 'Role', role),
    ),
    labelled('grant-scope', 'Scope', scope, 'cluster, department/NAME or project/NAME'),
    h('button', { type: 'submit', class: 'primary' }, 'Grant'),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { subject: subject.value.trim(), role: role.value, scope: scope.value.trim() };
    if ((await act('POST', '/access-rules', body, form)) === undefined) return;
    showNotice(`Granted ${body.role} on ${body.scope} to ${body.subject}.`);
    granted();
  });
  return form;
}

/** The form that creates a user. @param {() => void} created */
function userForm(created) {
  return createForm({
    what: 'New user',
    id: 'new-user-name',
    label: 'New user',
    help: 'then grant it a role, and make it a token with tessera token create',
    button: 'Create user',
    path: '/users',
    body: (name) => ({ name }),
    done: (name) => `Created user ${name}.`,
    created,
  });
}

/** The users and access page. @param {HTMLElement} root */
export function accessPage(root) {
  const sMine = section('Your access');
  const sRules = section('Access rules');
  const sUsers = section('Users');
  const forms = h('div');
  root.replaceChildren(h('h1', {}, 'Users and access'), sMine.el, sRules.el, sUsers.el, forms);
  sUsers.el.hidden = true;

  /** @type {ReturnType<typeof keeper<HTMLElement>>} */
  const kept = keeper();
  let formsFor = '';
  const poll = live(load, (d) => {
    fill(
      sMine.body,
      h('p', {}, 'You are ', h('strong', {}, d.me.user), '.'),
      d.me.rules.length === 0
        ? h('p', { class: 'muted' }, 'You hold no role: an admin can grant you one.')
        : h(
            'ul',
            { class: 'plain' },
            ...d.me.rules.map((r) => h('li', {}, h('strong', {}, r.role), ' on ', h('code', {}, r.scope))),
          ),
    );
    /** @param {AccessRuleView} r */
    const mayRevoke = (r) => {
      const s = scopeOf(r.scope, d.departmentOf);
      return s !== null && can(d.grants, manageVerb(r.role, s), s);
    };
    /** @type {import('../render.js').Column<AccessRuleView>[]} */
    const columns = [
      { label: 'User', cell: (r) => r.subject },
      { label: 'Role', cell: (r) => r.role },
      { label: 'Scope', cell: (r) => h('code', {}, r.scope) },
      { label: 'Granted', align: 'num', cell: (r) => `${fmt.age(r.createdAt, Date.now())} ago` },
    ];
    if (d.grantor)
      columns.push({
        label: 'Actions',
        cell: (r) =>
          mayRevoke(r)
            ? kept.get(`rule-${r.id}`, () =>
                confirmButton(
                  'Revoke',
                  `Revoke ${r.role} on ${r.scope} from ${r.subject}?`,
                  'Yes, revoke',
                  async () => {
                    if ((await act('DELETE', `/access-rules/${r.id}`)) !== undefined)
                      showNotice(`Revoked ${r.role} on ${r.scope} from ${r.subject}.`);
                    poll.refresh();
                  },
                ),
              )
            : null,
      });
    fill(
      sRules.body,
      table({ label: 'Access rules', rows: d.rules, columns, empty: 'No access rules you may see.' }),
    );
    sUsers.el.hidden = d.users === null;
    if (d.users !== null)
      fill(
        sUsers.body,
        table({
          label: 'Users',
          rows: d.users,
          empty: 'No users.',
          columns: [
            { label: 'User', cell: (u) => u.name },
            { label: 'Created', align: 'num', cell: (u) => `${fmt.age(u.createdAt, Date.now())} ago` },
            {
              label: 'Actions',
              cell: (u) =>
                u.name === d.me.user
                  ? h('span', { class: 'muted' }, 'you')
                  : kept.get(`user-${u.name}`, () =>
                      confirmButton(
                        'Delete',
                        `Delete user ${u.name}? Its tokens stop working at once.`,
                        'Yes, delete',
                        async () => {
                          if ((await act('DELETE', `/users/${encodeURIComponent(u.name)}`)) !== undefined)
                            showNotice(`Deleted user ${u.name}.`);
                          poll.refresh();
                        },
                      ),
                    ),
            },
          ],
        }),
      );
    kept.done();
    // Built once per role: a poll must not wipe what is being typed.
    const want = `${d.admin}\u0000${d.grantor}`;
    if (want !== formsFor) {
      formsFor = want;
      fill(
        forms,
        d.grantor ? grantForm(() => poll.refresh()) : null,
        d.admin ? userForm(() => poll.refresh()) : null,
      );
    }
  });
  return () => poll.stop();
}
