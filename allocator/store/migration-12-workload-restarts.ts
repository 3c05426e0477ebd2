/**
 * Migration 12: how many times a workload's pods (or its whole gang) were restarted after a failure
 * under restartPolicy OnFailure, counted against its backoffLimit and shown in every listing.
 */
export const V12_WORKLOAD_RESTARTS = `
ALTER TABLE workloads ADD COLUMN restarts INTEGER NOT NULL DEFAULT 0;   -- restarts after failures so far
`;
