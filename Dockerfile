# The one Tessera image, run as the allocator and as the agent (helm/tessera uses it for both):
#   docker build -t ghcr.io/tessera/tessera:0.1.0 .
#   docker run --rm ghcr.io/tessera/tessera:0.1.0 --version
# The image runs the compiled JavaScript (`npm run build`, into dist/), never the TypeScript sources:
# it holds dist/ (the generated wire code and the web console included), bin/tessera.js, which runs
# dist/cli/main.js where no sources sit beside it, and the production node_modules (no tsx, no
# TypeScript compiler).
# test/deploy/dockerfile.test.ts checks the properties below against the chart and builds the image
# where a docker engine runs.

# Stage 1: production dependencies. better-sqlite3 is a native addon: its install script downloads a
# prebuilt binary or, failing that (no network, a new Node ABI), compiles it with node-gyp, which
# needs python3, make and g++. They stay in this stage; only node_modules leaves it.
FROM node:20-bookworm-slim AS deps
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/tessera
COPY package.json package-lock.json ./
# The lockfile exactly, without devDependencies (tsx, typescript, vitest, biome, vite, playwright-core).
# --ignore-scripts skips our own `prepare` (the wire generation, which needs devDependencies: the
# stage below runs it); `npm rebuild` then runs the dependencies' install scripts (the addon).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm rebuild && npm cache clean --force

# Stage 2: the build. The devDependencies (typescript; buf and ts-proto for the wire code) and the
# sources; `npm run build` generates the wire's TypeScript from common/proto/tessera.proto, compiles
# everything and lays the files the program reads by path beside it. Only dist/ leaves this stage.
FROM node:20-bookworm-slim AS build
WORKDIR /opt/tessera
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs ./scripts/
COPY common ./common
COPY allocator ./allocator
COPY agent ./agent
COPY cli ./cli
COPY sim ./sim
COPY web ./web
RUN npm run build

# Stage 3: the runtime. Same base as stage 1, so the addon's ABI and glibc match; no toolchain.
FROM node:20-bookworm-slim AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="tessera" \
  org.opencontainers.image.description="Tessera GPU orchestration: the allocator (API, scheduler, SQLite state) and the node agent" \
  org.opencontainers.image.version="${VERSION}" \
  org.opencontainers.image.licenses="Apache-2.0" \
  org.opencontainers.image.source="https://github.com/tessera/tessera" \
  org.opencontainers.image.url="https://github.com/tessera/tessera" \
  org.opencontainers.image.base.name="docker.io/library/node:20-bookworm-slim"
# tini as PID 1 under `docker run`: it forwards signals and reaps orphans (the agent's pods are
# process groups it starts; an orphaned grandchild must not stay a zombie). Kubernetes runs
# `command: ["tessera"]` instead, and the agent's pod shares the host PID namespace there.
# The allocator's user: uid/gid 10001, as allocator.podSecurityContext in helm/tessera/values.yaml.
# The agent needs root (host GPU processes' /proc/PID/environ, its pods' process groups): the
# chart's agent.securityContext sets runAsUser 0, and `docker run --user 0` does the same.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/* \
  && groupadd --system --gid 10001 tessera \
  && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
    --shell /usr/sbin/nologin tessera \
  && install -d -o 10001 -g 10001 -m 0700 /var/lib/tessera
WORKDIR /opt/tessera
COPY --from=deps /opt/tessera/node_modules ./node_modules
# Owned by root and read-only to the allocator's user.
COPY package.json ./
COPY bin ./bin
COPY --from=build /opt/tessera/dist ./dist
RUN ln -s /opt/tessera/bin/tessera.js /usr/local/bin/tessera \
  && tessera --version
# The allocator's state (tessera.db, join-token, admin-token, allocator.json): the chart mounts its
# volume here and passes --data /var/lib/tessera; TESSERA_DATA lets the CLI inside the container
# (`kubectl exec ... tessera token create --node`) find the URL and admin token there.
ENV TESSERA_DATA=/var/lib/tessera
USER 10001:10001
# 7400: the allocator's API, console, /metrics and agents' websocket; 9400: the agent's
# --metrics-address listener.
EXPOSE 7400 9400
ENTRYPOINT ["/usr/bin/tini", "--", "tessera"]
CMD ["--help"]
