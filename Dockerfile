# The release tarball of scripts/release.sh on a slim Debian base.
#   scripts/release.sh
#   docker build --build-arg VERSION=0.1.0 --build-arg ARCH=x86_64 -t milvus-migration:0.1.0 .
#   docker run --rm -v "$PWD/work:/work" milvus-migration:0.1.0 plan -c /work/migration.yaml
# Not built here: no container engine runs on the machine this project is developed and tested on;
# scripts/release-check.sh runs the same tarball on a minimal Debian root with the same packages.
FROM debian:bookworm-slim

ARG VERSION=0.1.0
ARG ARCH=x86_64

# The run-time packages of RUNTIME.md (scripts/release.sh checks that this line names the same ones).
RUN apt-get update && apt-get install -y --no-install-recommends libc6 libgcc-s1 libstdc++6 zlib1g libxml2 libsqlite3-0 libmariadb3 ca-certificates && rm -rf /var/lib/apt/lists/*

# ADD unpacks a local tar.gz.
ADD dist/milvus-migration-${VERSION}-linux-${ARCH}.tar.gz /opt/
RUN ln -s /opt/milvus-migration-${VERSION}-linux-${ARCH}/bin/milvus-migration /usr/local/bin/milvus-migration \
    && milvus-migration --version

WORKDIR /work
ENTRYPOINT ["milvus-migration"]
CMD ["--help"]
