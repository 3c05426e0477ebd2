/** The stores the leader lease tests run on: pairs of connections to one database, as two allocators hold. */
import type { Db } from '../../../allocator/store/db.ts';
import { openTemp, tempDir } from './helpers.ts';

/** A backend: its name and a way to open two connections to one fresh database. */
export interface LeaseBackend {
  name: string;
  pair(): Promise<[Db, Db]>;
}

/** SQLite: two connections to one file in a temp dir. */
const sqlite: LeaseBackend = {
  name: 'sqlite',
  pair: async () => {
    const dir = tempDir();
    return [openTemp(dir), openTemp(dir)];
  },
};

/** Every backend available here. */
export function storeBackends(): LeaseBackend[] {
  return [sqlite];
}
