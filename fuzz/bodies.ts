/**
 * Valid-ish bodies and query strings per route: what a correct client sends, with names that exist
 * in the fuzzed cluster often enough to get past the lookups. mutate.ts then breaks them. A route
 * missing here is still fuzzed, with random JSON and a random query.
 */
import fc from 'fast-check';
import { ROLES } from '../allocator/identity/rbac.ts';
import { WORKLOAD_PHASES } from '../common/phases.ts';
import { PRIORITY_CLASSES, WORKLOAD_TYPES } from '../common/workload.ts';
import type { Json } from './values.ts';
import { edgeNumber, nastyString } from './values.ts';

/** Names and ids that exist in the fuzzed cluster, made before fuzzing starts (campaign.ts). */
export interface Fixtures {
  departments: string[];
  projects: string[];
  pools: string[];
  workloadIds: string[];
  users: string[];
  nodes: string[];
  tokenIds: string[];
  ruleIds: string[];
}

/** What a route is sent besides its path. */
export interface RouteInputs {
  body?: fc.Arbitrary<Json>;
  query?: fc.Arbitrary<Record<string, string>>;
}

const PLACEMENTS = ['binpack', 'spread', 'fragmentation-aware'];
const POLICY_FIELDS = [
  'priorityClass',
  'env',
  'env.HOME',
  'nodePools',
  'nodeTypes',
  'gpuModels',
  'replicas',
  'minReplicas',
  'maxReplicas',
  'minRuntime',
  'minRuntimeMs',
  'disconnectPolicy',
  'resources.gpuDevices',
  'resources.gpuFraction',
  'resources.gpuFractionLimit',
  'resources.gpuMemory',
  'resources.gpuMemoryMiB',
  'resources.gpuMemoryLimit',
  'resources.gpuMemoryLimitMiB',
  'resources.cpu',
  'resources.cpuMillis',
  'resources.memory',
  'resources.memoryMiB',
];

const dnsName = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,12}[a-z0-9])?$/);
/** One of `known` most of the time, else a fresh DNS name or a nasty string. */
const nameFrom = (known: readonly string[]) =>
  fc.oneof(
    { weight: known.length > 0 ? 4 : 0, arbitrary: fc.constantFrom(...(known.length > 0 ? known : ['x'])) },
    { weight: 2, arbitrary: dnsName.map((n) => `fz-${n}`) },
    { weight: 1, arbitrary: nastyString(40) },
  );
/** `valid` nine times in ten: a valid-ish body should mostly be valid, the mutations break it. */
const often = <T, U>(valid: fc.Arbitrary<T>, odd: fc.Arbitrary<U>): fc.Arbitrary<T | U> =>
  fc.oneof({ weight: 9, arbitrary: valid }, { weight: 1, arbitrary: odd });
const smallInt = often(fc.integer({ min: 0, max: 8 }), edgeNumber);
const gpuAmount = often(
  fc.constantFrom<string | number>(0.5, '0.5', '500m', 0.25, '250m', 0.75),
  fc.oneof(fc.constantFrom<string | number>(1, '1', 2, 0, '0', 1.5, '2000m', 0.001, '0.5.5'), edgeNumber),
);
const memoryAmount = often(
  fc.constantFrom<string | number>('20GiB', '512Mi', '16GB', 1024, '1.5Gi'),
  fc.oneof(fc.constantFrom<string | number>('0', '1Ti', 'lots', '-1Gi'), edgeNumber),
);
const cpuAmount = often(
  fc.constantFrom<string | number>('2', '500m', 0.5, 4),
  fc.oneof(fc.constantFrom('0', '1.5x'), edgeNumber),
);
const duration = fc.constantFrom('250ms', '40s', '5m', '1h', '1h30m', '0', '10', '-5s', '99999999h', 'soon');

