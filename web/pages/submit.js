// @ts-check
/**
 * Submit a workload: a form over the spec's common fields (common/workload.ts). The API validates;
 * its refusal is shown word for word, the field it names is marked, and what the user typed stays.
 */
import { ApiError, request } from '../api.js';
import { PRIORITY_CLASSES, PULL_POLICIES, WORKLOAD_TYPES } from '../constants.js';
import { live } from '../live.js';
import { fill, h } from '../render.js';
import { go, hashOf } from '../router.js';
import { buildSpec } from '../spec.js';
import { hideError, showError } from '../status.js';

/** @typedef {import('../types.js').ProjectView} ProjectView */
/** @typedef {import('../types.js').WorkloadView} WorkloadView */
/** @typedef {import('../spec.js').SpecForm} SpecForm */

/** The control that holds an API field: `resources.gpuFraction` -> gpus, `command.0` -> command. @param {string} field */
export function controlFor(field) {
  const [head = '', sub = ''] = field.split('.');
  if (head === 'resources') {
    if (sub.startsWith('gpu')) return 'gpus';
    if (sub.startsWith('cpu')) return 'cpu';
    if (sub.startsWith('memory')) return 'memory';
    return 'gpus';
  }
  if (head === 'minRuntimeMs') return 'minRuntime';
  return head;
}

/**
 * A labelled control with help text; the error slot under it is filled when the API names it.
 * @param {string} id @param {string} label @param {HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement} control @param {string} [help]
 */
function field(id, label, control, help) {
  control.id = id;
  control.name = id;
  const helpId = `${id}-help`;
  if (help !== undefined) control.setAttribute('aria-describedby', helpId);
  return h(
    'div',
    { class: 'field', 'data-field': id },
    h('label', { for: id }, label),
    control,
    help === undefined ? null : h('p', { id: helpId, class: 'help' }, help),
    h('p', { class: 'field-error', id: `${id}-error`, hidden: true }),
  );
}

/** @param {string} placeholder @param {boolean} [required] */
const text = (placeholder, required = false) =>
  h('input', { type: 'text', placeholder, required, autocomplete: 'off', spellcheck: 'false' });

