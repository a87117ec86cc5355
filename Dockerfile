# syntax=docker/dockerfile:1
# cyoa in a container: built in rust:slim, run from debian:stable-slim as a
# non-root user. No Docker engine runs where cyoa is tested, so this file is
# linted (hadolint, scripts/lint-deploy.sh) but not built there.
#
#   docker build -t cyoa .
#   docker run -p 8080:8080 cyoa
#   docker compose up        # two instances, Redis and nginx: compose.yaml

FROM rust:1-slim AS build
WORKDIR /src
COPY . .
# Cargo's downloads and build directory stay in BuildKit caches between
# builds, so that a source change does not rebuild every dependency. Cargo
# reads the whole workspace, but builds (and downloads for) the server
# alone: the load generator (load/) stays out of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p cyoa --bin cyoa \
    && cp target/release/cyoa /usr/local/bin/cyoa

FROM debian:stable-slim
# curl for the health check. Its version is not pinned: stable-slim's
# security updates are what we want.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 cyoa \
    && useradd --system --uid 10001 --gid cyoa --home-dir /app --shell /usr/sbin/nologin cyoa \
    && mkdir -p /app/.local/share/cyoa \
    && chown -R 10001:10001 /app/.local
WORKDIR /app
COPY --from=build /usr/local/bin/cyoa /usr/local/bin/cyoa
COPY static/ /app/static/
COPY stories/ /app/stories/
# By number, so that runtimes that check for a non-root user can tell.
USER 10001:10001
# Without --redis-url, runs and votes are kept in a data file here (the
# default path for HOME=/app); mount a volume to keep it past the container.
VOLUME /app/.local/share/cyoa
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD ["curl", "-fsS", "http://127.0.0.1:8080/healthz"]
CMD ["cyoa", "serve", "--bind", "0.0.0.0:8080"]
