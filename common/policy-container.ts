/**
 * The container part of a workload policy (common/policy.ts), PURE: what an admin allows a
 * workload to run and touch on the node, checked on the validated spec (paths and images already
 * normalised, so no spelling slips past a prefix).
 *
 * - `requireImage`: every workload must name an image (none runs on the process runtime).
 * - `allowedImagePrefixes`: an image must be written in full (`registry/path`) and lie under one of
 *   these `registry[/path]` prefixes, compared component by component.
 * - `runAsNonRoot`: `runAsUser` must be set and not 0. The allocator cannot see an image's own
 *   user (many GPU images run as root), so an unset user is refused too; pair the rule with a
 *   `runAsUser` default so workloads that do not care still pass.
 * - `allowedHostPaths`: a mount's host path must be one of these directories or lie inside one.
 *   Host paths are the nodes' and so the cluster's: only a `cluster` policy grants them, lower scopes
 *   may narrow them, and with none granted every mount is refused.
 *
 * Inherited like the rest of a policy: `true` is sticky, lists narrow, and a lower scope may only
 * tighten. Every violation names the rule and the scope that set it.
 */
import { z } from 'zod';
import { err, ok, type Result, type TesseraError, tesseraError } from './errors.ts';
import {
  IMAGE_EXAMPLE,
  imagePrefixProblem,
  parseImageRef,
  prefixCovers,
  underImagePrefix,
} from './image-ref.ts';
import { type ContainerFields, cleanAbsolutePath, isUnderPath } from './workload-container.ts';

/** One scope's container rules; all optional. */
export interface ContainerPolicy {
  requireImage?: boolean;
  allowedImagePrefixes?: string[];
  runAsNonRoot?: boolean;
  allowedHostPaths?: string[];
}

/** A list rule merged down a chain: the values still allowed and the last scope that narrowed them. */
export interface ScopedList {
  values: string[];
  scope: string;
}

/** The merged container rules of a chain; each remembers the scope that set it. */
export interface EffectiveContainerPolicy {
  /** The scope that required an image. */
  requireImage?: string;
  /** The scope that forbade root. */
  runAsNonRoot?: string;
  allowedImagePrefixes?: ScopedList;
  /** Absent: no host path is allowed. */
  allowedHostPaths?: ScopedList;
}

/** The `container` object of a policy body, before its lists are checked. */
export const ContainerPolicyInput = z.strictObject({
  requireImage: z.boolean().optional(),
  allowedImagePrefixes: z.array(z.string().min(1).max(512)).max(256).optional(),
  runAsNonRoot: z.boolean().optional(),
  allowedHostPaths: z.array(z.string().min(1).max(4096)).max(256).optional(),
});

const CLUSTER = 'cluster';

function invalid(field: string, message: string): TesseraError {
  return tesseraError('TESSERA_E_INVALID_SPEC', `container.${field}: ${message}`, {
    field: `container.${field}`,
  });
}

/** Checks and normalises a parsed `container` object: prefixes in their clean form, paths absolute and clean. */
export function normaliseContainerPolicy(
  input: z.infer<typeof ContainerPolicyInput>,
): Result<ContainerPolicy> {
  const out: ContainerPolicy = {};
  if (input.requireImage !== undefined) out.requireImage = input.requireImage;
  if (input.runAsNonRoot !== undefined) out.runAsNonRoot = input.runAsNonRoot;
  if (input.allowedImagePrefixes !== undefined) {
    const values: string[] = [];
    for (const p of input.allowedImagePrefixes) {
      const problem = imagePrefixProblem(p);
      if (problem !== null) return err(invalid('allowedImagePrefixes', problem));
      values.push(p.replace(/\/+$/, ''));
    }
    out.allowedImagePrefixes = [...new Set(values)];
  }
  if (input.allowedHostPaths !== undefined) {
    const values: string[] = [];
    for (const p of input.allowedHostPaths) {
      const clean = cleanAbsolutePath(p);
      if (!clean.ok) return err(invalid('allowedHostPaths', clean.why));
      values.push(clean.value);
    }
    out.allowedHostPaths = [...new Set(values)];
  }
  return ok(out);
}

