/**
 * The Helm chart (helm/tessera): values.schema.json accepts the default values and every
 * example and refuses broken ones (checked with a small validator for the JSON Schema subset the
 * schema uses, no dependency), and every template holds the objects and fields the chart promises.
 * Where a `helm` binary is on PATH, `helm lint` and `helm template` also run over the examples.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const CHART = join(import.meta.dirname, '..', '..', 'helm', 'tessera');
const read = (rel: string) => readFileSync(join(CHART, rel), 'utf8');

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  required?: string[];
  enum?: Json[];
  const?: Json;
  pattern?: string;
  minLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  items?: Schema;
}

/** The JSON Schema keywords the validator knows; the schema may use no other (checked below). */
const KNOWN = new Set([
  '$schema',
  'title',
  'description',
  'type',
  'properties',
  'additionalProperties',
  'required',
  'enum',
  'const',
  'pattern',
  'minLength',
  'minimum',
  'maximum',
  'minItems',
  'items',
]);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Errors of `value` against `schema` (draft-07 subset), each naming its path. */
function validate(schema: Schema, value: unknown, path = '$'): string[] {
  const errors: string[] = [];
  const t = typeOf(value);
  if (schema.type !== undefined) {
    const ok = schema.type === t || (schema.type === 'number' && t === 'integer');
    if (!ok) return [`${path}: expected ${schema.type}, got ${t}`];
  }
  if (schema.enum !== undefined && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value)))
    errors.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if (schema.const !== undefined && JSON.stringify(schema.const) !== JSON.stringify(value))
    errors.push(`${path}: must be ${JSON.stringify(schema.const)}`);
  if (typeof value === 'string') {
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value))
      errors.push(`${path}: ${JSON.stringify(value)} does not match ${schema.pattern}`);
    if (schema.minLength !== undefined && value.length < schema.minLength)
      errors.push(`${path}: shorter than ${schema.minLength}`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum)
      errors.push(`${path}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum)
      errors.push(`${path}: above ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems)
      errors.push(`${path}: fewer than ${schema.minItems} items`);
    if (schema.items !== undefined) {
      const items = schema.items;
      value.forEach((v, i) => {
        errors.push(...validate(items, v, `${path}[${i}]`));
      });
    }
  }
  if (t === 'object') {
    const obj = value as Record<string, unknown>;
    for (const k of schema.required ?? []) if (!(k in obj)) errors.push(`${path}: missing ${k}`);
    for (const [k, v] of Object.entries(obj)) {
      const sub = schema.properties?.[k];
      if (sub !== undefined) errors.push(...validate(sub, v, `${path}.${k}`));
      else if (schema.additionalProperties === false) errors.push(`${path}: unknown key ${k}`);
      else if (typeof schema.additionalProperties === 'object')
        errors.push(...validate(schema.additionalProperties, v, `${path}.${k}`));
    }
  }
  return errors;
}

/** Every keyword used anywhere in `schema`. */
function keywords(schema: Schema, out = new Set<string>()): Set<string> {
  for (const [k, v] of Object.entries(schema)) {
    out.add(k);
    if (k === 'properties') for (const s of Object.values(v as Record<string, Schema>)) keywords(s, out);
    if ((k === 'items' || k === 'additionalProperties') && typeof v === 'object') keywords(v as Schema, out);
  }
  return out;
}

/** `base` with `patch` merged in, as Helm merges a values file over the defaults. */
function merge(base: unknown, patch: unknown): unknown {
  if (typeOf(base) !== 'object' || typeOf(patch) !== 'object') return patch;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) out[k] = merge(out[k], v);
  return out;
}

const schema = JSON.parse(read('values.schema.json')) as Schema;
const defaults: unknown = parse(read('values.yaml'));
const examples = readdirSync(join(CHART, 'examples')).filter((f) => f.endsWith('.yaml'));
const templates = readdirSync(join(CHART, 'templates'));
const tpl = (name: string) => read(join('templates', name));

