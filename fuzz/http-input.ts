/**
 * One HTTP request to send: a route, its path with parameters filled (known names, odd characters,
 * percent escapes good and bad), a query string, headers and a body (valid-ish JSON mutated, or
 * random JSON, or bytes that are not JSON at all, under this or another content type).
 */
import fc from 'fast-check';
import { type Fixtures, type RouteInputs, routeInputs } from './bodies.ts';
import { mutated } from './mutate.ts';
import { ROUTES, type Route } from './routes.ts';
import { hugeString, type Json, nastyString } from './values.ts';

/** A request as the sender puts it on the wire. */
export interface HttpInput {
  /** The route's report key (`METHOD /pattern`), whatever method or path was really sent. */
  route: string;
  method: string;
  /** Path and query, already escaped as the request line carries them. */
  path: string;
  headers: Record<string, string>;
  body: string | null;
}

/** Values a path parameter must never take: what the fuzzer itself stands on (its token's user and rules). */
export interface Protected {
  params: ReadonlySet<string>;
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

/** Characters a request line may carry as they are (Node's client refuses others unescaped). */
const RAW_OK = /^[\u0021-\u007e]*$/;

function paramValue(name: string, f: Fixtures): fc.Arbitrary<string> {
  const known: Record<string, readonly string[]> = {
    name: [...f.departments, ...f.projects, ...f.pools, ...f.nodes, ...f.users],
    id: [...f.workloadIds, ...f.tokenIds, ...f.ruleIds],
    project: [...f.projects],
    scope: [
      'cluster',
      ...f.departments.map((d) => `department:${d}`),
      ...f.projects.map((p) => `project:${p}`),
    ],
    type: ['training', 'workspace', 'distributed', 'inference'],
    file: [
      'index.html',
      'app.js',
      'style.css',
      '..%2Fpackage.json',
      '..%2F..%2Fetc%2Fpasswd',
      '%2e%2e/package.json',
    ],
  };
  const names = known[name] ?? [];
  return fc.oneof(
    { weight: names.length > 0 ? 5 : 0, arbitrary: fc.constantFrom(...(names.length > 0 ? names : ['x'])) },
    { weight: 3, arbitrary: nastyString(40) },
    { weight: 1, arbitrary: fc.integer({ min: 100, max: 5000 }).map((n) => 'p'.repeat(n)) },
  );
}

/**
 * Percent-escapes every code unit but the unreserved ones; a lone surrogate (which
 * encodeURIComponent refuses) becomes its WTF-8 bytes, so the server sees invalid UTF-8.
 */
function percentEscape(v: string): string {
  let out = '';
  for (const ch of v) {
    if (/^[A-Za-z0-9\-._~]$/.test(ch)) out += ch;
    else {
      const cp = ch.codePointAt(0) ?? 0;
      const bytes =
        cp >= 0xd800 && cp <= 0xdfff
          ? [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)]
          : [...Buffer.from(ch, 'utf8')];
      out += bytes.map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
    }
  }
  return out;
}

/** A parameter as the path carries it: escaped, or raw when the value is printable (`..`, `%zz`). */
const inPath = (raw: boolean, v: string): string =>
  raw && RAW_OK.test(v) && v !== '' ? v : percentEscape(v);

function queryString(q: Record<string, string>, raw: boolean): string {
  const parts = Object.entries(q).map(([k, v]) => `${inPath(raw, k)}=${inPath(raw, v)}`);
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}

const oddQuery = fc.constantFrom(
  '?',
  '?&&&',
  '?=',
  '?a[b]=1',
  '?__proto__[x]=1',
  '?a=1&a=2',
  '?%zz=1',
  '?tail=1e400',
  `?x=${'y'.repeat(5000)}`,
);

const contentType = fc.oneof(
  { weight: 12, arbitrary: fc.constant('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
      'application/json; charset=latin1',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/octet-stream',
      'application/json, text/plain',
      '',
    ),
  },
);

