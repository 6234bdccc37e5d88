# The sluice image: the standalone binary on distroless/cc (glibc, CA certificates, a nonroot
# user; no shell, no package manager), about 25 MB plus the binary. Build it from a release binary:
#
#   bun run release
#   podman build -t sluice --build-arg BINARY=dist/release/sluice-0.1.0-linux-x64 .
#   podman run --rm --env-file sluice.env sluice run image
#
# (docker build works the same way; for arm64 give BINARY the linux-arm64 file and --platform
# linux/arm64.) BASE can name another glibc base, e.g. a mirror of distroless in your registry.
ARG BASE=gcr.io/distroless/cc-debian12:nonroot
FROM ${BASE}
ARG BINARY=dist/sluice
COPY --chmod=0755 ${BINARY} /usr/local/bin/sluice
# distroless's nonroot user, in its home: blobs go to ./.sluice/blobs there unless SLUICE_BLOB_DIR
# names a mounted volume (the Kubernetes example mounts /data).
USER 65532:65532
WORKDIR /home/nonroot
ENTRYPOINT ["/usr/local/bin/sluice"]
CMD ["--help"]
