# syntax=docker/dockerfile:1
# Weir: one image for every role (`up`, `collector`, `worker`, `ui`); the role is the command.
#   docker build -t weir:0.1.0 .
#   docker run -p 8080:8080 -v weir-data:/data weir:0.1.0            # all in one
#   docker run weir:0.1.0 worker --roles loader,lake                   # one role

# --- build: compile TypeScript, the tracker and the web UI, then drop the dev dependencies ---
FROM node:20-bookworm-slim AS build
# better-sqlite3 compiles from source when no prebuilt binary matches; node-gyp needs these.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the package's own `prepare` builds, which needs the sources copied below;
# the rebuild then runs the dependencies' install scripts (the native modules) only.
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm rebuild --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
COPY test ./test
COPY bench ./bench
COPY tracker ./tracker
COPY ui ./ui
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# --- runtime: only the build output, the production dependencies and package.json ---
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    WEIR_DATA_DIR=/data \
    WEIR_SERVER_PORT=8080
# A fixed uid/gid, so volumes and Kubernetes' runAsUser/fsGroup can name it.
RUN groupadd --system --gid 10001 weir \
 && useradd --system --uid 10001 --gid weir --home-dir /app --shell /usr/sbin/nologin weir \
 && mkdir -p /data \
 && chown weir:weir /data
WORKDIR /app
COPY --from=build --chown=weir:weir /src/package.json ./package.json
COPY --from=build --chown=weir:weir /src/node_modules ./node_modules
COPY --from=build --chown=weir:weir /src/dist ./dist
USER 10001:10001
EXPOSE 8080
VOLUME /data
# Slim images have no curl: node asks /healthz itself.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.WEIR_SERVER_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Weir drains on SIGTERM (server.drainTimeoutMs); give `docker stop -t` more than that.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["up"]
