/**
 * allocator/serve: the serving path (docs/architecture.md, "Serving"). This file wires it into the
 * allocator: the proxy routes and websocket upgrades on the API's server, the scaler, and the tick
 * that lets every autoscaled inference workload's autoscaler decide once a second. balancer.ts
 * picks replicas, load-meter.ts measures, autoscaler.ts decides (pure), scaler.ts remembers,
 * endpoints.ts says where replicas listen, access.ts who may call.
 */
import type { FastifyInstance } from 'fastify';
import type { TokenStore } from '../identity/tokens.ts';
import type { Db } from '../store/db.ts';
import { listWorkloads } from '../store/workloads.ts';
import { storeEndpoints } from './endpoints.ts';
import { registerServeProxy, type ServeProxyOptions } from './proxy-route.ts';
import { ServeScaler } from './scaler.ts';
import { attachServeUpgrades } from './ws-upgrade.ts';

/** How often a request waiting for a ready replica looks again. */
const POLL_MS = 100;

/** What `startServing` needs from the allocator. */
export interface ServingDeps {
  db: Db;
  tokens: TokenStore | undefined;
  now: () => number;
  /** The allocator's serving options, defaults filled in (AllocatorOptions documents each). */
  options: {
    allowPublicServing: boolean;
    coldStartTimeoutMs: number;
    autoscaleStabilisationMs: number;
    autoscaleWindowMs: number;
    autoscaleTickMs: number;
  };
  requestCycle: () => void;
  /** False on a standby: it forwards served requests to the leader, so its meter sees none to scale by. */
  leading: () => boolean;
}

/** The running serving path. */
export interface Serving {
  scaler: ServeScaler;
  /** Registers the proxy on the API's root instance (and its server's websocket upgrades). */
  register(app: FastifyInstance): void;
  /** Decides every autoscaled workload now; true when a wanted count changed (and a cycle was asked for). */
  tick(): boolean;
  close(): void;
}

/** Builds the serving path and starts its autoscaling tick. */
export function startServing(deps: ServingDeps): Serving {
  const { db, options } = deps;
  const scaler = new ServeScaler({
    stabilisationMs: options.autoscaleStabilisationMs,
    windowMs: options.autoscaleWindowMs,
  });
  const endpoints = storeEndpoints(db);
  const proxy: ServeProxyOptions = {
    access: { db, tokens: deps.tokens, now: deps.now, allowPublic: options.allowPublicServing },
    endpoints,
    scaler,
    requestCycle: deps.requestCycle,
    coldStartTimeoutMs: options.coldStartTimeoutMs,
    pollMs: POLL_MS,
  };
  let detach: () => void = () => {};
  const tick = (): boolean => {
    if (!deps.leading()) return false;
    const autoscaled = listWorkloads(db, {
      type: 'inference',
      phases: ['Pending', 'Initializing', 'Running', 'Degraded'],
    }).flatMap((w) =>
      w.spec.autoscaling === undefined
        ? []
        : [
            {
              id: w.id,
              autoscaling: w.spec.autoscaling,
              replicas: w.spec.replicas,
              ready: endpoints.ready(w.project, w.name).length,
            },
          ],
    );
    const changed = scaler.tick(autoscaled, deps.now());
    if (changed) deps.requestCycle();
    return changed;
  };
  const timer = setInterval(tick, options.autoscaleTickMs);
  timer.unref();
  return {
    scaler,
    register(app) {
      registerServeProxy(app, proxy);
      detach = attachServeUpgrades(app.server, proxy);
    },
    tick,
    close() {
      clearInterval(timer);
      detach();
    },
  };
}
