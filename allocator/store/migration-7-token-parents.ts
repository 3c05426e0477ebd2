/**
 * Migration 7: the token a user token was minted with (its parent). A minted token expires no later
 * than its parent and is revoked with it (identity/tokens.ts), so a short-lived or revoked token cannot
 * leave behind a longer-lived copy of itself.
 */
export const V7_TOKEN_PARENTS = `
ALTER TABLE tokens ADD COLUMN parent TEXT;          -- id of the token that minted it; NULL: made by the allocator
CREATE INDEX tokens_parent ON tokens(parent);
`;
