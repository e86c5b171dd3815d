# syntax=docker/dockerfile:1
# Switchboard gateway image: the dashboard is built with dev dependencies in one stage, the runtime gets
# production dependencies only, runs as the unprivileged `node` user and reports health through /health.
ARG NODE_IMAGE=node:20-bookworm-slim

# 1. Dashboard (web/dist) — needs vite and preact (dev dependencies).
FROM ${NODE_IMAGE} AS web
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY web ./web
RUN node node_modules/vite/bin/vite.js build web --logLevel warn

# 2. Production dependencies only (install scripts run: esbuild for tsx, protobufjs for baileys).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY web/postinstall.mjs ./web/postinstall.mjs
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
COPY --chown=node:node src ./src
COPY --from=web --chown=node:node /app/web/dist ./web/dist
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 3000
VOLUME ["/data"]
# Liveness: the process answers. Orchestrators should use /ready (database reachable, migrations applied).
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "--import", "tsx", "src/main.ts"]
CMD ["serve"]