const quota = (f: Fixtures): fc.Arbitrary<Json> =>
  fc.record(
    {
      nodePool: fc.oneof(fc.constant('default'), nameFrom(f.pools)),
      gpu: fc.oneof(fc.integer({ min: 0, max: 16 }), fc.double({ min: 0, max: 16, noNaN: true }), edgeNumber),
      overQuotaWeight: fc.oneof(fc.integer({ min: 0, max: 4 }), edgeNumber),
      limit: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 32 }), edgeNumber),
      cpuMillis: smallInt,
      memoryMiB: smallInt,
    },
    { requiredKeys: ['nodePool', 'gpu'] },
  );

const resources: fc.Arbitrary<Json> = fc.oneof(
  fc.record({ gpuDevices: often(fc.integer({ min: 1, max: 2 }), edgeNumber) }),
  fc.record(
    { gpuFraction: gpuAmount, gpuFractionLimit: gpuAmount, cpu: cpuAmount, memory: memoryAmount },
    { requiredKeys: ['gpuFraction'] },
  ),
  fc.record(
    { gpuMemory: memoryAmount, gpuMemoryLimit: memoryAmount, cpuMillis: smallInt, memoryMiB: smallInt },
    { requiredKeys: ['gpuMemory'] },
  ),
  fc.record(
    {
      gpuMemoryMiB: often(fc.integer({ min: 1, max: 40_000 }), edgeNumber),
      gpuMemoryLimitMiB: often(fc.integer({ min: 40_000, max: 80_000 }), edgeNumber),
    },
    { requiredKeys: ['gpuMemoryMiB'] },
  ),
  fc.record({ cpu: cpuAmount, memory: memoryAmount }),
);

const workloadSpec = (f: Fixtures): fc.Arbitrary<Json> =>
  fc
    .record(
      {
        name: often(dnsName, nastyString(70)),
        project: nameFrom(f.projects),
        type: fc.constantFrom(...WORKLOAD_TYPES),
        priorityClass: fc.constantFrom(...PRIORITY_CLASSES),
        command: often(
          fc.constantFrom(['true'], ['sleep', '1'], ['sh', '-c', 'exit 3']).map((c) => [...c]),
          fc.array(nastyString(20), { maxLength: 4 }),
        ),
        env: fc.dictionary(often(fc.constantFrom('A', 'B_2', 'x.y'), nastyString(10)), nastyString(20), {
          maxKeys: 3,
        }),
        nodePools: often(
          fc.array(fc.constantFrom('default', ...f.pools), { minLength: 1, maxLength: 2 }),
          fc.array(nastyString(10), { maxLength: 2 }),
        ),
        nodeTypes: often(
          fc.array(fc.constantFrom('dgx', 'l40s'), { maxLength: 2 }),
          fc.array(nastyString(10), { maxLength: 2 }),
        ),
        gpuModels: fc.array(fc.constantFrom('H100', 'A100', 'H100-80GB'), { maxLength: 2 }),
        replicas: often(fc.integer({ min: 1, max: 3 }), edgeNumber),
        minReplicas: often(fc.integer({ min: 1, max: 2 }), edgeNumber),
        maxReplicas: often(fc.integer({ min: 2, max: 4 }), edgeNumber),
        resources,
        minRuntime: often(fc.constantFrom('40s', '5m', '1h30m'), duration),
        minRuntimeMs: smallInt,
        disconnectPolicy: often(
          fc.constantFrom('keep', 'reschedule:5m', 'reschedule:30s'),
          fc.constantFrom('reschedule:1s', 'reschedule:', 'reschedule:31d', 'never'),
        ),
      },
      { requiredKeys: ['name', 'project', 'type', 'command'] },
    )
    .chain((spec) => fc.nat(9).map((roll) => (roll === 0 ? spec : consistent(spec))));

