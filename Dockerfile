# syntax=docker/dockerfile:1
# Andante's image. The build stage runs the README's install and build (pnpm 12.4.2, frozen lockfile,
# tsc -b); `pnpm deploy --prod` then copies the server package, the workspace packages it imports and
# their production dependencies only (no TypeScript, vitest or test peers) into /out, which is all the
# runtime stage takes. Node 24: the active LTS (Node 20 reached its end of life in April 2026).
#   docker build -t andante:0.1.0 .
#   docker run --rm -p 3200:3200 -p 4317:4317 -p 4318:4318 andante:0.1.0 -target=all

ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
RUN npm i -g -E pnpm@12.4.2
# The lockfile alone fetches every dependency into pnpm's store, so this layer survives source edits.
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
RUN pnpm fetch
COPY . .
RUN pnpm install --offline --frozen-lockfile && pnpm build
# --legacy: copy the workspace packages as they are (with their dist/) instead of requiring
# inject-workspace-packages in the workspace settings.
RUN pnpm --filter=@andante/server deploy --prod --legacy /out && chmod +x /out/dist/bin.js

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
# A fixed non-root UID/GID (the chart's securityContext runs as 10001 and gives it /var/tempo via fsGroup).
RUN groupadd --system --gid 10001 andante \
 && useradd --system --uid 10001 --gid andante --home-dir /var/tempo --shell /usr/sbin/nologin andante \
 && mkdir -p /var/tempo \
 && chown andante:andante /var/tempo
COPY --from=build /out /opt/andante
RUN ln -s /opt/andante/dist/bin.js /usr/local/bin/andante
# The WAL, local blocks and the generator's WAL live under /var/tempo (the chart mounts a volume
# there); the defaults without a config file (./data/...) land there too.
WORKDIR /var/tempo
USER 10001:10001
# HTTP API and /metrics, internal gRPC, OTLP gRPC, OTLP HTTP.
EXPOSE 3200 9095 4317 4318
ENTRYPOINT ["andante"]
CMD ["-target=all"]
