/** What every action is: a named step of the cycle that works on the session through a statement. */
import type { ActionName } from '../plan.ts';
import type { Session } from '../session.ts';
import type { Statement } from '../statement.ts';

/** One step of a scheduling cycle. */
export interface Action {
  readonly name: ActionName;
  run(session: Session, statement: Statement): void;
}