/** The spec with the field combinations it refuses taken out, so it gets past validation to the store. */
function consistent(spec: { [key: string]: Json }): { [key: string]: Json } {
  const out = { ...spec };
  if (out.type === 'training' || out.type === 'workspace') {
    delete out.replicas;
    delete out.minReplicas;
    delete out.maxReplicas;
  } else if (typeof out.minReplicas === 'number' && typeof out.maxReplicas === 'number') {
    out.replicas = out.minReplicas;
    if (out.maxReplicas < out.minReplicas) out.maxReplicas = out.minReplicas;
  }
  if (out.minRuntime !== undefined) delete out.minRuntimeMs;
  if (Array.isArray(out.gpuModels)) out.gpuModels = [...new Set(out.gpuModels)];
  if (Array.isArray(out.nodePools)) out.nodePools = [...new Set(out.nodePools)];
  if (Array.isArray(out.nodeTypes)) out.nodeTypes = [...new Set(out.nodeTypes)];
  return out;
}

const ruleValue = fc.oneof(gpuAmount, memoryAmount, fc.constantFrom('train', 'build', 'default'));
const policy: fc.Arbitrary<Json> = fc.record({
  defaults: fc.dictionary(
    fc.constantFrom(...POLICY_FIELDS),
    fc.oneof(ruleValue, fc.boolean(), fc.array(fc.constantFrom('default', 'a', 'b'), { maxLength: 2 })),
    { maxKeys: 3 },
  ),
  rules: fc.dictionary(
    fc.constantFrom(...POLICY_FIELDS),
    fc.record({
      min: ruleValue,
      max: ruleValue,
      options: fc.array(ruleValue, { minLength: 1, maxLength: 3 }),
      required: fc.boolean(),
      canEdit: fc.boolean(),
    }),
    { maxKeys: 3 },
  ),
});

const schedulingRules: fc.Arbitrary<Json> = fc.record({
  maxRuntimeSeconds: fc.oneof(fc.integer({ min: 1, max: 100_000 }), edgeNumber),
  idleGpuTimeoutSeconds: fc.oneof(fc.integer({ min: 1, max: 100_000 }), edgeNumber),
  nodeTypes: fc.array(nastyString(10), { minLength: 1, maxLength: 3 }),
});

const scopeOf = (f: Fixtures) =>
  fc.oneof(
    fc.constant('cluster'),
    nameFrom(f.departments).map((d) => `department/${d}`),
    nameFrom(f.projects).map((p) => `project/${p}`),
    nastyString(30),
  );

/** A query string as key -> value, a known key with a known value most of the time. */
function query(known: Record<string, fc.Arbitrary<string>>): fc.Arbitrary<Record<string, string>> {
  const keys = Object.keys(known);
  return fc.oneof(
    {
      weight: 3,
      arbitrary: fc
        .record(known, { requiredKeys: [] })
        .map((r) =>
          Object.fromEntries(Object.entries(r).filter((e): e is [string, string] => e[1] !== undefined)),
        ),
    },
    {
      weight: 1,
      arbitrary: fc.dictionary(
        fc.oneof(fc.constantFrom(...keys, '__proto__'), nastyString(12)),
        nastyString(40),
        {
          maxKeys: 4,
        },
      ),
    },
  );
}

const trueFalse = fc.constantFrom('true', 'false', '1', '0', 'yes', '');

/** A registry secret body: plausible most of the time, with a name only where the route takes one. */
function registryLogin(named: boolean): fc.Arbitrary<Json> {
  const fields = {
    server: fc.oneof(fc.constantFrom('nvcr.io', 'localhost:5000', 'https://x'), nastyString(30)),
    username: nastyString(30),
    password: nastyString(60),
  };
  return named
    ? fc.record({ name: fc.oneof(dnsName, nastyString(20)), ...fields }, { requiredKeys: [] })
    : fc.record(fields, { requiredKeys: [] });
}