/** The submit page. @param {HTMLElement} root */
export function submitPage(root) {
  const c = {
    name: text('e.g. resnet-50', true),
    project: h('select', { required: true }),
    type: h(
      'select',
      {},
      ...WORKLOAD_TYPES.map((t) => h('option', { value: t, selected: t === 'training' }, t)),
    ),
    command: text('e.g. python train.py --epochs 10', true),
    gpus: text('e.g. 1 or 0.5'),
    replicas: h('input', { type: 'text', inputmode: 'numeric', placeholder: 'type default' }),
    priorityClass: h(
      'select',
      {},
      h('option', { value: '' }, 'type default'),
      ...PRIORITY_CLASSES.map((p) => h('option', { value: p }, p)),
    ),
    cpu: text('e.g. 2'),
    memory: text('e.g. 8GiB'),
    minReplicas: h('input', { type: 'text', inputmode: 'numeric', placeholder: 'same as pods' }),
    maxReplicas: h('input', { type: 'text', inputmode: 'numeric', placeholder: 'same as pods' }),
    nodePools: text('default'),
    minRuntime: text('e.g. 10m'),
    env: h('textarea', { rows: 3, placeholder: 'KEY=value, one per line', spellcheck: 'false' }),
    image: text('e.g. nvcr.io/nvidia/pytorch:24.05-py3'),
    imagePullPolicy: h(
      'select',
      {},
      h('option', { value: '' }, 'default (IfNotPresent)'),
      ...PULL_POLICIES.map((p) => h('option', { value: p }, p)),
    ),
    workingDir: text('e.g. /workspace'),
  };
  const submitBtn = h('button', { type: 'submit', class: 'primary' }, 'Submit workload');
  const form = h(
    'form',
    { class: 'submit card', 'aria-labelledby': 'submit-title', novalidate: true },
    h(
      'div',
      { class: 'grid' },
      field('name', 'Name', c.name, "Lowercase letters, digits and '-'."),
      field('project', 'Project', c.project),
      field(
        'type',
        'Type',
        c.type,
        'workspace and training run one pod; distributed and inference run several.',
      ),
      field('priorityClass', 'Priority class', c.priorityClass),
    ),
    field('command', 'Command', c.command, 'The process each pod runs; quote words that contain spaces.'),
    field(
      'image',
      'Container image',
      c.image,
      'An OCI image to run the command in. Empty: the command runs on the node itself.',
    ),
    h(
      'div',
      { class: 'grid' },
      field(
        'gpus',
        'GPUs per pod',
        c.gpus,
        'Whole GPUs (1, 2), a fraction of one (0.5) or GPU memory (20GiB). Empty: none.',
      ),
      field('replicas', 'Pods', c.replicas),
      field('cpu', 'CPU per pod', c.cpu, 'Cores: 2, 0.5 or 500m.'),
      field('memory', 'Memory per pod', c.memory),
    ),
    h(
      'details',
      { class: 'more-options' },
      h('summary', {}, 'More options'),
      h(
        'div',
        { class: 'grid' },
        field(
          'minReplicas',
          'Minimum pods',
          c.minReplicas,
          'Elastic types: fewest pods to run with (a gang).',
        ),
        field('maxReplicas', 'Maximum pods', c.maxReplicas),
        field('nodePools', 'Node pools', c.nodePools, 'In order of preference, comma-separated.'),
        field('minRuntime', 'Minimum runtime', c.minRuntime, 'Time before the workload may be preempted.'),
        field('imagePullPolicy', 'Image pull policy', c.imagePullPolicy, 'When the node pulls the image.'),
        field('workingDir', 'Working directory', c.workingDir, 'An absolute path the command starts in.'),
      ),
      field('env', 'Environment', c.env),
    ),
    h(
      'div',
      { class: 'actions' },
      submitBtn,
      h('a', { href: '#/workloads', class: 'button quiet' }, 'Cancel'),
    ),
  );
  root.replaceChildren(h('h1', { id: 'submit-title' }, 'Submit a workload'), form);

  function clearFieldErrors() {
    for (const el of form.querySelectorAll('.field-error')) {
      el.textContent = '';
      /** @type {HTMLElement} */ (el).hidden = true;
    }
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  }

  /** @param {ApiError} e */
  function markField(e) {
    if (e.field === undefined) return;
    const id = controlFor(e.field);
    const control = form.querySelector(`#${CSS.escape(id)}`);
    const slot = form.querySelector(`#${CSS.escape(`${id}-error`)}`);
    if (control === null || !(slot instanceof HTMLElement)) return;
    if (control.closest('details') instanceof HTMLDetailsElement)
      /** @type {HTMLDetailsElement} */ (control.closest('details')).open = true;
    control.setAttribute('aria-invalid', 'true');
    slot.textContent = e.message;
    slot.hidden = false;
    if (control instanceof HTMLElement) control.focus();
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors();
    hideError();
    /** @type {SpecForm} */
    const values = {
      name: c.name.value,
      project: c.project.value,
      type: c.type.value,
      command: c.command.value,
      gpus: c.gpus.value,
      replicas: c.replicas.value,
      minReplicas: c.minReplicas.value,
      maxReplicas: c.maxReplicas.value,
      priorityClass: c.priorityClass.value,
      cpu: c.cpu.value,
      memory: c.memory.value,
      nodePools: c.nodePools.value,
      env: c.env.value,
      minRuntime: c.minRuntime.value,
      image: c.image.value,
      imagePullPolicy: c.imagePullPolicy.value,
      workingDir: c.workingDir.value,
    };
    submitBtn.disabled = true;
    try {
      const w = /** @type {WorkloadView} */ (
        await request('POST', '/workloads', { body: buildSpec(values) })
      );
      go(hashOf(['workloads', w.id]));
    } catch (e) {
      showError(e);
      if (e instanceof ApiError) markField(e);
    } finally {
      submitBtn.disabled = false;
    }
  });

  let known = '';
  // Projects may be added while the form is open; the choice the user made is kept.
  const poll = live(
    async (signal) => /** @type {ProjectView[]} */ (await request('GET', '/projects', { signal })),
    (projects) => {
      const names = projects.map((p) => p.name).sort();
      if (names.join('\u0000') === known) return;
      known = names.join('\u0000');
      const chosen = c.project.value || (names.includes('default') ? 'default' : (names[0] ?? ''));
      fill(c.project, ...names.map((n) => h('option', { value: n, selected: n === chosen }, n)));
      if (names.length === 0) fill(c.project, h('option', { value: '' }, 'no projects you may submit to'));
    },
  );
  return () => poll.stop();
}
