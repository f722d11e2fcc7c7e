# The stock worker image: the `workqueue` command with the example handlers compiled in, built
# with a static Swift standard library, plus the example plugins under /plugins.
#
#   docker build -t workqueue .
#   docker run --rm -e REDIS_URL=redis://redis:6379 workqueue work --queue job2 --handler printer
#
# Build arguments (all optional):
#   SWIFT_IMAGE    the toolchain image of the `build` stage            (swift:6.3-bookworm)
#   RUNTIME_IMAGE  the base of the final image, a Debian bookworm      (debian:bookworm-slim)
#   BUILD_STAGE    where the binaries come from: `build` compiles them in SWIFT_IMAGE;
#                  `prebuilt` copies them from the build context's folder prebuilt/
#                  (prebuilt/workqueue, built with --static-swift-stdlib, and prebuilt/plugins/*.so,
#                  stripped)
#
# Offline, with no registry (what scripts/image-test does, with a base made by mmdebstrap):
#   buildah bud --build-arg BUILD_STAGE=prebuilt --build-arg RUNTIME_IMAGE=localhost/workqueue-base:bookworm \
#       -f Dockerfile -t workqueue:latest CONTEXT        # CONTEXT holds prebuilt/
ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim
ARG BUILD_STAGE=build

FROM ${SWIFT_IMAGE} AS build
# DL3008 (pin apt versions) is ignored here and below: the Debian release of the base image
# (bookworm) fixes the versions, and the archive keeps only the current version of a package,
# so an exact pin would break the build at the next security update instead of taking it.
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends libffi-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources Sources
COPY Examples Examples
# Package.swift names every target's folder, test targets included.
COPY Tests Tests
# Stripped: the debug info is more than half of each file (49 -> 22 MB for workqueue, 32 -> 13 MB
# for a Swift plugin). The C plugin is compiled with cc: SwiftPM links every dynamic product with
# swiftc, whose swiftrt.o makes even a C library need libswiftCore.so, absent from this image.
RUN swift build -c release --static-swift-stdlib --product workqueue \
    && swift build -c release --product PrinterPlugin \
    && swift build -c release --product FactorPlugin \
    && mkdir -p /out/plugins \
    && cp "$(swift build -c release --show-bin-path)/workqueue" /out/ \
    && cp "$(swift build -c release --show-bin-path)"/lib*Plugin.so /out/plugins/ \
    && cc -shared -fPIC -O2 -I Sources/CWorkQueuePlugin/include -I Examples/CPlugin/include \
        Examples/CPlugin/cplugin.c -o /out/plugins/libCPrinterPlugin.so \
    && strip /out/workqueue /out/plugins/*.so

# The same /out, built outside (scripts/image-test): no toolchain image is needed.
FROM scratch AS prebuilt
COPY prebuilt/ /out/

FROM ${BUILD_STAGE} AS artifacts

FROM ${RUNTIME_IMAGE}
# libffi8 (the plugin loader's calls) and ca-certificates (rediss://), unless the base already
# has them (a base made offline with mmdebstrap --include=libffi8,ca-certificates).
# hadolint ignore=DL3008
RUN if [ "$(dpkg-query -W -f='${db:Status-Status} ' libffi8 ca-certificates 2>/dev/null)" != "installed installed " ]; then \
        apt-get update && apt-get install -y --no-install-recommends libffi8 ca-certificates \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin worker
COPY --from=artifacts /out/workqueue /usr/local/bin/workqueue
COPY --from=artifacts /out/plugins /plugins
RUN chmod 0755 /usr/local/bin/workqueue /plugins && chmod 0644 /plugins/*.so
USER 10001
ENTRYPOINT ["/usr/local/bin/workqueue"]
CMD ["work"]
