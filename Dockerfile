# syntax=docker/dockerfile:1
# Switchboard gateway image: server (dist/) and dashboard built with dev dependencies in one stage; the runtime gets
# production dependencies and compiled output only (no TypeScript loader), runs as `node`, reports health via /health.
ARG NODE_IMAGE=node:22-bookworm-slim

# 1. Build: the server (tsc -> dist/) and the dashboard (web/dist), with dev dependencies (typescript, vite, preact).
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
COPY web ./web
RUN node scripts/build.mjs

# 2. Production dependencies only (install scripts run: protobufjs and baileys check themselves; `prepare` finds no
#    TypeScript here and skips the build, which stage 1 did).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/build.mjs ./scripts/build.mjs
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# 3. Runtime.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data
WORKDIR /app
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --chown=node:node package.json ./
COPY --chown=node:node bin ./bin
COPY --from=build --chown=node:node /app/dist ./dist
COPY --from=build --chown=node:node /app/web/dist ./web/dist
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 3000
VOLUME ["/data"]
# Liveness: the process answers. Orchestrators should use /ready (database reachable, migrations applied).
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
# The compiled server is PID 1 itself: no loader, no launcher in between, `docker stop` reaches it directly.
ENTRYPOINT ["node", "dist/src/main.js"]
CMD ["serve"]
