/**
 * The fuzzer's building blocks: strings, numbers and JSON values chosen to break naive code (NUL
 * bytes, lone surrogates, right-to-left marks, names that look like paths or prototype keys, numbers
 * at the edges of int32, uint32, float64 and safe integers, huge strings, deep nesting).
 */
import fc from 'fast-check';

/** A JSON value, as a request body carries it. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Strings that have broken parsers, routers, SQL and logs somewhere. */
const NASTY_CONSTANTS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '..',
  '../../etc/passwd',
  '/',
  '//',
  '%',
  '%00',
  '%zz',
  '%2F',
  '\\',
  '"',
  "'",
  '\n',
  '\r\n',
  '\t',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'null',
  'undefined',
  'NaN',
  'Infinity',
  '-1',
  '0',
  '1e309',
  '0x10',
  'true',
  '[]',
  '{}',
  '\u{1F600}',
  '\u202e',
  '\ud800',
  '\udfff',
  '\uffff',
  '\ufeff',
  'Ａ',
  'İ',
  'ß',
  'cluster',
  'department:',
  'project:',
  'department:default',
  'project:main',
  'department/default',
  "'; DROP TABLE workloads; --",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a template placeholder, sent as text on purpose
  '${x}',
  '<script>',
  'a'.repeat(63),
  'a'.repeat(64),
  'a'.repeat(253),
  'a'.repeat(257),
  '0.5',
  '500m',
  '20GiB',
  '1e3Mi',
  '-1Gi',
  '5m',
  '0s',
  '99999999999999999999h',
];

/** A string that is no longer than `maxLength` and often nasty. */
export function nastyString(maxLength = 64): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...NASTY_CONSTANTS) },
    { weight: 2, arbitrary: fc.string({ maxLength }) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength }) },
    // Lone surrogates and control characters.
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength }) },
  );
}

/** A long string: past every length check, sometimes past the body limit. */
export const hugeString: fc.Arbitrary<string> = fc
  .oneof(
    { weight: 8, arbitrary: fc.integer({ min: 256, max: 70_000 }) },
    { weight: 1, arbitrary: fc.constant(1_100_000) },
  )
  .chain((n) => fc.constantFrom('x', '\u0000', 'é', '\u{1F600}').map((c) => c.repeat(n)));

/** Numbers at the edges of the types the code and SQLite use. */
export const edgeNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    1,
    -1,
    0.5,
    1e-7,
    999,
    1000,
    1001,
    2 ** 31 - 1,
    2 ** 31,
    -(2 ** 31) - 1,
    2 ** 32,
    2 ** 53 - 1,
    2 ** 53,
    2 ** 53 + 2,
    -(2 ** 53),
    1e21,
    1e308,
    -1e308,
    5e-324,
    Number.MAX_VALUE,
  ),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** An object whose own key is `key`, even for `__proto__` (a plain assignment would set the prototype). */
export function objectWith(key: string, value: Json): { [key: string]: Json } {
  const o: { [key: string]: Json } = {};
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  return o;
}

/** A value nested `depth` levels deep in arrays or objects. */
export function nested(depth: number, inObjects: boolean): Json {
  let v: Json = 1;
  for (let i = 0; i < depth; i++) v = inObjects ? { a: v } : [v];
  return v;
}

/** Keys that are fine JSON but not fine object keys for naive code. */
export const nastyKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', '', 'a.b', 'env.X', 'resources.gpuFraction'),
  nastyString(20),
);

/** One value to put where another belongs: wrong types, edges, huge, deep, prototype-polluting. */
export const nastyValue: fc.Arbitrary<Json> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom<Json>(null, true, false, [], {}, [null], '') },
  { weight: 3, arbitrary: edgeNumber },
  { weight: 3, arbitrary: nastyString() },
  { weight: 1, arbitrary: hugeString },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.integer({ min: 2, max: 3000 }), fc.boolean()).map(([d, o]) => nested(d, o)),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('__proto__', 'constructor'), fc.constantFrom<Json>({ polluted: true }, null, 1))
      .map(([k, v]) => objectWith(k, v)),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1000, max: 20_000 }).map((n) => Array.from({ length: n }, () => 0)),
  },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json> },
);
