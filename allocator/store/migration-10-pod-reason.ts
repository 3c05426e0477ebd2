/**
 * Migration 10: why a pod is in its phase, as its node or the lifecycle said (`ImagePullFailed:
 * ... unauthorized`, `OOMKilled`, `GPU OOM: ...`). Without it a failed workload could only say
 * "pod X failed with exit code 1", and the registry's own words were lost.
 */
export const V10_POD_REASON = `
ALTER TABLE pods ADD COLUMN reason TEXT;      -- NULL: none recorded (rows written before this step)
`;
