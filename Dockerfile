# Pigeon: one image for the API (default command), the worker and the one-shot migrate.
#   docker build -t pigeon .
#   docker run ... pigeon                                       # the API
#   docker run ... pigeon node --import tsx src/worker.ts       # the worker
#   docker run ... pigeon npm run migrate                       # migrations (as pigeon_owner)
# TypeScript runs through tsx (a runtime dependency), so there is no build step.
FROM node:20-bookworm-slim

ENV NODE_ENV=production
WORKDIR /app

# Dependencies first, so a source change does not reinstall them.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# Owned by root, readable by the process: the app never writes under /app.
COPY . .

USER node
EXPOSE 3000
# What `npm run start:api` runs, without npm in between: on `docker stop`, npm (PID 1)
# exits on SIGTERM without passing it on through its `sh -c`, so the server would be
# killed instead of draining. Node as PID 1 gets the signal and shuts down gracefully.
CMD ["node", "--import", "tsx", "src/server.ts"]