describe('values.schema.json', () => {
  it('is draft-07 and uses only keywords the test validator knows', () => {
    expect(schema).toMatchObject({ $schema: 'http://json-schema.org/draft-07/schema#', type: 'object' });
    expect([...keywords(schema)].filter((k) => !KNOWN.has(k))).toEqual([]);
  });

  it('refuses unknown keys at the top, allocator, agent, joinToken and monitoring levels', () => {
    const props = schema.properties ?? {};
    expect(schema.additionalProperties).toBe(false);
    for (const k of ['image', 'allocator', 'agent', 'joinToken', 'monitoring'])
      expect(props[k]?.additionalProperties, k).toBe(false);
    for (const k of ['persistence', 'service', 'ingress', 'tls'])
      expect(props.allocator?.properties?.[k]?.additionalProperties, k).toBe(false);
    const tls = props.allocator?.properties?.tls?.properties ?? {};
    expect(tls.certManager?.additionalProperties).toBe(false);
    expect(tls.certManager?.properties?.issuerRef?.additionalProperties).toBe(false);
    expect(tls.ca?.additionalProperties).toBe(false);
  });

  it('accepts values.yaml', () => {
    expect(validate(schema, defaults)).toEqual([]);
  });

  it('has at least two examples', () => {
    expect(examples.length).toBeGreaterThanOrEqual(2);
  });

  it.each(examples)('accepts examples/%s merged over the defaults, and alone', (file) => {
    const patch: unknown = parse(read(join('examples', file)));
    expect(validate(schema, patch)).toEqual([]);
    expect(validate(schema, merge(defaults, patch))).toEqual([]);
  });

  const broken: [string, unknown, RegExp][] = [
    ['no allocator at all', { allocator: { replicas: 0 } }, /allocator\.replicas: /],
    [
      'an unknown readiness',
      { allocator: { readiness: 'all' } },
      /allocator\.readiness: "all" is not one of/,
    ],
    ['a misspelt key', { agent: { hostPid: true } }, /agent: unknown key hostPid/],
    ['a wrong type', { allocator: { service: { port: '7400' } } }, /service\.port: expected integer/],
    ['an unknown GPU backend', { agent: { gpu: 'amd' } }, /agent\.gpu: "amd" is not one of/],
    ['a duration without a unit', { allocator: { lease: '40' } }, /allocator\.lease: "40" does not match/],
    ['a misspelt access mode', { allocator: { persistence: { accessModes: ['RWO'] } } }, /accessModes\[0\]/],
    [
      'an issuer kind cert-manager lacks',
      { allocator: { tls: { certManager: { issuerRef: { name: 'ca', kind: 'Vault' } } } } },
      /issuerRef\.kind: "Vault" is not one of/,
    ],
    ['a misspelt TLS key', { allocator: { tls: { secret: 'x' } } }, /allocator\.tls: unknown key secret/],
  ];
  it.each(broken)('refuses %s', (_name, patch, message) => {
    const errors = validate(schema, merge(defaults, patch));
    expect(errors.join('\n')).toMatch(message);
  });
});

