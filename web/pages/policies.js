// @ts-check
/**
 * Policies (defaults and limits a submission must meet) and scheduling rules (longest runtime, idle
 * GPU timeout, node types), each set per scope (`cluster`, `department:NAME`, `project:NAME`) and
 * workload type; a lower scope may only tighten what a higher one set. Everyone reads those that
 * bind its work; whoever manages a scope sets and deletes them there. The documents are JSON as the
 * API and `tessera policy` take them, and the API's refusal names the field and the scope.
 */

import { CLUSTER, can, grantsOf } from '../access.js';
import { act, confirmButton, keeper, labelled } from '../actions.js';
import { request } from '../api.js';
import { WORKLOAD_TYPES } from '../constants.js';
import * as fmt from '../format.js';
import { live } from '../live.js';
import { fill, h, section, table } from '../render.js';
import { currentUser } from '../session.js';
import { showError, showNotice } from '../status.js';

/** @typedef {import('../types.js').ScopedView} ScopedView */
/** @typedef {import('../types.js').ProjectView} ProjectView */
/** @typedef {import('../access.js').Scope} Scope */

/** The two families, as the API names them. */
const FAMILIES = [
  {
    path: '/policies',
    title: 'Policies',
    one: 'policy',
    example: '{"defaults": {"resources.gpuFraction": 0.5}, "rules": {"resources.gpuFraction": {"max": 0.5}}}',
  },
  {
    path: '/rules',
    title: 'Scheduling rules',
    one: 'scheduling rules',
    example: '{"maxRuntimeSeconds": 86400, "idleGpuTimeoutSeconds": 3600}',
  },
];

/**
 * A policy scope (`department:d`) as an access scope; null when it is none of the three forms.
 * @param {string} written @param {(project: string) => string | null} departmentOf
 * @returns {Scope | null}
 */
export function policyScope(written, departmentOf) {
  if (written === 'cluster') return CLUSTER;
  const m = /^(department|project):(.+)$/.exec(written);
  if (m === null || m[2] === undefined) return null;
  return m[1] === 'department'
    ? { kind: 'department', department: m[2] }
    : { kind: 'project', project: m[2], department: departmentOf(m[2]) };
}

/** The verb that writes at a scope. @param {Scope} s */
function manageVerb(s) {
  return s.kind === 'cluster'
    ? 'manage-cluster'
    : s.kind === 'department'
      ? 'manage-department'
      : 'manage-project';
}

/** The document of a stored row: its fields less scope, type and time. @param {ScopedView} row */
function documentOf(row) {
  const { scope: _s, type: _t, updatedAt: _u, ...doc } = row;
  return doc;
}

/** @param {AbortSignal} signal */
async function load(signal) {
  const [me, projects, policies, rules] = await Promise.all([
    currentUser(),
    request('GET', '/projects', { signal }),
    request('GET', '/policies', { signal }),
    request('GET', '/rules', { signal }),
  ]);
  const all = /** @type {ProjectView[]} */ (projects);
  const departmentOf = (/** @type {string} */ p) => all.find((x) => x.name === p)?.department ?? null;
  const grants = grantsOf(me.rules, departmentOf);
  return {
    rows: [/** @type {ScopedView[]} */ (policies), /** @type {ScopedView[]} */ (rules)],
    /** @param {string} written */
    mayManage: (written) => {
      const s = policyScope(written, departmentOf);
      return s !== null && can(grants, manageVerb(s), s);
    },
    manager: grants.some((g) => g.role === 'admin' || g.role === 'department-admin'),
  };
}

/**
 * The form that sets one family's document at a scope and type.
 * @param {(typeof FAMILIES)[number]} f @param {() => void} saved
 */
