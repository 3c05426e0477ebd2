/**
 * The part of a workload spec that says how it is served through the allocator's proxy
 * (`/serve/PROJECT/WORKLOAD/`): `public`, `autoscaling` (inference) and `tool` / `toolPort`
 * (workspaces). Their input schema, what each accepts, and the normaliser; `workload.ts` spreads
 * these into the spec as it does the container fields, and builds the errors (passed in, so no
 * import cycle).
 *
 * Autoscaling owns the replica range of an inference workload: with it, the spec's `minReplicas` is
 * `max(1, autoscaling.minReplicas)` (the scheduler's gang size is never 0) and `maxReplicas` is
 * `autoscaling.maxReplicas`; how many of those run at a time is the autoscaler's (allocator/serve).
 */
import { z } from 'zod';
import { err, ok, type Result } from './errors.ts';
import type { SpecFieldError } from './workload-resources.ts';

/** What the autoscaler measures at the proxy, per workload. */
export type AutoscaleMetric = 'concurrency' | 'requestsPerSecond' | 'latencyP95Ms';

/** Every autoscaling metric. */
export const AUTOSCALE_METRICS = [
  'concurrency',
  'requestsPerSecond',
  'latencyP95Ms',
] as const satisfies readonly AutoscaleMetric[];

/** The tool a workspace serves. */
export type WorkspaceTool = 'jupyter' | 'vscode' | 'custom';

/** Every workspace tool. */
export const WORKSPACE_TOOLS = ['jupyter', 'vscode', 'custom'] as const satisfies readonly WorkspaceTool[];

/** The port name a workspace's tool listens on when `toolPort` is not given. */
export const DEFAULT_TOOL_PORT = 'tool';

/** An inference workload's autoscaling, normalised. */
export interface Autoscaling {
  metric: AutoscaleMetric;
  /** Per replica: in-flight requests, requests per second, or p95 milliseconds. */
  target: number;
  /** 0 only with `scaleToZeroAfterSeconds`. */
  minReplicas: number;
  maxReplicas: number;
  /** Idle this long, a workload with minReplicas 0 drops to no replica; null: never. */
  scaleToZeroAfterSeconds: number | null;
}

/** The serving part of a validated spec. */
export interface ServingFields {
  /** Served without a token, where the allocator allows public serving (--allow-public-serving). Default false. */
  public: boolean;
  autoscaling?: Autoscaling;
  /** Workspaces only. */
  tool?: WorkspaceTool;
  /** Workspaces with a tool: the name of the spec port the tool listens on (default `tool`). */
  toolPort?: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** `autoscaling` before normalisation. */
export const AutoscalingInput = z.strictObject({
  metric: z.enum(AUTOSCALE_METRICS),
  target: z.number().positive(),
  minReplicas: z.number().int().min(0).optional(),
  maxReplicas: z.number().int().min(1),
  scaleToZeroAfterSeconds: z.number().int().min(1).optional(),
});

/** The serving fields of a spec's input schema, spread into it by workload.ts. */
export const SERVING_INPUT_SHAPE = {
  public: z.boolean().optional(),
  autoscaling: AutoscalingInput.optional(),
  tool: z.enum(WORKSPACE_TOOLS).optional(),
  toolPort: z.string().max(15).regex(DNS_LABEL).optional(),
};

const ServingInput = z.strictObject(SERVING_INPUT_SHAPE);
type ServingIn = z.infer<typeof ServingInput> & {
  type: string;
  replicas?: number | undefined;
  minReplicas?: number | undefined;
  maxReplicas?: number | undefined;
};

/** What each serving field accepts, keyed by dotted path. */
export const SERVING_FIELD_HELP: Readonly<Record<string, string>> = {
  public:
    'true to serve /serve/PROJECT/WORKLOAD/ without a token (only where the allocator runs with --allow-public-serving); default false',
  autoscaling:
    "inference only: {metric, target, minReplicas?, maxReplicas, scaleToZeroAfterSeconds?} (e.g. {metric: 'concurrency', target: 4, minReplicas: 0, maxReplicas: 3, scaleToZeroAfterSeconds: 300})",
  'autoscaling.metric': `one of ${AUTOSCALE_METRICS.join(', ')}`,
  'autoscaling.target': 'a number > 0: the metric per replica the autoscaler aims at',
  'autoscaling.minReplicas': 'a whole number >= 0 (0 only with scaleToZeroAfterSeconds); default 1',
  'autoscaling.maxReplicas': 'a whole number >= 1 and >= minReplicas',
  'autoscaling.scaleToZeroAfterSeconds':
    'a whole number of seconds >= 1 without requests before the last replica stops',
  tool: `workspace only: one of ${WORKSPACE_TOOLS.join(', ')}`,
  toolPort: `the name of the port (in ports) the workspace's tool listens on; default '${DEFAULT_TOOL_PORT}'`,
};

/** The replica range a spec ends up with. */
export interface ReplicaRange {
  replicas: number;
  minReplicas: number;
  maxReplicas: number;
}

/**
 * Validates the serving fields of a spec already through the input schema; with autoscaling also
 * returns the replica range it implies (else `range` as given).
 */
export function normaliseServing(
  s: ServingIn,
  range: ReplicaRange,
  specError: SpecFieldError,
): Result<{ serving: ServingFields; range: ReplicaRange }> {
  const serving: ServingFields = { public: s.public ?? false };
  if (s.tool !== undefined || s.toolPort !== undefined) {
    const field = s.tool !== undefined ? 'tool' : 'toolPort';
    if (s.type !== 'workspace')
      return err(specError(field, `applies only to a workspace, not to a ${s.type} workload`));
    serving.tool = s.tool ?? 'custom';
    serving.toolPort = s.toolPort ?? DEFAULT_TOOL_PORT;
  }
  const a = s.autoscaling;
  if (a === undefined) return ok({ serving, range });
  if (s.type !== 'inference')
    return err(specError('autoscaling', `applies only to an inference workload, not to a ${s.type} one`));
  for (const field of ['minReplicas', 'maxReplicas'] as const) {
    if (s[field] !== undefined)
      return err(
        specError(field, `with autoscaling, set the range as autoscaling.${field} and leave ${field} out`),
      );
  }
  const min = a.minReplicas ?? 1;
  if (min === 0 && a.scaleToZeroAfterSeconds === undefined)
    return err(
      specError(
        'autoscaling.minReplicas',
        'is 0, which needs autoscaling.scaleToZeroAfterSeconds (how long idle before the last replica stops)',
      ),
    );
  if (min > a.maxReplicas)
    return err(
      specError('autoscaling.maxReplicas', `maxReplicas (${a.maxReplicas}) must be >= minReplicas (${min})`),
    );
  serving.autoscaling = {
    metric: a.metric,
    target: a.target,
    minReplicas: min,
    maxReplicas: a.maxReplicas,
    scaleToZeroAfterSeconds: a.scaleToZeroAfterSeconds ?? null,
  };
  const minReplicas = Math.max(1, min);
  const replicas = Math.min(a.maxReplicas, Math.max(minReplicas, s.replicas ?? minReplicas));
  return ok({ serving, range: { replicas, minReplicas, maxReplicas: a.maxReplicas } });
}

/** The path every served workload lives under on the allocator: `/serve/PROJECT/WORKLOAD/`. */
export const SERVE_PREFIX = '/serve';

/** Whether a workload of this type is reached through the serving proxy (and so has a `url`). */
export function isServed(type: string): boolean {
  return type === 'inference' || type === 'workspace';
}
