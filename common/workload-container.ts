/**
 * The part of a workload spec that says what its pods run in and as whom: `image`,
 * `imagePullPolicy`, `imagePullSecret`, `workingDir`, `runAsUser`, `runAsGroup` and `mounts`. Their
 * input schema, what each accepts, and the normaliser; `workload.ts` merges these into the spec as
 * it does `workload-resources.ts`, and builds the errors (passed in, so no import cycle).
 *
 * All of them are optional: a spec without `image` runs its command on the node's process runtime.
 * Whether a mount's host path, an image's registry or a root user is allowed is the admin's policy
 * (common/policy-container.ts), not this file's: here only the shape is checked.
 */
import { posix } from 'node:path';
import { z } from 'zod';
import { err, ok, type Result } from './errors.ts';
import { IMAGE_EXAMPLE, MAX_IMAGE_CHARS, parseImageRef } from './image-ref.ts';
import { WIRE_LIMITS } from './wire-limits.ts';
import type { SpecFieldError } from './workload-resources.ts';

/** When the runtime pulls a pod's image: only when absent (the default), before every start, or never. */
export type PullPolicy = 'IfNotPresent' | 'Always' | 'Never';

/** Every pull policy; `IfNotPresent` is the default for a spec with an image. */
export const PULL_POLICIES = ['IfNotPresent', 'Always', 'Never'] as const satisfies readonly PullPolicy[];

/** A host path bound into a pod, normalised: both paths absolute and clean, `readOnly` decided. */
export interface WorkloadMount {
  hostPath: string;
  containerPath: string;
  readOnly: boolean;
}

/**
 * The node label an agent sets to the runtime it runs pods with (`container` or `process`): a
 * workload with an image is placed only where it says `container`.
 */
export const RUNTIME_LABEL = 'tessera.io/runtime';

/** The container part of a validated spec. Absent fields are unset; `mounts` is always there. */
export interface ContainerFields {
  /** An OCI reference; absent: the command runs on the node's process runtime. */
  image?: string;
  /** Set whenever `image` is (default `IfNotPresent`), never without it. */
  imagePullPolicy?: PullPolicy;
  /** A registry secret of the workload's project, resolved into a credential at dispatch. */
  imagePullSecret?: string;
  /** Absolute; absent: the runtime's default (the image's, or the pod's own directory). */
  workingDir?: string;
  /** Absent: the runtime's default user (the image's user in a container). */
  runAsUser?: number;
  runAsGroup?: number;
  mounts: WorkloadMount[];
}

/** The largest user or group id a spec may name: Linux ids are 32-bit, and 2^31 upwards are reserved by convention. */
export const MAX_ID = 2 ** 31 - 1;

/** A registry secret's name: a DNS-1123 label, as workload names are. */
export const SECRET_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** What a secret name accepts, for every message about one. */
export const SECRET_NAME_HELP =
  "a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters (e.g. 'ngc')";

const L = WIRE_LIMITS;
const id = z.number().int().min(0).max(MAX_ID);

/** One entry of `mounts`, before normalisation. */
export const MountInput = z.strictObject({
  hostPath: z.string(),
  containerPath: z.string().optional(),
  readOnly: z.boolean().optional(),
});

/** The container fields of a spec's input schema, spread into it by workload.ts. */
export const CONTAINER_INPUT_SHAPE = {
  image: z.string().optional(),
  imagePullPolicy: z.enum(PULL_POLICIES).optional(),
  imagePullSecret: z.string().optional(),
  workingDir: z.string().optional(),
  runAsUser: id.optional(),
  runAsGroup: id.optional(),
  mounts: z.array(MountInput).max(L.maxMounts).optional(),
};

const ContainerInput = z.strictObject(CONTAINER_INPUT_SHAPE);
type ContainerIn = z.infer<typeof ContainerInput>;

const PATH_HELP = `an absolute path of at most ${L.maxTextChars} characters without '..' components (e.g. '/workspace')`;
const ID_HELP = `a whole number from 0 to ${MAX_ID}`;

