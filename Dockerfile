# miniback's image: a static binary FROM scratch. It builds without pulling
# anything: the binary, the CA certificates and the time-zone database come
# from the build context, which .ci/image prepares (CGO_ENABLED=0 go build,
# the host's CA bundle, Go's zoneinfo.zip). For a build with network
# access that compiles inside a container, see deploy/Dockerfile.multistage.
#
#   bash .ci/image            # builds dist/image/ and the image with buildah
#   docker build -t miniback . # after .ci/image prepared dist/image/
FROM scratch

COPY dist/image/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY dist/image/zoneinfo.zip /usr/share/zoneinfo.zip
COPY --chown=65532:65532 dist/image/data/ /data/
COPY dist/image/miniback /miniback

# Go reads time zones from this file when the system has none.
ENV ZONEINFO=/usr/share/zoneinfo.zip \
    MINIBACK_LISTEN=:8080 \
    MINIBACK_DATA_DIR=/data

# Not root: an unprivileged uid/gid that owns only /data.
USER 65532:65532
VOLUME ["/data"]
EXPOSE 8080 9090
ENTRYPOINT ["/miniback"]
CMD ["serve"]
