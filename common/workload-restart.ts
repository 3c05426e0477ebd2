/**
 * The part of a workload spec that says what happens when a pod fails: `restartPolicy` and
 * `backoffLimit`, as a Kubernetes Job spells them. Their input schema, what each accepts, the
 * defaults and the normaliser; `workload.ts` spreads these into the spec as it does the container
 * fields. What a restart does is the allocator's (allocator/lifecycle/restart.ts).
 */
import { z } from 'zod';
import { ok, type Result } from './errors.ts';

/** `Never`: a failed pod fails its workload (the default); `OnFailure`: it is restarted up to backoffLimit times. */
export type RestartPolicy = 'Never' | 'OnFailure';

/** Every restart policy, the default first. */
export const RESTART_POLICIES = ['Never', 'OnFailure'] as const satisfies readonly RestartPolicy[];

/**
 * Defaults: `Never` keeps a failure a failure, as before the field existed; a limit of 6 restarts is
 * a Kubernetes Job's `backoffLimit` default. An inference workload is the exception (restartPolicyFor).
 */
export const RESTART_DEFAULTS = { restartPolicy: 'Never', backoffLimit: 6 } as const satisfies RestartFields;

/**
 * The default policy of a workload `type`: `OnFailure` for inference, whose replicas serve callers
 * and are replaced when they die as a Deployment's are; `Never` for the rest.
 */
export function restartPolicyFor(type: string): RestartPolicy {
  return type === 'inference' ? 'OnFailure' : RESTART_DEFAULTS.restartPolicy;
}

/**
 * Whether a failure restarts the whole gang (all its pods stopped and placed again) rather than the
 * failed pod alone: a workload with minReplicas > 1 whose pods work together (a rendezvous cannot
 * go on with one member replaced). An inference or workspace workload's replicas each serve alone.
 */
export function restartsAsGang(spec: { type: string; minReplicas: number }): boolean {
  return spec.minReplicas > 1 && spec.type !== 'inference' && spec.type !== 'workspace';
}

/**
 * The most restarts a spec may allow: a workload failing that often needs a fix, not another try,
 * and the count is shown in every listing.
 */
export const MAX_BACKOFF_LIMIT = 100;

/** The restart part of a validated spec; both fields always set. */
export interface RestartFields {
  restartPolicy: RestartPolicy;
  /** Restarts allowed before the workload fails with BackoffLimitExceeded; only read under OnFailure. */
  backoffLimit: number;
}

/** The restart fields of a spec's input schema, spread into it by workload.ts. */
export const RESTART_INPUT_SHAPE = {
  restartPolicy: z.enum(RESTART_POLICIES).optional(),
  backoffLimit: z.number().int().min(0).max(MAX_BACKOFF_LIMIT).optional(),
};

const RestartInput = z.strictObject(RESTART_INPUT_SHAPE);
type RestartIn = z.infer<typeof RestartInput>;

/** What each restart field accepts, for every message about one. */
export const RESTART_FIELD_HELP: Readonly<Record<string, string>> = {
  restartPolicy: `one of ${RESTART_POLICIES.join(', ')} (default ${RESTART_DEFAULTS.restartPolicy}, OnFailure for inference): OnFailure restarts a failed pod, or the whole gang of a workload with minReplicas > 1 (not inference or workspace replicas, which restart alone)`,
  backoffLimit: `a whole number from 0 to ${MAX_BACKOFF_LIMIT} (default ${RESTART_DEFAULTS.backoffLimit}): restarts allowed under restartPolicy OnFailure before the workload fails`,
};

/** The restart fields of a spec already through the input schema, defaults applied. */
export function normaliseRestart(s: RestartIn & { type: string }): Result<RestartFields> {
  return ok({
    restartPolicy: s.restartPolicy ?? restartPolicyFor(s.type),
    backoffLimit: s.backoffLimit ?? RESTART_DEFAULTS.backoffLimit,
  });
}

/** A stored spec's restart fields, defaulted where it was stored before they existed. */
export function storedRestart(s: Partial<RestartFields>): RestartFields {
  return {
    // Stored before the field existed: Never, what every workload did then, whatever its type.
    restartPolicy: s.restartPolicy ?? RESTART_DEFAULTS.restartPolicy,
    backoffLimit: s.backoffLimit ?? RESTART_DEFAULTS.backoffLimit,
  };
}
