/**
 * The JSON body `tessera submit` sends to `POST /workloads`, which both the flags (submit.ts) and a
 * spec file with flag overrides (submit-file.ts) produce.
 */
import type { Framework, PriorityClass, PullPolicy, WorkloadType } from '../../common/workload.ts';
import type { AutoscaleMetric, WorkspaceTool } from '../../common/workload-serving.ts';
import type { SubmitProbe } from './submit-probe.ts';
import type { SubmitRestart } from './submit-restart.ts';

/** One `mounts` entry as the user set it; the allocator defaults what is left out. */
export interface SubmitMount {
  hostPath: string;
  containerPath?: string;
  readOnly?: boolean;
}

/** The `resources` of a submitted spec, quantities as the user wrote them. */
export interface SubmitResources {
  gpuDevices?: number;
  gpuFraction?: string;
  gpuMemory?: string;
  gpuFractionLimit?: string;
  gpuMemoryLimit?: string;
  cpu?: string;
  memory?: string;
}

/** The body of `POST /workloads`: only what the user set, so the allocator applies its defaults. */
export interface SubmitBody extends SubmitRestart {
  name: string;
  project: string;
  type: WorkloadType;
  command: string[];
  priorityClass?: PriorityClass;
  env?: Record<string, string>;
  nodePools?: string[];
  nodeTypes?: string[];
  gpuModels?: string[];
  replicas?: number;
  minReplicas?: number;
  maxReplicas?: number;
  resources?: SubmitResources;
  disconnectPolicy?: string;
  image?: string;
  imagePullPolicy?: PullPolicy;
  imagePullSecret?: string;
  workingDir?: string;
  runAsUser?: number;
  runAsGroup?: number;
  mounts?: SubmitMount[];
  public?: boolean;
  /** maxReplicas is required by the allocator; left optional here so it names the missing field. */
  autoscaling?: {
    metric: AutoscaleMetric;
    target: number;
    minReplicas?: number;
    maxReplicas?: number;
    scaleToZeroAfterSeconds?: number;
  };
  tool?: WorkspaceTool;
  toolPort?: string;
  readinessProbe?: SubmitProbe;
  ports?: { name: string }[];
  framework?: Framework;
}
