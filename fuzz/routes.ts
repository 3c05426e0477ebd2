/**
 * Every route the fuzzer aims at: each `METHOD /pattern` of the permission table (the one list of
 * every `/api/v1` route, so a new route is fuzzed the day it is added) plus the open routes outside
 * `/api/v1` and a few paths no route serves.
 */
import { API_PREFIX } from '../allocator/api/index.ts';
import { PERMISSIONS } from '../allocator/api/permissions.ts';

/** One route: method and full pattern, the pattern's parameter names. */
export interface Route {
  /** `METHOD /full/pattern`, as the report names it. */
  key: string;
  method: string;
  /** The full path pattern, e.g. `/api/v1/workloads/:id`. */
  pattern: string;
  params: string[];
}

function route(key: string, prefix: string): Route {
  const [method = 'GET', path = '/'] = key.split(' ');
  const pattern = `${prefix}${path}`;
  const params = [...pattern.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1] ?? '');
  return { key: `${method} ${pattern}`, method, pattern, params };
}

/** Routes outside `/api/v1`, open without a token, and paths that are no route at all. */
const OPEN_ROUTES = [
  'GET /healthz',
  'GET /readyz',
  'GET /metrics',
  'GET /',
  // The console's static files: a path parameter here probes for traversal out of web/.
  'GET /:file',
  'GET /api/v1/agents/connect',
  'GET /api/v1/:name',
  'POST /api/v2/workloads',
];

/** Every route the fuzzer sends to, the API's first. */
export const ROUTES: readonly Route[] = [
  ...Object.keys(PERMISSIONS).map((key) => route(key, API_PREFIX)),
  ...OPEN_ROUTES.map((key) => route(key, '')),
];

/** The `/api/v1` routes of the permission table, as report keys; the fuzz test checks each was hit. */
export const API_ROUTE_KEYS: readonly string[] = Object.keys(PERMISSIONS).map(
  (k) => route(k, API_PREFIX).key,
);