/** What each container field accepts, keyed by dotted path (array indices as '*'). */
export const CONTAINER_FIELD_HELP: Readonly<Record<string, string>> = {
  image: `an OCI image reference [registry[:port]/]path[:tag][@sha256:<64 hex>] with a lowercase path, at most ${MAX_IMAGE_CHARS} characters (e.g. '${IMAGE_EXAMPLE}')`,
  imagePullPolicy: `one of ${PULL_POLICIES.join(', ')} (default IfNotPresent; only with image)`,
  imagePullSecret: `the name of a registry secret in the workload's project (tessera secret list -p PROJECT), only with image: ${SECRET_NAME_HELP}`,
  workingDir: PATH_HELP,
  runAsUser: `the user id the pod runs as: ${ID_HELP}`,
  runAsGroup: `the group id the pod runs as: ${ID_HELP}`,
  mounts: `a list of at most ${L.maxMounts} host paths to bind into the pod: [{hostPath, containerPath?, readOnly?}] (an admin's policy must allow each host path)`,
  'mounts.*': 'an object {hostPath, containerPath?, readOnly?}',
  'mounts.*.hostPath': `the host directory or file: ${PATH_HELP}`,
  'mounts.*.containerPath': `where the pod sees it (default: the same path): ${PATH_HELP}`,
  'mounts.*.readOnly': 'true (the default) or false for a writable mount',
};

/** `p` made canonical (no '.', doubled or trailing '/'), or why it is not an acceptable absolute path. */
export function cleanAbsolutePath(p: string): { ok: true; value: string } | { ok: false; why: string } {
  if (!p.startsWith('/'))
    return { ok: false, why: `${JSON.stringify(p)} is not an absolute path (start it with '/')` };
  if (p.length > L.maxTextChars) return { ok: false, why: `longer than ${L.maxTextChars} characters` };
  if (p.includes('\0')) return { ok: false, why: 'must not contain a NUL character' };
  // A '..' could climb out of a directory an admin allowed; normalising it away would hide that.
  if (p.split('/').includes('..')) return { ok: false, why: `${JSON.stringify(p)} has a '..' component` };
  const clean = posix.normalize(p);
  return { ok: true, value: clean.length > 1 ? clean.replace(/\/+$/, '') : clean };
}

/** Whether the clean absolute path `p` is `dir` or lies inside it, component by component (`/data` holds `/data/x`, not `/database`). */
export function isUnderPath(p: string, dir: string): boolean {
  if (dir === '/') return true;
  return p === dir || p.startsWith(`${dir}/`);
}

/** Validates and normalises the container fields of a spec already through the input schema. */
export function normaliseContainer(s: ContainerIn, specError: SpecFieldError): Result<ContainerFields> {
  const out: ContainerFields = { mounts: [] };
  if (s.image !== undefined) {
    const ref = parseImageRef(s.image);
    if (!ref.ok) return err(specError('image', `${JSON.stringify(s.image)}: ${ref.why}`));
    out.image = s.image;
    out.imagePullPolicy = s.imagePullPolicy ?? 'IfNotPresent';
  } else {
    for (const field of ['imagePullPolicy', 'imagePullSecret'] as const) {
      if (s[field] !== undefined)
        return err(
          specError(
            field,
            `applies only to a workload with an image; set image (e.g. '${IMAGE_EXAMPLE}') or leave ${field} out`,
          ),
        );
    }
  }
  if (s.imagePullSecret !== undefined) {
    if (s.imagePullSecret.length > 63 || !SECRET_NAME.test(s.imagePullSecret))
      return err(specError('imagePullSecret', `${JSON.stringify(s.imagePullSecret)} is not a secret name`));
    out.imagePullSecret = s.imagePullSecret;
  }
  if (s.workingDir !== undefined) {
    const dir = cleanAbsolutePath(s.workingDir);
    if (!dir.ok) return err(specError('workingDir', dir.why));
    out.workingDir = dir.value;
  }
  if (s.runAsUser !== undefined) out.runAsUser = s.runAsUser;
  if (s.runAsGroup !== undefined) out.runAsGroup = s.runAsGroup;
  const seen = new Map<string, number>();
  for (const [i, m] of (s.mounts ?? []).entries()) {
    const host = cleanAbsolutePath(m.hostPath);
    if (!host.ok) return err(specError(`mounts.${i}.hostPath`, host.why));
    const inPod = cleanAbsolutePath(m.containerPath ?? m.hostPath);
    if (!inPod.ok) return err(specError(`mounts.${i}.containerPath`, inPod.why));
    const earlier = seen.get(inPod.value);
    if (earlier !== undefined)
      return err(
        specError(
          `mounts.${i}.containerPath`,
          `${JSON.stringify(inPod.value)} is already the target of mounts.${earlier}; each mount needs its own containerPath`,
        ),
      );
    seen.set(inPod.value, i);
    out.mounts.push({ hostPath: host.value, containerPath: inPod.value, readOnly: m.readOnly ?? true });
  }
  return ok(out);
}