describe('templates', () => {
  it('are all there', () => {
    for (const f of [
      '_helpers.tpl',
      'NOTES.txt',
      'allocator-deployment.yaml',
      'allocator-pvc.yaml',
      'allocator-service.yaml',
      'allocator-ingress.yaml',
      'servicemonitor.yaml',
      'join-token-secret.yaml',
      'agent-daemonset.yaml',
      'dashboard-configmap.yaml',
      'allocator-certificate.yaml',
      'allocator-pdb.yaml',
    ])
      expect(templates).toContain(f);
  });

  it('every manifest template runs the contradiction checks first', () => {
    for (const f of templates.filter((t) => t.endsWith('.yaml')))
      expect(tpl(f).startsWith('{{- include "tessera.validate" . -}}'), f).toBe(true);
  });

  it('the allocator: its replicas, Recreate on SQLite, the PVC, its args and probes', () => {
    const d = tpl('allocator-deployment.yaml');
    expect(d).toMatch(/^kind: Deployment$/m);
    expect(d).toMatch(/^ {2}replicas: \{\{ \$a\.replicas \}\}$/m);
    expect(d).toMatch(/\{\{- else \}\}\n\s+type: Recreate/);
    for (const arg of [
      'allocator',
      '--data',
      '/var/lib/tessera',
      '--port',
      '"7400"',
      '--lease',
      '--heartbeat',
    ])
      expect(d).toContain(`- ${arg}`);
    expect(d).toMatch(/livenessProbe:\n\s+httpGet:\n\s+path: \/healthz/);
    expect(d).toMatch(/readinessProbe:\n\s+httpGet:\n\s+path: \{\{ ternary "\/readyz\/leader" "\/readyz"/);
    expect(d).toContain('persistentVolumeClaim:');
    expect(d).toContain('mountPath: /var/lib/tessera');
    const pvc = tpl('allocator-pvc.yaml');
    expect(pvc).toMatch(/^kind: PersistentVolumeClaim$/m);
    expect(pvc).toContain('storageClassName: {{ $p.storageClass | quote }}');
    expect(pvc).toContain('storage: {{ $p.size | quote }}');
    expect(pvc).toContain('helm.sh/resource-policy: keep');
  });

  it('several allocators on PostgreSQL: the URL from a Secret, each advertising its pod, rolling updates, a PodDisruptionBudget', () => {
    const d = tpl('allocator-deployment.yaml');
    expect(d).toMatch(
      /- name: TESSERA_STORE\n\s+valueFrom:\n\s+secretKeyRef:\n\s+name: \{\{ \$a\.store\.existingSecret \}\}/,
    );
    expect(d).toContain('- --advertise-url');
    expect(d).toContain('$(POD_IP):7400');
    expect(d).toContain('fieldPath: status.podIP');
    expect(d).toMatch(/type: RollingUpdate\n\s+rollingUpdate: \{ maxSurge: 1, maxUnavailable: 0 \}/);
    expect(d).toContain('"/readyz/leader" "/readyz"');
    expect(tpl('allocator-pvc.yaml')).toContain('(not .Values.allocator.store.existingSecret)');
    const pdb = tpl('allocator-pdb.yaml');
    expect(pdb).toMatch(/^kind: PodDisruptionBudget$/m);
    expect(pdb).toContain('{{- if gt (int $a.replicas) 1 }}');
    expect(pdb).toContain('maxUnavailable: {{ $a.maxUnavailable }}');
    expect(tpl('_helpers.tpl')).toContain(
      'needs allocator.store.existingSecret: several allocators share one PostgreSQL',
    );
  });

  it("the Service, the optional Ingress, ServiceMonitor and the agents' PodMonitor", () => {
    expect(tpl('allocator-service.yaml')).toMatch(/^kind: Service$/m);
    const ing = tpl('allocator-ingress.yaml');
    expect(ing).toMatch(/^kind: Ingress$/m);
    expect(ing).toContain('{{- if $i.enabled }}');
    const sm = tpl('servicemonitor.yaml');
    expect(sm).toMatch(/^apiVersion: monitoring\.coreos\.com\/v1$/m);
    expect(sm).toMatch(/^kind: ServiceMonitor$/m);
    expect(sm).toContain('path: /metrics');
    expect(sm).toContain('{{- if $m.enabled }}');
    // Under --metrics-auth the allocator's endpoint sends a user token from a Secret.
    expect(sm).toMatch(
      /\{\{- with \$m\.authorization\.secretName \}\}\n(\s+#.*\n)?\s+authorization:\n\s+type: Bearer\n\s+credentials:\n\s+name: \{\{ \. \| quote \}\}/,
    );
    // The agents are scraped on their --metrics-address listener, which serves /metrics and /healthz only.
    expect(sm).toMatch(/^kind: PodMonitor$/m);
    expect(sm).toMatch(/podMetricsEndpoints:\n\s+- port: metrics/);
    const a = tpl('agent-daemonset.yaml');
    expect(a).toMatch(/- --metrics-address\n\s+- \{\{ printf "0\.0\.0\.0:%v" \$g\.metricsPort \| quote \}\}/);
    expect(a).toMatch(/- name: metrics\n\s+containerPort: \{\{ \$g\.metricsPort \}\}/);
  });

  it('the join-token Secret keeps an existing token and is read by the agent as TESSERA_TOKEN', () => {
    const s = tpl('join-token-secret.yaml');
    expect(s).toMatch(/^kind: Secret$/m);
    expect(s).toContain('lookup "v1" "Secret"');
    const a = tpl('agent-daemonset.yaml');
    expect(a).toMatch(/- name: TESSERA_TOKEN\n\s+valueFrom:\n\s+secretKeyRef:/);
    expect(a).toMatch(/- name: TESSERA_URL\n\s+value: \{\{ include "tessera.allocatorUrl" \. \| quote \}\}/);
  });

  it('the agent DaemonSet: host PID, few capabilities, runtime class, priority, probes, hostPath', () => {
    const a = tpl('agent-daemonset.yaml');
    expect(a).toMatch(/^kind: DaemonSet$/m);
    expect(a).toMatch(/^ {6}hostPID: true$/m);
    expect(a).toContain('runtimeClassName: {{ $g.runtimeClassName | quote }}');
    expect(a).toContain('priorityClassName: {{ $g.priorityClassName | quote }}');
    expect(a).toMatch(/livenessProbe:\n\s+exec:/);
    expect(a).toMatch(/readinessProbe:\n\s+exec:/);
    expect(a).toContain('/healthz');
    expect(a).toMatch(/hostPath:\n\s+path: \{\{ \$g\.dataHostPath \| quote \}\}/);
    expect(a).toContain('fieldPath: spec.nodeName');
    expect(a).toContain('nodeSelector:');
    expect(a).toContain('tolerations:');
    const agent = (defaults as { agent: Record<string, unknown> }).agent;
    expect(agent.nodeSelector).toEqual({ 'nvidia.com/gpu.present': 'true' });
    expect(agent.priorityClassName).toBe('system-node-critical');
    expect(agent.runtimeClassName).toBe('nvidia');
    expect(agent.securityContext).toMatchObject({
      privileged: false,
      capabilities: { drop: ['ALL'], add: ['SYS_PTRACE'] },
    });
  });

  it('serves HTTPS from the TLS Secret under allocator.tls, else plain HTTP said out loud', () => {
    const d = tpl('allocator-deployment.yaml');
    expect(d).toMatch(
      /\{\{- if \$a\.tls\.enabled \}\}\n(\s+#.*\n)*\s+- --tls-cert\n\s+- \{\{ printf "%s\/tls\.crt" \(include "tessera\.tlsDir" \.\) \}\}\n\s+- --tls-key\n\s+- \{\{ printf "%s\/tls\.key"/,
    );
    expect(d).toMatch(/\{\{- else \}\}\n(\s+#.*\n)*\s+- --insecure-http\n/);
    // Kubelet probes the HTTPS port with scheme HTTPS (it does not verify the certificate).
    expect(d.match(/port: http\n\s+\{\{- if \$a\.tls\.enabled \}\}\n\s+scheme: HTTPS/g)).toHaveLength(2);
    expect(d).toMatch(/secretName: \{\{ include "tessera\.allocatorTlsSecret" \. \}\}/);
    expect(d).toMatch(/- key: tls\.key\n\s+path: tls\.key/);
    const h = tpl('_helpers.tpl');
    expect(h).toContain('{{ ternary "https" "http" .Values.allocator.tls.enabled }}://');
  });

  it('agents trust the CA alone, from the Secret or a ConfigMap, with --ca', () => {
    const a = tpl('agent-daemonset.yaml');
    expect(a).toMatch(/- --ca\n\s+- \{\{ include "tessera\.caFile" \. \}\}/);
    expect(a).toMatch(/name: tls-ca\n\s+mountPath: \{\{ dir \(include "tessera\.caFile" \.\) \}\}/);
    expect(a).toMatch(/configMap:\n\s+name: \{\{ \.ca\.configMap \| quote \}\}/);
    expect(a).toMatch(/items:\n\s+- key: \{\{ \.ca\.key \| quote \}\}\n\s+path: ca\.crt/);
    // The allocator's private key shares that Secret: it must never reach a node.
    expect(a).not.toContain('tls.key');
    const sm = tpl('servicemonitor.yaml');
    expect(sm).toMatch(/scheme: https\n\s+tlsConfig:\n\s+serverName:/);
  });

  it('creates a cert-manager Certificate for the Service names when an issuer is named', () => {
    const c = tpl('allocator-certificate.yaml');
    expect(c).toMatch(/^apiVersion: cert-manager\.io\/v1$/m);
    expect(c).toMatch(/^kind: Certificate$/m);
    expect(c).toContain('{{- if and $t.enabled $t.certManager.issuerRef.name }}');
    expect(c).toContain('secretName: {{ include "tessera.allocatorTlsSecret" . }}');
    expect(c).toContain('- {{ printf "%s.%s.svc" $name .Release.Namespace }}');
    expect(c).toMatch(/ipAddresses:\n\s+- 127\.0\.0\.1/);
    expect(c).toMatch(/issuerRef:\n\s+name: \{\{ \$t\.certManager\.issuerRef\.name \| quote \}\}/);
  });

  it.each([
    ['allocator-deployment.yaml', 'allocator'],
    ['agent-daemonset.yaml', 'agent'],
  ])('%s passes only flags `tessera %s --help` lists', (file, command) => {
    const help = execFileSync(
      process.execPath,
      [join(CHART, '..', '..', 'bin', 'tessera.js'), command, '--help'],
      {
        encoding: 'utf8',
      },
    );
    const flags = [...tpl(file).matchAll(/^\s+- (--[a-z-]+)$/gm)].map((m) => m[1] as string);
    expect(flags).toEqual(
      expect.arrayContaining(
        command === 'allocator' ? ['--tls-cert', '--tls-key', '--insecure-http'] : ['--ca'],
      ),
    );
    for (const flag of flags) expect(help, flag).toMatch(new RegExp(`${flag}\\b`));
  });

  it('refuses contradictory values with a message', () => {
    const h = tpl('_helpers.tpl');
    expect(h).toContain('fail "allocator.tls.enabled=true needs a certificate: set allocator.tls.secretName');
    expect(h).toContain('but allocator.tls.enabled=false: the allocator would serve plain HTTP');
    expect(h).toContain('the chart sets the transport itself from allocator.tls');
    expect(h).toMatch(/fail \(printf "allocator\.replicas=%v with allocator\.persistence\.enabled=false/);
    expect(h).toContain('fail "allocator.ingress.enabled=true needs allocator.ingress.host');
    expect(h).toContain('agent.gpu=sim with agent.runtimeClassName');
    expect(h).toContain('joinToken.value and joinToken.existingSecret are both set');
    expect(h).toContain(
      'allocator.extraArgs has --metrics-auth but monitoring.serviceMonitor.authorization.secretName is empty',
    );
  });

  it('ships the dashboard in a ConfigMap labelled for Grafana', () => {
    const c = tpl('dashboard-configmap.yaml');
    expect(c).toMatch(/^kind: ConfigMap$/m);
    expect(c).toContain('grafana_dashboard: "1"');
    expect(c).toContain('.Files.Get "dashboards/tessera.json"');
  });
});

describe('dashboards/tessera.json', () => {
  const dash = JSON.parse(read('dashboards/tessera.json')) as { panels: { targets?: { expr: string }[] }[] };
  const exprs = dash.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr);
  const metricSources = [
    readFileSync(join(CHART, '..', '..', 'allocator', 'metrics.ts'), 'utf8'),
    readFileSync(join(CHART, '..', '..', 'agent', 'metrics.ts'), 'utf8'),
  ].join('\n');

  it('charts the scheduler, project, GPU, node and workload metrics', () => {
    const all = exprs.join('\n');
    for (const m of [
      'tessera_scheduler_cycle_duration_seconds_bucket',
      'sum by (le, action) (rate(tessera_scheduler_action_duration_seconds_bucket',
      'avg by (instance) (tessera_gpu_utilization_ratio)',
      'sum by (project, workload) (tessera_workload_gpu_utilization_ratio)',
      'tessera_workload_gpu_idle_seconds_total',
      'tessera_scheduler_binds_total',
      'tessera_scheduler_evictions_total',
      'tessera_workloads',
      'tessera_pending_workloads',
      'tessera_agents_connected',
      'tessera_project_deserved_gpus',
      'tessera_project_fair_share_gpus',
      'tessera_project_allocated_gpus',
      'tessera_gpu_utilization_ratio',
      'tessera_gpu_oom_kills_total',
      'tessera_gpu_swaps_total',
    ])
      expect(all).toContain(m);
  });

  it('names only metrics the allocator or the agent export', () => {
    const names = new Set(exprs.flatMap((e) => e.match(/tessera_[a-z_]+/g) ?? []));
    for (const n of names) expect(metricSources, n).toContain(`'${n.replace(/_bucket$/, '')}'`);
  });
});

const helm = (() => {
  try {
    return execFileSync('which', ['helm'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
})();

describe('helm', () => {
  if (helm === null) {
    it.skip('helm lint and helm template: skipped, no `helm` binary on PATH (install Helm 3 to run them)', () => {});
    return;
  }
  const run = (args: string[]) => execFileSync(helm, args, { encoding: 'utf8', stdio: 'pipe' });
  it('lints the chart with its defaults', () => {
    run(['lint', CHART]);
  });
  it.each(examples)('lints and renders examples/%s', (file) => {
    const values = join(CHART, 'examples', file);
    run(['lint', CHART, '-f', values]);
    const out = run(['template', 't', CHART, '-f', values]);
    expect(out).toContain('kind: Deployment');
    // SQLite's one writer is replaced, never rolled; allocators on PostgreSQL roll.
    expect(out).toContain(file === 'ha-postgres.yaml' ? 'kind: PodDisruptionBudget' : 'type: Recreate');
  });
  it.each([
    ['allocator.replicas=2', /replicas/],
    ['allocator.ingress.enabled=true', /needs allocator\.ingress\.host/],
    ['allocator.tls.enabled=true', /needs a certificate/],
  ])('refuses --set %s', (set, message) => {
    expect(() => run(['template', 't', CHART, '--set', set])).toThrow(message);
  });
});