/** A body as bytes on the wire: usually JSON of a value, sometimes not JSON at all. */
function bodyText(value: fc.Arbitrary<Json>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 12, arbitrary: value.map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
    { weight: 1, arbitrary: value.chain((v) => fc.nat().map((n) => JSON.stringify(v).slice(0, n % 40))) },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 1000, max: 200_000 }).map((d) => `${'['.repeat(d)}${']'.repeat(d)}`),
    },
    { weight: 1, arbitrary: hugeString.map((s) => JSON.stringify({ name: s })) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '',
        'null',
        '"x"',
        '1',
        '[]',
        'true',
        '{"__proto__": {"x": 1}}',
        '{"a":1,"a":2}',
      ),
    },
  );
}

const auth = (token: string) =>
  fc.oneof(
    { weight: 20, arbitrary: fc.constant(`Bearer ${token}`) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '',
        'Bearer',
        'Bearer ',
        'Basic YWRtaW46YWRtaW4=',
        `Bearer ${token}x`,
        `bearer ${token}`,
        'Bearer tu.a.b',
      ),
    },
  );

/**
 * A route's requests: a third as a correct client sends them (a valid-ish body as JSON, the known
 * query, the admin token), so they reach the store and the scheduler; the rest broken one way or
 * several (mutated or non-JSON bodies, other content types and methods, odd queries, bad tokens).
 */
function forRoute(r: Route, inputs: RouteInputs | undefined, f: Fixtures, token: string, keep: Protected) {
  const params = fc.tuple(...r.params.map((p) => paramValue(p, f)));
  const q = inputs?.query ?? fc.dictionary(nastyString(10), nastyString(20), { maxKeys: 2 });
  const base = inputs?.body ?? (fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>);
  const hasBody =
    inputs?.body !== undefined || r.method === 'POST' || r.method === 'PUT' || r.method === 'PATCH';
  const clean = fc.record({
    params,
    rawPath: fc.constant(false),
    query: (inputs?.query ?? fc.constant({})).map((x): { x: Record<string, string> } | { s: string } => ({
      x,
    })),
    method: fc.constant(r.method),
    send: fc.constant(hasBody),
    body: base.map((v) => JSON.stringify(v)),
    type: fc.constant('application/json'),
    authorization: fc.constant(`Bearer ${token}`),
  });
  const wild = fc.record({
    params,
    rawPath: fc.boolean(),
    query: fc.oneof(
      { weight: 6, arbitrary: q.map((x): { x: Record<string, string> } | { s: string } => ({ x })) },
      { weight: 1, arbitrary: oddQuery.map((s): { x: Record<string, string> } | { s: string } => ({ s })) },
    ),
    method: fc.oneof(
      { weight: 15, arbitrary: fc.constant(r.method) },
      { weight: 1, arbitrary: fc.constantFrom(...METHODS) },
    ),
    send: fc.oneof(
      { weight: hasBody ? 12 : 1, arbitrary: fc.constant(true) },
      { weight: hasBody ? 1 : 6, arbitrary: fc.constant(false) },
    ),
    body: bodyText(mutated(base)),
    type: contentType,
    authorization: auth(token),
  });
  return fc.oneof({ weight: 1, arbitrary: clean }, { weight: 2, arbitrary: wild }).map((x): HttpInput => {
    let i = 0;
    const path = r.pattern.replace(/:[A-Za-z]+/g, () => {
      let v = x.params[i++] ?? '';
      // The fuzzer's own user and rules stay: deleting them would turn the rest of the run into 403s.
      if (keep.params.has(v)) v = `${v}-not`;
      return inPath(x.rawPath, v);
    });
    const qs = 'x' in x.query ? queryString(x.query.x, x.rawPath) : x.query.s;
    const headers: Record<string, string> = {};
    if (x.authorization !== '') headers.authorization = x.authorization;
    const sendBody = x.send && x.method !== 'GET' && x.method !== 'HEAD';
    if (sendBody && x.type !== '') headers['content-type'] = x.type;
    return { route: r.key, method: x.method, path: `${path}${qs}`, headers, body: sendBody ? x.body : null };
  });
}

/** Requests over every route, each route equally likely. */
export function httpInputs(f: Fixtures, token: string, keep: Protected): fc.Arbitrary<HttpInput> {
  const inputs = routeInputs(f);
  return fc.oneof(...ROUTES.map((r) => forRoute(r, inputs[r.key], f, token, keep)));
}
