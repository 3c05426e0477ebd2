/** The RBAC matrix's rows: each route of permissions.ts with targets inside and outside the callers' scopes. */
import { WHO, type Who, type World } from './rbac-world.ts';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface Case {
  /** The PERMISSIONS key the request exercises. */
  route: string;
  /** What the target is, for the test's name. */
  target: string;
  url: string | ((w: World, who: Who) => string);
  body?: unknown;
  allowed: readonly Who[];
  /**
   * A route another change owns, whose success needs state this world lacks (a pod on a node, a
   * stored policy): allowed means anything but 401 and 403.
   */
  loose?: boolean;
}

const ALL = WHO;
const RULED: readonly Who[] = ['admin', 'dadmin', 'res', 'viewer', 'dres'];
const ADMIN: readonly Who[] = ['admin'];
const D1_MANAGERS: readonly Who[] = ['admin', 'dadmin'];
const P1_READERS: readonly Who[] = ['admin', 'dadmin', 'res', 'viewer', 'dres'];
const P1_WRITERS: readonly Who[] = ['admin', 'dadmin', 'res', 'dres'];
const D1_READERS: readonly Who[] = ['admin', 'dadmin', 'dres'];

const spec = (name: string, project: string) => ({
  name,
  project,
  type: 'training',
  command: ['python', 'train.py'],
  resources: { gpuFraction: 0.5, cpuMillis: 1000, memoryMiB: 1024 },
});

function policyCases(base: string): Case[] {
  const cases: Case[] = [
    { route: `GET ${base}`, target: 'all (filtered)', url: base, allowed: ALL },
    {
      route: `GET ${base}/effective`,
      target: 'p1',
      url: `${base}/effective?project=p1&type=training`,
      allowed: P1_READERS,
    },
    {
      route: `GET ${base}/effective`,
      target: 'p2',
      url: `${base}/effective?project=p2&type=training`,
      allowed: ADMIN,
    },
    { route: `GET ${base}/:scope/:type`, target: 'cluster', url: `${base}/cluster/training`, allowed: RULED },
    {
      route: `GET ${base}/:scope/:type`,
      target: 'department:d1',
      url: `${base}/department:d1/training`,
      allowed: P1_READERS,
    },
    {
      route: `GET ${base}/:scope/:type`,
      target: 'department:d2',
      url: `${base}/department:d2/training`,
      allowed: ADMIN,
    },
  ];
  for (const method of ['PUT', 'DELETE'] as const)
    cases.push(
      {
        route: `${method} ${base}/:scope/:type`,
        target: 'cluster',
        url: `${base}/cluster/training`,
        allowed: ADMIN,
      },
      {
        route: `${method} ${base}/:scope/:type`,
        target: 'department:d1',
        url: `${base}/department:d1/training`,
        allowed: D1_MANAGERS,
      },
      {
        route: `${method} ${base}/:scope/:type`,
        target: 'department:d2',
        url: `${base}/department:d2/training`,
        allowed: ADMIN,
      },
      {
        route: `${method} ${base}/:scope/:type`,
        target: 'project:p1',
        url: `${base}/project:p1/training`,
        allowed: D1_MANAGERS,
      },
      {
        route: `${method} ${base}/:scope/:type`,
        target: 'project:p2',
        url: `${base}/project:p2/training`,
        allowed: ADMIN,
      },
    );
  return cases.map((c) => ({ ...c, loose: true }));
}

/** Registry secrets: a project's readers list them, its managers write them; the world holds `reg` in p1 and p2. */
function secretCases(): Case[] {
  const login = { server: 'nvcr.io', username: 'u', password: 'p' };
  const cases: Case[] = [
    {
      route: 'GET /projects/:project/secrets',
      target: 'p1',
      url: '/projects/p1/secrets',
      allowed: P1_READERS,
    },
    { route: 'GET /projects/:project/secrets', target: 'p2', url: '/projects/p2/secrets', allowed: ADMIN },
  ];
  for (const [project, allowed] of [
    ['p1', D1_MANAGERS],
    ['p2', ADMIN],
  ] as const)
    cases.push(
      {
        route: 'POST /projects/:project/secrets/registry',
        target: project,
        url: `/projects/${project}/secrets/registry`,
        body: { name: 'new', ...login },
        allowed,
      },
      {
        route: 'PUT /projects/:project/secrets/registry/:name',
        target: project,
        url: `/projects/${project}/secrets/registry/reg`,
        body: login,
        allowed,
      },
      {
        route: 'DELETE /projects/:project/secrets/registry/:name',
        target: project,
        url: `/projects/${project}/secrets/registry/reg`,
        allowed,
      },
    );
  return cases;
}

