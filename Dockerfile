# A first working image: builds the TypeScript and runs the broker on 5672.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci --no-audit --no-fund
COPY spec ./spec
COPY src ./src
COPY test ./test
RUN npx tsc -p . && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production AMQP_BROKER_DATA_DIR=/var/lib/amqp-broker
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /var/lib/amqp-broker && chown node:node /var/lib/amqp-broker
VOLUME /var/lib/amqp-broker
EXPOSE 5672
USER node
CMD ["node", "dist/src/cli/main.js"]
