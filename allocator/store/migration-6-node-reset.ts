/**
 * Migration 6: a node an admin reset (`tessera node reset`): its credentials are revoked and its name
 * may be registered again by a join token, once. Without the mark a node record alone keeps the name
 * locked to a credential that no longer exists.
 */
export const V6_NODE_RESET = `
ALTER TABLE nodes ADD COLUMN reset_ms INTEGER;      -- NULL: registered; set: reset, open to one join
`;
