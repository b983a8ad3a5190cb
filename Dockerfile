# The zeroloss services image (docker-compose.yml, profile `services`).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY patches ./patches
COPY packages ./packages
COPY services ./services
# tsc -b builds packages and services (npm run build also type-checks test/, not copied here).
RUN npm ci --no-audit --no-fund && npx tsc -b && npm prune --omit=dev

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app ./
USER node
