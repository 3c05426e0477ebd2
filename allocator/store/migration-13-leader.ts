/** Migration 13: the leader lease row of allocators sharing one database (leadership.ts). */

/** Migration 13: the lease row, present from the start with nobody holding it (PostgreSQL: its types translated). */
export const V13_LEADER = `
CREATE TABLE leader (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  holder TEXT NOT NULL,      -- the holding allocator's id for this run; '' for nobody
  url TEXT NOT NULL,         -- the URL it advertises to agents and standbys
  epoch INTEGER NOT NULL,    -- +1 at every takeover; fences the holder's writes
  expires_ms INTEGER NOT NULL -- the database clock's ms at which the lease runs out
) STRICT;
INSERT INTO leader (id, holder, url, epoch, expires_ms) VALUES (1, '', '', 0, 0);
`;