/** The entries both lists allow: each kept where the other list covers it. */
function intersect(
  a: readonly string[],
  b: readonly string[],
  covers: (outer: string, inner: string) => boolean,
) {
  const kept = [
    ...a.filter((x) => b.some((y) => covers(y, x))),
    ...b.filter((y) => a.some((x) => covers(x, y))),
  ];
  return [...new Set(kept)];
}

/** Merges one scope's container rules into `out` (chain order: cluster first). */
export function mergeContainer(
  out: EffectiveContainerPolicy,
  scope: string,
  c: ContainerPolicy | undefined,
): void {
  if (c === undefined) return;
  if (c.requireImage === true && out.requireImage === undefined) out.requireImage = scope;
  if (c.runAsNonRoot === true && out.runAsNonRoot === undefined) out.runAsNonRoot = scope;
  if (c.allowedImagePrefixes !== undefined) {
    const prev = out.allowedImagePrefixes?.values;
    const values =
      prev === undefined
        ? [...c.allowedImagePrefixes]
        : intersect(prev, c.allowedImagePrefixes, prefixCovers);
    out.allowedImagePrefixes = { values, scope };
  }
  if (c.allowedHostPaths !== undefined) {
    const prev = out.allowedHostPaths?.values;
    // Below the cluster a list only narrows what the cluster granted; alone it grants nothing.
    if (prev === undefined && scope !== CLUSTER) return;
    const values =
      prev === undefined
        ? [...c.allowedHostPaths]
        : intersect(prev, c.allowedHostPaths, (outer, inner) => isUnderPath(inner, outer));
    out.allowedHostPaths = { values, scope };
  }
}

/** Why `child` (to be written at `scope`) would loosen `parent`, or undefined when it only tightens. */
export function containerLoosens(
  parent: EffectiveContainerPolicy,
  child: ContainerPolicy | undefined,
  scope: string,
): { field: string; what: string; by: string } | undefined {
  if (child === undefined) return undefined;
  if (child.requireImage === false && parent.requireImage !== undefined)
    return { field: 'container.requireImage', what: 'container.requireImage false', by: parent.requireImage };
  if (child.runAsNonRoot === false && parent.runAsNonRoot !== undefined)
    return { field: 'container.runAsNonRoot', what: 'container.runAsNonRoot false', by: parent.runAsNonRoot };
  const images = parent.allowedImagePrefixes;
  const extraImage = child.allowedImagePrefixes?.find(
    (p) => images !== undefined && !images.values.some((q) => prefixCovers(q, p)),
  );
  if (images !== undefined && extraImage !== undefined)
    return {
      field: 'container.allowedImagePrefixes',
      what: `container.allowedImagePrefixes adds ${JSON.stringify(extraImage)} (not under ${JSON.stringify(images.values)}), so it`,
      by: images.scope,
    };
  if (child.allowedHostPaths !== undefined && scope !== CLUSTER) {
    const paths = parent.allowedHostPaths;
    if (paths === undefined)
      return {
        field: 'container.allowedHostPaths',
        what: 'container.allowedHostPaths grants host paths no cluster policy granted, so it',
        by: 'the cluster (no cluster policy lists allowedHostPaths for this type; an admin grants them there)',
      };
    const extra = child.allowedHostPaths.find((p) => !paths.values.some((q) => isUnderPath(p, q)));
    if (extra !== undefined)
      return {
        field: 'container.allowedHostPaths',
        what: `container.allowedHostPaths adds ${JSON.stringify(extra)} (not under ${JSON.stringify(paths.values)}), so it`,
        by: paths.scope,
      };
  }
  return undefined;
}

/** Where a spec is checked, for messages: its project and type. */
export interface PolicySubject {
  project: string;
  type: string;
}

function violation(field: string, rule: string, scope: string, why: string, limit: string): TesseraError {
  return tesseraError(
    'TESSERA_E_POLICY_VIOLATION',
    `${field}: ${why} (rule ${rule} set by policy ${scope})`,
    {
      field,
      context: { rule, limit, scope },
    },
  );
}