/** Bodies and queries of the routes that read them, by report key. */
export function routeInputs(f: Fixtures): Readonly<Record<string, RouteInputs>> {
  const quotas = fc.array(quota(f), { maxLength: 3 });
  const queue = (withDepartment: boolean): fc.Arbitrary<Json> =>
    withDepartment
      ? fc.record(
          { name: dnsName, department: nameFrom(f.departments), quotas },
          { requiredKeys: ['name', 'department'] },
        )
      : fc.record({ name: dnsName, quotas }, { requiredKeys: ['name'] });
  const placement = fc.record(
    { gpu: fc.constantFrom(...PLACEMENTS), cpu: fc.constantFrom(...PLACEMENTS) },
    { requiredKeys: ['gpu'] },
  );
  const selector = fc.dictionary(fc.constantFrom('gpu.model', 'zone', 'tessera.io/node'), nastyString(12), {
    maxKeys: 2,
  });
  const effective = query({
    project: nameFrom(f.projects),
    type: fc.constantFrom(...WORKLOAD_TYPES, 'batch'),
  });
  const policyRoutes = (base: string, body: fc.Arbitrary<Json>): Record<string, RouteInputs> => ({
    [`GET /api/v1${base}/effective`]: { query: effective },
    [`PUT /api/v1${base}/:scope/:type`]: { body },
  });
  return {
    'POST /api/v1/departments': { body: queue(false) },
    'PATCH /api/v1/departments/:name': { body: fc.record({ quotas }) },
    'POST /api/v1/projects': { body: queue(true) },
    'PATCH /api/v1/projects/:name': { body: fc.record({ quotas }) },
    'POST /api/v1/nodepools': {
      body: fc.record({ name: dnsName, selector, placement }, { requiredKeys: ['name', 'selector'] }),
    },
    'PATCH /api/v1/nodepools/:name': { body: fc.record({ selector, placement }, { requiredKeys: [] }) },
    'PATCH /api/v1/nodes/:name': {
      body: fc.record(
        {
          cordoned: fc.boolean(),
          labels: fc.dictionary(nastyString(20), fc.oneof(nastyString(20), fc.constant(null)), {
            maxKeys: 3,
          }),
        },
        { requiredKeys: [] },
      ),
    },
    'DELETE /api/v1/nodes/:name': { query: query({ force: trueFalse }) },
    'POST /api/v1/workloads': { body: workloadSpec(f), query: query({ dryRun: trueFalse }) },
    'GET /api/v1/workloads': {
      query: query({
        project: nameFrom(f.projects),
        type: fc.constantFrom(...WORKLOAD_TYPES, 'batch'),
        phase: fc
          .array(fc.constantFrom(...WORKLOAD_PHASES, 'Nope', ''), { minLength: 1, maxLength: 3 })
          .map((p) => p.join(',')),
      }),
    },
    'GET /api/v1/workloads/:id/logs': {
      query: query({
        pod: nastyString(30),
        tail: fc.oneof(fc.nat(2_000_000).map(String), nastyString(10)),
        // Never follow: a follow streams until the pod ends, which is not a hang.
        follow: fc.constantFrom('false', '0'),
        stream: fc.constantFrom('stdout', 'stderr', 'both', 'all'),
      }),
    },
    ...policyRoutes('/policies', policy),
    ...policyRoutes('/rules', schedulingRules),
    'POST /api/v1/users': {
      body: fc.record({
        name: fc.oneof(
          dnsName.map((n) => `fz-${n}`),
          nastyString(30),
        ),
      }),
    },
    'POST /api/v1/tokens': {
      body: fc.oneof(
        fc.constant<Json>({ kind: 'join' }),
        fc.record(
          {
            kind: fc.constant('user'),
            user: nameFrom(f.users),
            name: nastyString(40),
            expiresIn: fc.oneof(duration, fc.constantFrom('30d', '12h', '1s')),
          },
          { requiredKeys: ['kind'] },
        ),
      ),
    },
    'POST /api/v1/projects/:project/secrets/registry': { body: registryLogin(true) },
    'PUT /api/v1/projects/:project/secrets/registry/:name': { body: registryLogin(false) },
    'POST /api/v1/access-rules': {
      body: fc.record({
        subject: nameFrom(f.users),
        role: fc.oneof(fc.constantFrom(...ROLES), nastyString(12)),
        scope: scopeOf(f),
      }),
    },
  };
}