export const CASES: Case[] = [
  { route: 'GET /whoami', target: 'self', url: '/whoami', allowed: ALL },
  { route: 'GET /departments', target: 'all (filtered)', url: '/departments', allowed: ALL },
  {
    route: 'POST /departments',
    target: 'cluster',
    url: '/departments',
    body: { name: 'd3' },
    allowed: ADMIN,
  },
  { route: 'GET /departments/:name', target: 'd1', url: '/departments/d1', allowed: D1_READERS },
  { route: 'GET /departments/:name', target: 'd2', url: '/departments/d2', allowed: ADMIN },
  {
    route: 'PATCH /departments/:name',
    target: 'd1 (own quota)',
    url: '/departments/d1',
    body: { quotas: [] },
    allowed: ADMIN,
  },
  {
    route: 'PATCH /departments/:name',
    target: 'd2',
    url: '/departments/d2',
    body: { quotas: [] },
    allowed: ADMIN,
  },
  { route: 'DELETE /departments/:name', target: 'd3', url: '/departments/d3', allowed: ADMIN },
  { route: 'GET /projects', target: 'all (filtered)', url: '/projects', allowed: ALL },
  {
    route: 'POST /projects',
    target: 'in d1',
    url: '/projects',
    body: { name: 'p3', department: 'd1' },
    allowed: D1_MANAGERS,
  },
  {
    route: 'POST /projects',
    target: 'in d2',
    url: '/projects',
    body: { name: 'p3', department: 'd2' },
    allowed: ADMIN,
  },
  { route: 'GET /projects/:name', target: 'p1', url: '/projects/p1', allowed: P1_READERS },
  { route: 'GET /projects/:name', target: 'p2', url: '/projects/p2', allowed: ADMIN },
  {
    route: 'PATCH /projects/:name',
    target: 'p1',
    url: '/projects/p1',
    body: { quotas: [{ nodePool: 'default', gpu: 2 }] },
    allowed: D1_MANAGERS,
  },
  { route: 'PATCH /projects/:name', target: 'p2', url: '/projects/p2', body: { quotas: [] }, allowed: ADMIN },
  { route: 'DELETE /projects/:name', target: 'p1b', url: '/projects/p1b', allowed: D1_MANAGERS },
  { route: 'DELETE /projects/:name', target: 'p2b', url: '/projects/p2b', allowed: ADMIN },
  ...secretCases(),
  { route: 'GET /nodepools', target: 'cluster', url: '/nodepools', allowed: D1_MANAGERS },
  { route: 'GET /nodepools/:name', target: 'cluster', url: '/nodepools/gpu', allowed: D1_MANAGERS },
  {
    route: 'POST /nodepools',
    target: 'cluster',
    url: '/nodepools',
    body: { name: 'a100', selector: {} },
    allowed: ADMIN,
  },
  {
    route: 'PATCH /nodepools/:name',
    target: 'cluster',
    url: '/nodepools/gpu',
    body: { selector: {} },
    allowed: ADMIN,
  },
  { route: 'DELETE /nodepools/:name', target: 'cluster', url: '/nodepools/gpu', allowed: ADMIN },
  { route: 'GET /nodes', target: 'cluster', url: '/nodes', allowed: D1_MANAGERS },
  { route: 'GET /nodes/:name', target: 'cluster', url: '/nodes/n1', allowed: D1_MANAGERS },
  {
    route: 'PATCH /nodes/:name',
    target: 'cluster',
    url: '/nodes/n1',
    body: { cordoned: true },
    allowed: ADMIN,
  },
  { route: 'DELETE /nodes/:name', target: 'cluster', url: '/nodes/n1', allowed: ADMIN },
  { route: 'GET /nodes/:name/pods', target: 'cluster', url: '/nodes/n1/pods', allowed: D1_MANAGERS },
  {
    route: 'POST /nodes/:name/drain',
    target: 'cluster',
    url: '/nodes/n1/drain',
    body: {},
    allowed: ADMIN,
  },
  { route: 'POST /nodes/:name/reset', target: 'cluster', url: '/nodes/n1/reset', allowed: ADMIN },
  { route: 'POST /workloads', target: 'p1', url: '/workloads', body: spec('new', 'p1'), allowed: P1_WRITERS },
  { route: 'POST /workloads', target: 'p2', url: '/workloads', body: spec('new', 'p2'), allowed: ADMIN },
  { route: 'GET /workloads', target: 'all (filtered)', url: '/workloads', allowed: ALL },
  ...(['', '/events', '/explain', '/logs'] as const).flatMap((suffix): Case[] => [
    {
      route: `GET /workloads/:id${suffix}`,
      target: 'w1 in p1',
      url: `/workloads/w1${suffix}`,
      allowed: P1_READERS,
      loose: suffix === '/logs',
    },
    {
      route: `GET /workloads/:id${suffix}`,
      target: 'w2 in p2',
      url: `/workloads/w2${suffix}`,
      allowed: ADMIN,
      loose: suffix === '/logs',
    },
  ]),
  { route: 'POST /workloads/:id/stop', target: 'w1 in p1', url: '/workloads/w1/stop', allowed: P1_WRITERS },
  { route: 'POST /workloads/:id/stop', target: 'w2 in p2', url: '/workloads/w2/stop', allowed: ADMIN },
  { route: 'POST /workloads/:id/run', target: 'ws1 in p1', url: '/workloads/ws1/run', allowed: P1_WRITERS },
  { route: 'POST /workloads/:id/run', target: 'ws2 in p2', url: '/workloads/ws2/run', allowed: ADMIN },
  { route: 'DELETE /workloads/:id', target: 'w1 in p1', url: '/workloads/w1', allowed: P1_WRITERS },
  { route: 'DELETE /workloads/:id', target: 'w2 in p2', url: '/workloads/w2', allowed: ADMIN },
  { route: 'GET /top', target: 'cluster (filtered)', url: '/top', allowed: ALL },
  { route: 'GET /shares', target: 'cluster (filtered)', url: '/shares', allowed: ALL },
  { route: 'GET /history/projects/:name', target: 'p1', url: '/history/projects/p1', allowed: P1_READERS },
  { route: 'GET /history/projects/:name', target: 'p2', url: '/history/projects/p2', allowed: ADMIN },
  {
    route: 'GET /history/nodepools/:name',
    target: 'cluster',
    url: '/history/nodepools/gpu',
    allowed: D1_MANAGERS,
  },
  { route: 'GET /history/nodes/:name', target: 'cluster', url: '/history/nodes/n1', allowed: D1_MANAGERS },
  ...policyCases('/policies'),
  ...policyCases('/rules'),
  { route: 'POST /users', target: 'cluster', url: '/users', body: { name: 'dave' }, allowed: ADMIN },
  { route: 'GET /users', target: 'cluster', url: '/users', allowed: ADMIN },
  { route: 'DELETE /users/:name', target: 'carol', url: '/users/carol', allowed: ADMIN },
  {
    route: 'POST /tokens',
    target: 'own user token',
    url: '/tokens',
    body: { kind: 'user', expiresIn: '30d' },
    allowed: ALL,
  },
  {
    route: 'POST /tokens',
    target: "carol's",
    url: '/tokens',
    body: { kind: 'user', user: 'carol' },
    allowed: ADMIN,
  },
  { route: 'POST /tokens', target: 'join', url: '/tokens', body: { kind: 'join' }, allowed: ADMIN },
  { route: 'GET /tokens', target: 'own (filtered)', url: '/tokens', allowed: ALL },
  { route: 'DELETE /tokens/:id', target: 'own', url: (w, who) => `/tokens/${w.tokenId[who]}`, allowed: ALL },
  { route: 'DELETE /tokens/:id', target: "carol's", url: (w) => `/tokens/${w.carolToken}`, allowed: ADMIN },
  {
    route: 'POST /access-rules',
    target: 'viewer on project/p1 (in d1)',
    url: '/access-rules',
    body: { subject: 'carol', role: 'viewer', scope: 'project/p1' },
    allowed: ['admin', 'dadmin'],
  },
  {
    route: 'POST /access-rules',
    target: 'viewer on project/p2 (in d2)',
    url: '/access-rules',
    body: { subject: 'carol', role: 'viewer', scope: 'project/p2b' },
    allowed: ADMIN,
  },
  {
    route: 'POST /access-rules',
    target: 'admin on department/d1',
    url: '/access-rules',
    body: { subject: 'carol', role: 'admin', scope: 'department/d1' },
    allowed: ADMIN,
  },
  { route: 'GET /access-rules', target: 'own (filtered)', url: '/access-rules', allowed: ALL },
  {
    route: 'DELETE /access-rules/:id',
    target: "carol's",
    url: (w) => `/access-rules/${w.carolRule}`,
    allowed: ADMIN,
  },
];
