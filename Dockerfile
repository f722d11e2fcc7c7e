# The stock worker image: the `workqueue` command with the example handlers compiled in, built
# with a static Swift standard library, plus the example plugins under /plugins.
#
#   docker build -t workqueue .
#   docker run --rm -e REDIS_URL=redis://redis:6379 workqueue work --queue job2 --handler printer
FROM swift:6.3-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libffi-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources Sources
COPY Examples Examples
# Package.swift names every target's folder, test targets included.
COPY Tests Tests
RUN swift build -c release --static-swift-stdlib --product workqueue \
    && swift build -c release --product PrinterPlugin \
    && swift build -c release --product FactorPlugin \
    && swift build -c release --product CPrinterPlugin \
    && mkdir -p /out/plugins \
    && cp "$(swift build -c release --show-bin-path)/workqueue" /out/ \
    && cp "$(swift build -c release --show-bin-path)"/lib*Plugin.so /out/plugins/

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libffi8 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 worker
COPY --from=build /out/workqueue /usr/local/bin/workqueue
COPY --from=build /out/plugins /plugins
RUN chmod 0755 /plugins && chmod 0644 /plugins/*.so
USER 10001
ENTRYPOINT ["/usr/local/bin/workqueue"]
CMD ["work"]
