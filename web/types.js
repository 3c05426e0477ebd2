// @ts-check
/**
 * The API's wire shapes as the console reads them (allocator/api/views.ts, service/top.ts,
 * service/shares.ts). Only typedefs: the browser loads this module but it exports no values.
 */

/** @typedef {{ code: string, message: string, field?: string }} ErrorBody */

/** @typedef {{ user: string, rules: { role: string, scope: string }[] }} WhoAmI */

/** @typedef {{ uuid: string, index: number, model: string, memoryMiB: number, healthy: boolean }} NodeGpu */

/**
 * @typedef {object} NodeView
 * @property {string} name
 * @property {Record<string, string>} labels
 * @property {Record<string, string>} [adminLabels] set through the API; they win over the agent's
 * @property {string} [nodePool] the pool that claims it, where the API says
 * @property {NodeGpu[]} gpus
 * @property {number} cpuMillis
 * @property {number} memoryMiB
 * @property {boolean} schedulable
 * @property {boolean} cordoned
 * @property {boolean} lost
 * @property {string} lastSeenAt
 */

/**
 * @typedef {object} TopGpuPod
 * @property {string} workload
 * @property {string} workloadName
 * @property {string} pod
 * @property {number} fraction
 * @property {number | null} utilizationPct
 * @property {number | null} memoryUsedMiB
 */

/**
 * @typedef {object} TopGpu
 * @property {string} uuid
 * @property {number} index
 * @property {string} model
 * @property {number | null} utilizationPct
 * @property {number | null} memoryUsedMiB
 * @property {number} memoryTotalMiB
 * @property {TopGpuPod[]} pods
 */

/** @typedef {{ name: string, lost: boolean, sampledAt: string | null, gpus: TopGpu[] }} TopNode */

/**
 * @typedef {object} TopWorkload
 * @property {string} id
 * @property {string} name
 * @property {string} project
 * @property {string} phase
 * @property {number} pods
 * @property {number} gpus
 * @property {number} gpuUtilizationPct
 * @property {number} gpuMemoryUsedMiB
 */

/** @typedef {{ nodes: TopNode[], workloads: TopWorkload[] }} TopView */

/**
 * @typedef {object} QuotaView
 * @property {string} nodePool
 * @property {number} gpu
 * @property {number} overQuotaWeight
 * @property {number} limit
 * @property {number} [cpuMillis]
 * @property {number} [memoryMiB]
 */

/** @typedef {{ name: string, department: string | null, createdAt: string, quotas: QuotaView[] }} ProjectView */

/** @typedef {{ name: string, createdAt: string, quotas: QuotaView[] }} DepartmentView */

/**
 * @typedef {object} PoolView
 * @property {string} name
 * @property {Record<string, string>} selector
 * @property {{ gpu: string, cpu: string }} placement
 * @property {string} createdAt
 */

/** @typedef {{ name: string, createdAt: string }} UserView */

/** @typedef {{ id: number, subject: string, role: string, scope: string, createdAt: string }} AccessRuleView */

/**
 * A stored policy or set of scheduling rules: its scope (`cluster`, `department:<d>`,
 * `project:<p>`), workload type and document fields, spread.
 * @typedef {{ scope: string, type: string, updatedAt: string } & Record<string, unknown>} ScopedView
 */

/**
 * One sample of a usage history (allocator/api/history-routes.ts), or a bucket's means.
 * @typedef {object} HistoryPoint
 * @property {string} at
 * @property {number} allocatedGpus
 * @property {number} capacityGpus
 * @property {number | null} utilizationPct
 */

/**
 * @typedef {object} HistoryView
 * @property {'project' | 'nodepool' | 'node'} kind
 * @property {string} name
 * @property {number} intervalMs
 * @property {number} windowMs
 * @property {number | null} stepMs
 * @property {HistoryPoint[]} points
 */

/**
 * One queue in one node pool as the newest scheduling cycle saw it; GPUs as numbers of GPUs.
 * @typedef {object} ShareRow
 * @property {string} queue
 * @property {'department' | 'project'} kind
 * @property {string | null} department
 * @property {string} nodePool
 * @property {number} deserved
 * @property {number} fairShare
 * @property {number} allocated
 * @property {number} limit -1 means none
 * @property {number} overQuotaWeight
 */

/**
 * @typedef {{ kind: 'none' }
 *   | { kind: 'devices', count: number }
 *   | { kind: 'fraction', milli: number, limitMilli?: number, limitMiB?: number }
 *   | { kind: 'memory', memoryMiB: number, limitMiB?: number, limitMilli?: number }} GpuRequest
 */

/** @typedef {{ gpu: GpuRequest, cpuMillis: number, memoryMiB: number }} PodResources */

/**
 * @typedef {object} PodGpu
 * @property {string} uuid
 * @property {number} fraction
 * @property {number} memoryMiB
 * @property {number} memoryLimitMiB
 */

/**
 * @typedef {object} PodView
 * @property {string} name
 * @property {string | null} node
 * @property {string} phase
 * @property {PodGpu[]} gpus
 * @property {number | null} exitCode
 */

/**
 * @typedef {object} WorkloadView
 * @property {string} id
 * @property {string} name
 * @property {string} project
 * @property {string} type
 * @property {string} priorityClass
 * @property {number} priority
 * @property {boolean} preemptible
 * @property {string[]} command
 * @property {Record<string, string>} env
 * @property {string[]} nodePools
 * @property {number} replicas
 * @property {number} minReplicas
 * @property {number} maxReplicas
 * @property {PodResources} resources
 * @property {number} minRuntimeMs
 * @property {string} disconnectPolicy
 * @property {string} [image] absent: runs on the node's process runtime
 * @property {string} [imagePullPolicy]
 * @property {string} [imagePullSecret] the secret's name; its password never leaves the allocator's API
 * @property {string} [workingDir]
 * @property {number} [runAsUser]
 * @property {number} [runAsGroup]
 * @property {{ hostPath: string, containerPath: string, readOnly: boolean }[]} [mounts]
 * @property {string} phase
 * @property {string | null} phaseReason
 * @property {string} createdAt
 * @property {PodView[]} pods
 * @property {EndpointView[]} [endpoints] the pods with host ports: where each listens, and whether it takes requests
 * @property {string} [url] served types (inference, workspace): the allocator's /serve/PROJECT/NAME/
 * @property {number} [readyReplicas] served types: replicas ready to take requests
 * @property {number} [wantedReplicas] autoscaled: the replicas its autoscaler wants now
 */

/**
 * @typedef {object} EndpointView
 * @property {string} pod
 * @property {string} node
 * @property {string} address
 * @property {Record<string, number>} ports port name -> host port
 * @property {boolean} ready
 */

/**
 * @typedef {object} EventView
 * @property {number} id
 * @property {string} time
 * @property {string | null} from
 * @property {string} to
 * @property {string} reason
 * @property {string | null} message
 */

/** @typedef {{ id: string, phase: string, pending: boolean, reasons: string[], cycleAt: string | null }} ExplainView */

export {};
