# Conveyor: conveyord (coordinator), conveyor-worker and the conveyor CLI on Debian 12.
#   docker build -t conveyor:dev .          (podman here: podman build --network=host -t conveyor:dev .)
# One image for every role; the compose file picks the binary per service.

# ---- build: the -dev packages the three binaries need (scripts/bootstrap.sh minus test deps) ----
FROM debian:bookworm AS build
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      cmake ninja-build g++ pkg-config ccache \
      libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler \
      libabsl-dev libspdlog-dev libsqlite3-dev libcli11-dev nlohmann-json3-dev \
      prometheus-cpp-dev libcpp-httplib-dev libjemalloc-dev \
      libgtest-dev libgmock-dev \
 && rm -rf /var/lib/apt/lists/*
# (GTest: the top-level CMakeLists finds it unconditionally, even with tests skipped.)
# Parallel compile jobs (the build hosts here have 2 cores).
ARG BUILD_JOBS=2
WORKDIR /src
COPY . .
# The ccache cache mount keeps rebuilds after a source change short (BuildKit and podman/buildah).
RUN --mount=type=cache,target=/root/.cache/ccache \
    cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCONVEYOR_SKIP="tests;bench" \
      -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
 && cmake --build /build -j"$BUILD_JOBS" --target conveyord conveyor-worker conveyor \
 && mkdir -p /out \
 && cp /build/server/conveyord /build/worker/conveyor-worker /build/client/cli/conveyor /out/ \
 && strip /out/*

# ---- runtime: shared libraries only (from ldd of the three binaries), no compiler ----
FROM debian:bookworm
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libabsl20220623 libspdlog1.10 libsqlite3-0 \
      libprometheus-cpp-core1.0 libcpp-httplib0.11 libjemalloc2 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system conveyor \
 && useradd --system --gid conveyor --home-dir /data --no-create-home --shell /usr/sbin/nologin conveyor \
 && mkdir -p /data && chown conveyor:conveyor /data
COPY --from=build /out/ /usr/local/bin/
USER conveyor
WORKDIR /data
VOLUME /data
# gRPC (JobService, WorkerService, AdminService, health, reflection) and HTTP /metrics.
EXPOSE 7070 7071
# Containers reach the coordinator from other hosts: listen on every interface.
ENV CONVEYOR_LISTEN=0.0.0.0:7070 \
    CONVEYOR_METRICS_LISTEN=0.0.0.0:7071 \
    CONVEYOR_DATA_DIR=/data
CMD ["conveyord"]
