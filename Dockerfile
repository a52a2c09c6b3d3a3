# syntax=docker/dockerfile:1
#
# dkim-bot image.
#   docker build -t dkim-bot .
#   docker run -d --name dkim-bot --env-file .env -v dkim-data:/data -p 3000:3000 dkim-bot
#
# scripts/replay-image-build.sh replays these steps without Docker (npm ci, build, prune, then
# start the pruned install and ask /healthz); keep the two in step.

# Node.js 26 is the Active LTS line (since 2026-10-28). Pin the major; take its patches.
ARG NODE_IMAGE=node:26-trixie-slim

# --- build: compile TypeScript and the native module, then drop dev dependencies ------------
FROM ${NODE_IMAGE} AS build

# better-sqlite3 is a native addon. It is compiled here, against the headers that ship with
# this image's Node.js, rather than downloaded as a prebuilt binary from GitHub: the build then
# needs only the npm registry and Debian's packages. (npm 11 warns that it does not know
# "build-from-source": the variable is for better-sqlite3's prebuild-install, which reads it.)
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
ENV npm_config_build_from_source=better-sqlite3 \
    npm_config_nodedir=/usr/local \
    npm_config_audit=false \
    npm_config_fund=false \
    npm_config_update_notifier=false

WORKDIR /app
COPY package.json package-lock.json ./
# Install scripts run (better-sqlite3 is listed in package.json's allowScripts for npm 11).
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# Then drop the dev dependencies and better-sqlite3's sources and intermediate objects (about
# 25 MB; the addon itself is build/Release/better_sqlite3.node), and prove the addon loads.
RUN npm run build \
 && npm prune --omit=dev \
 && cd node_modules/better-sqlite3 \
 && rm -rf deps src build/deps build/Release/obj build/Release/obj.target \
      build/Release/.deps build/Release/sqlite3.a build/Release/test_extension.node \
 && cd /app \
 && node -e "new (require('better-sqlite3'))(':memory:').close()"

# --- runtime: production dependencies, the compiled code, a non-root user ------------------
FROM ${NODE_IMAGE} AS runtime

ENV NODE_ENV=production \
    DATA_DIR=/data \
    PORT=3000
WORKDIR /app
# The code stays owned by root, so the bot cannot change it; only /data is writable.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY manifest.yml ./manifest.yml
# The SQLite database and encryption.key live here. A new named volume takes this ownership.
RUN mkdir -p /data \
 && chown node:node /data \
 && chmod 0700 /data
VOLUME ["/data"]

USER node
EXPOSE 3000

# GET /healthz on PORT, asked with node itself (the slim image has no curl). HTTP mode only:
# in Socket Mode the bot serves no HTTP, so run that container with --no-healthcheck.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# node is PID 1 and gets SIGTERM from `docker stop` itself; the bot stops cleanly on it.
# An apply cut short stays `applying` and resumes from its last recorded step at the next start.
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
