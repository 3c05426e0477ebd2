/**
 * A standby's answer to an agent: the link's upgrade is authenticated as the leader would (so an
 * unauthenticated peer learns nothing), then the websocket is closed at once with `notLeader` and
 * the leader's URL as the reason (common/leader-close.ts). The agent dials that URL next. A standby
 * holds no agent session: only the leader may speak for the store's nodes and pods.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { leaderCloseReason } from '../../common/leader-close.ts';
import type { Logger } from '../../common/log.ts';
import { WS_CLOSE, WS_OPTIONS } from '../../common/wire.ts';
import type { TokenStore } from '../identity/tokens.ts';
import { admitAgent, isAgentUpgrade } from '../link/admit.ts';

/** What the door needs. */
export interface StandbyDoorOptions {
  tokens: TokenStore;
  /** The leader's advertised URL now, or null while none holds the lease. */
  leaderUrl(): string | null;
  log: Logger;
}

/** Refuses agents' links on `server` while attached; returns the function that detaches it. */
export function attachStandbyDoor(server: Server, options: StandbyDoorOptions): () => void {
  const wss = new WebSocketServer({ noServer: true, ...WS_OPTIONS });
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (!isAgentUpgrade(req) || !admitAgent(req, socket, options.tokens).admitted) return;
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => {});
      const leader = options.leaderUrl();
      options.log.debug('agent sent to the leader', { leader: leader ?? '' });
      ws.close(WS_CLOSE.notLeader, leaderCloseReason(leader));
    });
  };
  server.on('upgrade', onUpgrade);
  return () => {
    server.off('upgrade', onUpgrade);
    for (const ws of wss.clients) ws.terminate();
    wss.close();
  };
}
