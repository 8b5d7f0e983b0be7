# One image for every entry point: `controller` (default), `worker`, and the operator CLI.
# Runs as a non-root user and needs no writable root filesystem.

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
# The image's own Node 24 compiles; the pinned `node` devDependency is for machines without it.
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json

FROM node:24-bookworm-slim AS production-dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

FROM node:24-bookworm-slim
# Memory and GC: two malloc arenas instead of one per thread, and (in the entry point: V8 flags
# that NODE_OPTIONS does not accept) 8 MiB semi-spaces instead of V8's up to 64 MiB on a large node,
# a 20% old-generation growth step, and a 96 MiB first old-generation limit, without which V8 marks
# a small heap without a break. `npm run bench -- backup` and `-- ingest` run our processes the same
# way (bench/tools/image-runtime.ts, where the figures are).
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps \
    MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=production-dependencies /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
# 65532 is the conventional "nonroot" uid; the image writes nothing outside /tmp (an emptyDir in the chart).
USER 65532:65532
ENTRYPOINT ["node", "--max-semi-space-size=8", "--heap-growing-percent=20", "--initial-old-space-size=96", "/app/dist/cli/main.js"]
CMD ["controller"]
