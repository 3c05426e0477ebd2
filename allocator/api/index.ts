/**
 * allocator/api: the HTTP API (docs/architecture.md §7) on fastify. `buildApi` returns an unstarted
 * instance (tests drive it with `inject`, the allocator calls `listen`). errors.ts holds the one
 * error shape, views.ts the wire shapes, and one routes file per resource family.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { type DefaultsOf, type WithDefaults, withDefaults } from '../../common/options.ts';
import type { ServerTls } from '../../common/tls-files.ts';
import type { TokenStore } from '../identity/tokens.ts';
import type { History } from '../service/history.ts';
import type { Db } from '../store/db.ts';
import { enforcePermissions, metricsReader, requireUserToken } from './auth.ts';
import { registerConsole } from './console-route.ts';
import type { ApiContext, ChangeReason, ServingView } from './context.ts';
import { handleError, installErrorHandlers, MAX_BODY_BYTES } from './errors.ts';
import { registerHealth } from './health.ts';
import { registerHistoryRoutes } from './history-routes.ts';
import { type InfoSources, registerInfoRoutes } from './info-routes.ts';
import { type ApiMetrics, registerMetricsRoute } from './metrics-route.ts';
import { type DisconnectNode, registerNodeResetRoute } from './node-reset-route.ts';
import { registerNodeRoutes } from './node-routes.ts';
import { registerOrgRoutes } from './org-routes.ts';
import { registerPolicyRoutes } from './policy-routes.ts';
import { DebugRequestLog, installRequestIdHeader } from './request-log.ts';
import { registerSecretRoutes } from './secret-routes.ts';
import { registerTokenRoutes } from './token-routes.ts';
import { registerUserRoutes } from './user-routes.ts';
import { registerWorkloadRoutes } from './workload-routes.ts';

export type { ApiContext, ChangeReason, ServingView } from './context.ts';
export { ApiError } from './errors.ts';

/** The API's dependencies. */
export interface ApiOptions {
  db: Db;
  /** Clock in ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /**
   * Called after every committed write that may change a scheduling decision (submit, stop, run,
   * delete, quota, pool and node changes). Default: nothing. It runs after the commit, so a throw
   * here fails the response but never undoes the write.
   */
  onChange?: (reason: ChangeReason) => void;
  /**
   * Where request logs and 500s' stacks go: the allocator's pino (common/log.ts `Logger.pino`).
   * Default none: nothing is logged (unit tests of the routes).
   */
  logger?: FastifyBaseLogger;
  /**
   * Where tokens live. Given, `/api/v1` requires a user token, every route checks the caller's
   * access rules (permissions.ts), and the token, user and access-rule routes exist; omitted (unit
   * tests of the routes), the API is open to anyone and has none of those routes.
   */
  tokens?: TokenStore;
  /**
   * With `tokens`: closes a node's agent session once `POST /nodes/:name/reset` revoked its
   * credentials (the link's `disconnect`). Default: nothing to close (no link).
   */
  disconnectNode?: DisconnectNode;
  /** Live sources of explain, logs and top (info-routes.ts); default none. */
  info?: InfoSources;
  /** The usage history behind `/history/...` (history-routes.ts); default none: those routes answer 503. */
  history?: History;
  /** Given, every request is timed into it and `GET /metrics` serves its registry; default none. */
  metrics?: ApiMetrics;
  /** Serve the web console at `/` (console-route.ts); default off, the allocator turns it on. */
  console?: boolean;
  /** With `tokens`: `/metrics` needs a user token that may read the cluster's nodes. Default off. */
  metricsAuth?: boolean;
  /**
   * The serving path's view of workloads: the allocator's external base URL (a served workload's
   * `url`) and the replicas an autoscaled one wants now. Default none: views have no `url`.
   */
  serving?: ServingView;
  /** Registers the serving proxy (`/serve/...`) on the root instance. Default none. */
  serveProxy?: (app: FastifyInstance) => void;
  /** Serve HTTPS (and so the agents' websocket as WSS) with this PEM certificate and key. Default plain HTTP. */
  tls?: ServerTls;
}

/** The defaults of `ApiOptions`, as its fields document them (the optional services have none). */
const API_DEFAULTS = {
  now: Date.now,
  onChange: () => {},
  disconnectNode: () => false,
  console: false,
  metricsAuth: false,
} as const satisfies DefaultsOf<ApiOptions>;

/** `ApiOptions` complete: every default filled in; logger, tokens, info, metrics and tls stay optional. */
export type ResolvedApiOptions = WithDefaults<ApiOptions, typeof API_DEFAULTS>;

/** Fills in every default of `options`: done once, where the API is built. */
export function resolveApiOptions(options: ApiOptions): ResolvedApiOptions {
  return withDefaults(options, API_DEFAULTS);
}

/** The prefix every resource route lives under. */
export const API_PREFIX = '/api/v1';

/** Builds the API on a fresh fastify instance; nothing listens until the caller says so. */
export function buildApi(given: ApiOptions): FastifyInstance {
  const options = resolveApiOptions(given);
  const base = {
    ...(options.logger === undefined ? { logger: false } : { loggerInstance: options.logger }),
    logController: new DebugRequestLog(),
    // A URL fastify cannot route (a bad percent escape, an overlong parameter) answers in our shape too.
    frameworkErrors: handleError,
    bodyLimit: MAX_BODY_BYTES,
  };
  // fastify types an HTTPS instance apart, but an https.Server hands routes the same request and
  // response objects and emits the same 'upgrade' the agents' websocket needs: one type serves both.
  const app =
    options.tls === undefined
      ? Fastify(base)
      : (Fastify({
          ...base,
          https: { cert: options.tls.cert, key: options.tls.key },
        }) as unknown as FastifyInstance);
  const ctx: ApiContext = {
    db: options.db,
    now: options.now,
    changed: options.onChange,
    ...(options.serving === undefined ? {} : { serving: options.serving }),
  };
  installErrorHandlers(app);
  installRequestIdHeader(app);
  // Before any route, so the request timing hook covers every one of them.
  options.metrics?.instrument(app);
  registerHealth(app, ctx.db);
  if (options.metrics !== undefined) {
    const check =
      options.metricsAuth && options.tokens !== undefined
        ? metricsReader(options.tokens, ctx.db, ctx.now)
        : undefined;
    registerMetricsRoute(app, options.metrics.registry, check);
  }
  if (options.console) registerConsole(app);
  options.serveProxy?.(app);
  app.register(
    async (api) => {
      // Scoped to /api/v1 only, so the probes above stay open without a token.
      api.decorateRequest('caller', null);
      if (options.tokens !== undefined) {
        requireUserToken(api, options.tokens, ctx.db, ctx.now);
        enforcePermissions(api, ctx.db, options.tokens);
        registerTokenRoutes(api, ctx, options.tokens);
        registerUserRoutes(api, ctx, options.tokens);
        registerNodeResetRoute(api, ctx, options.tokens, options.disconnectNode);
      }
      registerOrgRoutes(api, ctx);
      registerNodeRoutes(api, ctx);
      registerWorkloadRoutes(api, ctx);
      registerInfoRoutes(api, ctx, options.info);
      registerPolicyRoutes(api, ctx);
      registerSecretRoutes(api, ctx);
      registerHistoryRoutes(api, ctx, options.history);
    },
    { prefix: API_PREFIX },
  );
  return app;
}
