/**
 * Structural mutation of a valid-ish JSON body: drop a field, put a wrong value somewhere, add an
 * unknown (or prototype) key, wrap a value in an array or object. A mutated valid body gets past the
 * first checks and fails deep inside, where the bugs are.
 */
import fc from 'fast-check';
import { type Json, nastyKey, nastyValue, objectWith } from './values.ts';

type Op = 'drop' | 'replace' | 'add' | 'wrap';

interface Mutation {
  op: Op;
  /** Which node of the value, modulo how many there are. */
  at: number;
  key: string;
  value: Json;
}

const mutation: fc.Arbitrary<Mutation> = fc.record({
  op: fc.constantFrom<Op>('drop', 'replace', 'replace', 'add', 'wrap'),
  at: fc.nat(),
  key: nastyKey,
  value: nastyValue,
});

/** `base` unchanged a quarter of the time, otherwise with one to three mutations. */
export function mutated(base: fc.Arbitrary<Json>): fc.Arbitrary<Json> {
  return fc.oneof(
    { weight: 1, arbitrary: base },
    {
      weight: 3,
      arbitrary: fc
        .tuple(base, fc.array(mutation, { minLength: 1, maxLength: 3 }))
        .map(([value, ms]) => ms.reduce(apply, copy(value))),
    },
  );
}

type Path = (string | number)[];

/** A deep copy that keeps `__proto__` as an own key (JSON.parse defines keys, it does not assign them). */
function copy(v: Json): Json {
  return JSON.parse(JSON.stringify(v)) as Json;
}

/** Paths to the first nodes of `root` in breadth-first order; bounded, as a value may be deep. */
function paths(root: Json, limit = 200): Path[] {
  const out: Path[] = [[]];
  const queue: { v: Json; p: Path }[] = [{ v: root, p: [] }];
  while (queue.length > 0 && out.length < limit) {
    const { v, p } = queue.shift() as { v: Json; p: Path };
    if (v === null || typeof v !== 'object') continue;
    const entries: [string | number, Json][] = Array.isArray(v)
      ? v.slice(0, 20).map((x, i) => [i, x])
      : Object.entries(v).slice(0, 20);
    for (const [k, child] of entries) {
      out.push([...p, k]);
      queue.push({ v: child, p: [...p, k] });
    }
  }
  return out;
}

function get(root: Json, path: Path): Json {
  let v = root;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return null;
    v = (Array.isArray(v) ? v[Number(k)] : v[String(k)]) ?? null;
  }
  return v;
}

/** Sets `path` to `value`, returning the new root (a new root when `path` is empty). */
function set(root: Json, path: Path, value: Json): Json {
  if (path.length === 0) return value;
  const parent = get(root, path.slice(0, -1));
  const last = path[path.length - 1] ?? 0;
  if (Array.isArray(parent)) parent[Number(last)] = value;
  else if (parent !== null && typeof parent === 'object')
    Object.defineProperty(parent, String(last), {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return root;
}

function apply(root: Json, mutation: Mutation): Json {
  // fast-check hands out the same instance of a constant every time: never put one where it is mutated.
  const m = { ...mutation, value: copy(mutation.value) };
  const all = paths(root);
  const path = all[m.at % all.length] ?? [];
  const node = get(root, path);
  switch (m.op) {
    case 'drop': {
      if (path.length === 0) return {};
      const parent = get(root, path.slice(0, -1));
      const last = path[path.length - 1] ?? 0;
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else if (parent !== null && typeof parent === 'object') delete parent[String(last)];
      return root;
    }
    case 'replace':
      return set(root, path, m.value);
    case 'add':
      if (Array.isArray(node)) {
        node.push(m.value);
        return root;
      }
      if (node !== null && typeof node === 'object') return set(root, [...path, m.key], m.value);
      return set(root, path, objectWith(m.key, m.value));
    case 'wrap':
      return set(root, path, m.at % 2 === 0 ? [node] : objectWith(m.key, node));
  }
}