function setForm(f, saved) {
  const key = f.path.slice(1);
  const scope = h('input', {
    name: 'scope',
    type: 'text',
    required: true,
    placeholder: 'cluster, department:NAME or project:NAME',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const type = h('select', { name: 'type' }, ...WORKLOAD_TYPES.map((t) => h('option', { value: t }, t)));
  const doc = h('textarea', { name: 'document', rows: 4, spellcheck: 'false', placeholder: f.example });
  const form = h(
    'form',
    { class: 'card-form', 'aria-label': `Set ${f.one}` },
    h('h2', {}, `Set ${f.one}`),
    h(
      'div',
      { class: 'grid' },
      labelled(`${key}-scope`, 'Scope', scope),
      labelled(`${key}-type`, 'Workload type', type),
    ),
    labelled(`${key}-document`, 'Document (JSON)', doc, `e.g. ${f.example}`),
    h('button', { type: 'submit', class: 'primary' }, `Save ${f.one}`),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    /** @type {unknown} */
    let body;
    try {
      body = doc.value.trim() === '' ? {} : JSON.parse(doc.value);
    } catch (err) {
      doc.setAttribute('aria-invalid', 'true');
      showError(new Error(`Document: not JSON (${err instanceof Error ? err.message : String(err)})`));
      return;
    }
    const path = `${f.path}/${encodeURIComponent(scope.value.trim())}/${encodeURIComponent(type.value)}`;
    if ((await act('PUT', path, body, form)) === undefined) return;
    showNotice(`Saved the ${f.one} of ${scope.value.trim()} for ${type.value}.`);
    saved();
  });
  return {
    form,
    /** Fills the form from a stored row, to change it. @param {ScopedView} row */
    edit(row) {
      scope.value = row.scope;
      type.value = row.type;
      doc.value = JSON.stringify(documentOf(row), null, 2);
      doc.focus();
    },
  };
}

/** The policies and scheduling rules page. @param {HTMLElement} root */
export function policiesPage(root) {
  const parts = FAMILIES.map((f) => ({ f, sec: section(f.title), slot: h('div') }));
  root.replaceChildren(
    h('h1', {}, 'Policies and scheduling rules'),
    ...parts.flatMap((p) => [p.sec.el, p.slot]),
  );
  /** @type {ReturnType<typeof keeper<HTMLElement>>} */
  const kept = keeper();
  /** @type {(ReturnType<typeof setForm> | null)[]} */
  const forms = parts.map(() => null);
  const poll = live(load, (d) => {
    parts.forEach(({ f, sec, slot }, i) => {
      if (d.manager && forms[i] === null) {
        const made = setForm(f, () => poll.refresh());
        forms[i] = made;
        fill(slot, made.form);
      }
      const form = forms[i] ?? null;
      const rows = [...(d.rows[i] ?? [])].sort(
        (a, b) => a.scope.localeCompare(b.scope) || a.type.localeCompare(b.type),
      );
      /** @type {import('../render.js').Column<ScopedView>[]} */
      const columns = [
        { label: 'Scope', cell: (r) => h('code', {}, r.scope) },
        { label: 'Type', cell: (r) => r.type },
        {
          label: 'Document',
          cell: (r) => h('pre', { class: 'doc' }, JSON.stringify(documentOf(r), null, 1)),
        },
        { label: 'Updated', align: 'num', cell: (r) => `${fmt.age(r.updatedAt, Date.now())} ago` },
      ];
      if (d.manager)
        columns.push({
          label: 'Actions',
          cell: (r) =>
            d.mayManage(r.scope)
              ? kept.get(`${f.path}\u0000${r.scope}\u0000${r.type}\u0000${r.updatedAt}`, () =>
                  h(
                    'span',
                    { class: 'actions' },
                    h('button', { type: 'button', onclick: () => form?.edit(r) }, 'Change'),
                    confirmButton(
                      'Delete',
                      `Delete the ${f.one} of ${r.scope} for ${r.type}?`,
                      'Yes, delete',
                      async () => {
                        const path = `${f.path}/${encodeURIComponent(r.scope)}/${encodeURIComponent(r.type)}`;
                        if ((await act('DELETE', path)) !== undefined)
                          showNotice(`Deleted the ${f.one} of ${r.scope} for ${r.type}.`);
                        poll.refresh();
                      },
                    ),
                  ),
                )
              : null,
        });
      fill(sec.body, table({ label: f.title, rows, columns, empty: `No ${f.one} set where you may see.` }));
    });
    kept.done();
  });
  return () => poll.stop();
}
