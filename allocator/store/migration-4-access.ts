/**
 * Migration 4: users' API tokens with expiry, revocation and a name; access rules found by subject
 * (RBAC). V1's access_rules table already holds `{id, subject, role, scope}`.
 */
export const V4_ACCESS = `
ALTER TABLE tokens ADD COLUMN expires_ms INTEGER;   -- NULL: never expires
ALTER TABLE tokens ADD COLUMN revoked_ms INTEGER;   -- NULL: not revoked; a revoked row stays for the record
ALTER TABLE tokens ADD COLUMN name TEXT;            -- what the user called it ("laptop", "ci")
CREATE INDEX access_rules_subject ON access_rules(subject);
CREATE UNIQUE INDEX access_rules_unique ON access_rules(subject, role, scope);
`;
