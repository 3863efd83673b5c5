# syntax=docker/dockerfile:1
# Production image: build with the committed .sqlx metadata (no database needed), run as a
# non-root user on a slim Debian base.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
ENV SQLX_OFFLINE=true CARGO_TERM_COLOR=never
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin fox && cp target/release/fox /usr/local/bin/fox

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /app --shell /usr/sbin/nologin fox
WORKDIR /app
COPY --from=build /usr/local/bin/fox /usr/local/bin/fox
COPY config ./config
COPY static ./static
COPY content ./content
RUN mkdir -p /app/var/storage /app/var/spool /app/var/work && chown -R fox:fox /app/var
USER fox
ENV FOX_ENV=production FOX__SERVER__HOST=0.0.0.0 FOX__SERVER__PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/fox"]
CMD ["serve"]
