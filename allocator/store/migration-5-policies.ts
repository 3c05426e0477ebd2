/** Migration 5: policies and scheduling rules per scope and workload type. */
export const V5_POLICIES = `
-- scope is 'cluster', 'department:<d>' or 'project:<p>'; body is JSON validated before it is written.
CREATE TABLE policies (
  scope TEXT NOT NULL,
  type TEXT NOT NULL,
  body TEXT NOT NULL,            -- JSON Policy {defaults, rules}
  updated_ms INTEGER NOT NULL,
  PRIMARY KEY (scope, type)
) STRICT;
CREATE TABLE scheduling_rules (
  scope TEXT NOT NULL,
  type TEXT NOT NULL,
  body TEXT NOT NULL,            -- JSON SchedulingRules {maxRuntimeSeconds, idleGpuTimeoutSeconds, nodeTypes}
  updated_ms INTEGER NOT NULL,
  PRIMARY KEY (scope, type)
) STRICT;
`;
