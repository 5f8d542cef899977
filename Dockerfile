# Multi-stage build: compile with the Rust toolchain, run on a small Debian base as a
# non-root numeric user. No secret enters any layer: the API key and Git credentials are
# mounted as files at run time (see deploy/).

FROM rust:1.95-bookworm AS build
WORKDIR /src
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends pkg-config libssl-dev \
    && rm -rf /var/lib/apt/lists/*
COPY Cargo.toml Cargo.lock build.rs ./
COPY crates ./crates
COPY src ./src
COPY examples ./examples
COPY tests ./tests
# `--version` names this commit (the context has no .git):
# docker build --build-arg IMMUTA_GITOPS_COMMIT="$(git rev-parse HEAD)" .
ARG IMMUTA_GITOPS_COMMIT=unknown
# Without the `emulator` feature: the image carries no emulator, demo or fault machinery.
RUN cargo build --release --locked --no-default-features --bin immuta-gitops \
    && cp target/release/immuta-gitops /usr/local/bin/immuta-gitops

FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/immuta-gitops /usr/local/bin/immuta-gitops
USER 10001:10001
ENV IMMUTA_GITOPS_CACHE_DIR=/var/cache/immuta-gitops \
    IMMUTA_GITOPS_STATE_DIR=/var/lib/immuta-gitops \
    IMMUTA_GITOPS_LISTEN=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["immuta-gitops"]
CMD ["run"]
