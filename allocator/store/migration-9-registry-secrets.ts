/**
 * Migration 9: registry secrets, a project's logins to container registries (common/registry-secret.ts).
 * The password is kept as given: the agent must present it to the registry, so a hash would not do,
 * and a key to encrypt it with would sit beside this file on the same disk. The database file is
 * what protects it (db.ts keeps it 0600, readable by the allocator's user alone).
 */
export const V9_REGISTRY_SECRETS = `
CREATE TABLE registry_secrets (
  project TEXT NOT NULL REFERENCES projects(name) ON DELETE CASCADE,
  name TEXT NOT NULL,
  server TEXT NOT NULL,          -- registry host[:port], lowercase
  username TEXT NOT NULL,
  password TEXT NOT NULL,        -- in the clear: see above; never returned by the API
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  PRIMARY KEY (project, name)
) STRICT;
`;