/** The first container rule `spec` breaks, or undefined. Runs on the validated spec. */
export function checkContainerPolicy(
  spec: ContainerFields,
  eff: EffectiveContainerPolicy,
  subject: PolicySubject,
): TesseraError | undefined {
  if (spec.image === undefined && eff.requireImage !== undefined)
    return violation(
      'image',
      'requireImage',
      eff.requireImage,
      `a ${subject.type} workload in project ${subject.project} must run in a container image; set image (e.g. '${IMAGE_EXAMPLE}')`,
      'true',
    );
  const prefixes = eff.allowedImagePrefixes;
  if (spec.image !== undefined && prefixes !== undefined) {
    const ref = parseImageRef(spec.image);
    const limit = JSON.stringify(prefixes.values);
    if (ref.ok && ref.value.registry === null)
      return violation(
        'image',
        'allowedImagePrefixes',
        prefixes.scope,
        `${JSON.stringify(spec.image)} names no registry, and only images written in full (registry/path) can be matched against the allowed prefixes ${limit}; e.g. docker.io/library/${spec.image}`,
        limit,
      );
    if (!ref.ok || !prefixes.values.some((p) => underImagePrefix(ref.value, p)))
      return violation(
        'image',
        'allowedImagePrefixes',
        prefixes.scope,
        `${JSON.stringify(spec.image)} is not under an allowed prefix ${limit}`,
        limit,
      );
  }
  if (eff.runAsNonRoot !== undefined) {
    if (spec.runAsUser === 0)
      return violation(
        'runAsUser',
        'runAsNonRoot',
        eff.runAsNonRoot,
        '0 (root) is not allowed; set a non-zero user id',
        'true',
      );
    if (spec.runAsUser === undefined)
      return violation(
        'runAsUser',
        'runAsNonRoot',
        eff.runAsNonRoot,
        'must be set to a non-zero user id: without it the pod runs as the image or runtime default, which may be root; set runAsUser (e.g. 1000) or ask an admin for a runAsUser default',
        'true',
      );
  }
  for (const [i, m] of spec.mounts.entries()) {
    const field = `mounts.${i}.hostPath`;
    const paths = eff.allowedHostPaths;
    if (paths === undefined)
      return tesseraError(
        'TESSERA_E_POLICY_VIOLATION',
        `${field}: ${JSON.stringify(m.hostPath)} is not allowed: no policy for ${subject.type} workloads allows host paths; an admin must allow it in a cluster policy's container.allowedHostPaths (tessera policy set cluster ${subject.type} -f policy.yaml)`,
        { field, context: { rule: 'allowedHostPaths', limit: '[]', scope: CLUSTER } },
      );
    if (!paths.values.some((p) => isUnderPath(m.hostPath, p))) {
      const limit = JSON.stringify(paths.values);
      return violation(
        field,
        'allowedHostPaths',
        paths.scope,
        `${JSON.stringify(m.hostPath)} is not under an allowed host path ${limit}; an admin must allow it`,
        limit,
      );
    }
  }
  return undefined;
}

/**
 * Why a policy's own defaults break the merged container rules (a default image outside the allowed
 * prefixes, a default user of 0 under runAsNonRoot), or undefined: every submission relying on such a
 * default would be refused, so the policy is refused instead. Rules on fields the defaults leave unset
 * are the submitter's to meet.
 */
export function containerDefaultsProblem(
  defaults: Readonly<Record<string, unknown>>,
  eff: EffectiveContainerPolicy,
): TesseraError | undefined {
  const spec: ContainerFields = { mounts: [] };
  if (typeof defaults.image === 'string') spec.image = defaults.image;
  if (typeof defaults.runAsUser === 'number') spec.runAsUser = defaults.runAsUser;
  const present: EffectiveContainerPolicy = { ...eff };
  delete present.requireImage;
  if (spec.runAsUser === undefined) delete present.runAsNonRoot;
  return checkContainerPolicy(spec, present, { project: '', type: '' });
}
