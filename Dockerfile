# syntax=docker/dockerfile:1
# The Synapse image: `synapse worker` and `synapse gateway` (docker-compose.yml runs two workers
# and a gateway from it). Multi-stage: the build stage has the compilers better-sqlite3 needs
# and builds the CLI (dist/); the runtime stage has Node, Python for Python plugins, the
# installed packages and the sources (plugins are imported from source),
# and runs as the unprivileged user `synapse`. Base images are pinned to exact tags.
# Checked without Docker by tools/deploy-check (BuildKit's parser and linter, test/unit/deploy-files.test.ts).

# NODE_IMAGE the Node base image of both stages, pinned to an exact release
ARG NODE_IMAGE=node:20.19.5-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# The CLI is built with esbuild, then dev dependencies (linters, test tools) are pruned; esbuild
# itself is a dependency: the worker bundles plugin hosts with it at run time.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 synapse \
 && useradd --system --uid 10001 --gid synapse --home-dir /data --shell /usr/sbin/nologin synapse \
 && mkdir -p /data \
 && chown synapse:synapse /data
WORKDIR /app
COPY --from=build --chown=root:root /app /app
ENV NODE_ENV=production \
    SYNAPSE_DATA_DIR=/data \
    SYNAPSE_ROLE=worker
VOLUME ["/data"]
USER synapse:synapse
EXPOSE 8080
# Gateway: GET /healthz answers; worker: the Temporal frontend is reachable and PID 1 is the worker.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 CMD ["node", "/app/deploy/healthcheck.mjs"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/bin/synapse.mjs"]
CMD ["worker"]
