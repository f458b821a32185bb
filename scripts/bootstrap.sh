#!/usr/bin/env bash
# Installs the Debian 12 packages Conveyor builds, tests and runs with.
# Idempotent: packages already present are skipped quickly.
set -euo pipefail
PACKAGES=(
  cmake ninja-build g++ pkg-config ccache
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libspdlog-dev libgtest-dev libgmock-dev libsqlite3-dev
  libcli11-dev nlohmann-json3-dev prometheus-cpp-dev libcpp-httplib-dev
  libjemalloc-dev libssl-dev openssl python3-grpcio python3-grpc-tools docker-compose
  clang libclang-rt-14-dev llvm-14  # scripts/sanitize.sh: sanitizers, libFuzzer, llvm-symbolizer
)
# tests/interop needs Node.js and npm; take Debian's unless some are present.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then PACKAGES+=(nodejs npm); fi
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "bootstrap: installing ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
