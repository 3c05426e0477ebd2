// @ts-check
/**
 * Turns the submit form's text into a workload spec for `POST /workloads`. It shapes but does not
 * judge: a value it cannot place goes to the API as written, so the one validator
 * (common/workload.ts) answers with its message and field, the same words the CLI gets.
 */

/**
 * The form's values, as typed.
 * @typedef {object} SpecForm
 * @property {string} name
 * @property {string} project
 * @property {string} type
 * @property {string} command
 * @property {string} gpus "1", "0.5", "500m", "20GiB"; empty for none
 * @property {string} replicas
 * @property {string} minReplicas
 * @property {string} maxReplicas
 * @property {string} priorityClass empty for the type's default
 * @property {string} cpu
 * @property {string} memory
 * @property {string} nodePools comma-separated
 * @property {string} env one KEY=value per line
 * @property {string} minRuntime
 * @property {string} image empty: the node's process runtime
 * @property {string} imagePullPolicy empty for the default (IfNotPresent)
 * @property {string} workingDir
 */

/**
 * Splits a command line into words as a shell would for plain words and quotes (no variables,
 * globs or escapes beyond `\"` inside double quotes): the allocator runs the array, not a shell.
 * @param {string} line
 * @returns {string[]}
 */
export function splitCommand(line) {
  /** @type {string[]} */
  const words = [];
  let word = '';
  let inWord = false;
  /** @type {string | null} */
  let quote = null;
  for (let i = 0; i < line.length; i++) {
    const c = line.charAt(i);
    if (quote !== null) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && line.charAt(i + 1) === '"') word += line.charAt(++i);
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** A number when the text is one, else the text itself (for the API to judge). @param {string} s */
function numberOr(s) {
  return s !== '' && Number.isFinite(Number(s)) ? Number(s) : s;
}

/**
 * The GPU part of `resources`: whole GPUs, a fraction, or GPU memory when it carries a memory unit.
 * @param {string} text
 * @returns {Record<string, string | number>}
 */
export function gpuResources(text) {
  const s = text.trim();
  if (s === '' || s === '0') return {};
  if (/^\d+$/.test(s)) return { gpuDevices: Number(s) };
  if (/^[\d.]+\s*(Ki|Mi|Gi|Ti|K|M|G|T)i?B?$/i.test(s) && !/^[\d.]+m$/.test(s)) return { gpuMemory: s };
  return { gpuFraction: numberOr(s) };
}

/**
 * The spec to send; empty optional fields are left out so the type's defaults apply.
 * @param {SpecForm} f
 * @returns {Record<string, unknown>}
 */
export function buildSpec(f) {
  /** @type {Record<string, unknown>} */
  const spec = { name: f.name.trim(), project: f.project, type: f.type, command: splitCommand(f.command) };
  if (f.priorityClass !== '') spec.priorityClass = f.priorityClass;
  for (const key of /** @type {const} */ (['replicas', 'minReplicas', 'maxReplicas'])) {
    const v = f[key].trim();
    if (v !== '') spec[key] = numberOr(v);
  }
  /** @type {Record<string, unknown>} */
  const resources = gpuResources(f.gpus);
  if (f.cpu.trim() !== '') resources.cpu = numberOr(f.cpu.trim());
  if (f.memory.trim() !== '') resources.memory = numberOr(f.memory.trim());
  if (Object.keys(resources).length > 0) spec.resources = resources;
  const pools = f.nodePools
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (pools.length > 0) spec.nodePools = pools;
  /** @type {Record<string, string>} */
  const env = {};
  for (const line of f.env.split('\n')) {
    if (line.trim() === '') continue;
    const eq = line.indexOf('=');
    // A line without '=' is still sent, as a variable with an empty value: the API names bad keys.
    if (eq < 0) env[line.trim()] = '';
    else env[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  if (Object.keys(env).length > 0) spec.env = env;
  if (f.minRuntime.trim() !== '') spec.minRuntime = numberOr(f.minRuntime.trim());
  if (f.image.trim() !== '') spec.image = f.image.trim();
  if (f.imagePullPolicy !== '') spec.imagePullPolicy = f.imagePullPolicy;
  if (f.workingDir.trim() !== '') spec.workingDir = f.workingDir.trim();
  return spec;
}
