#!/bin/sh
# Installs this directory's npm packages (package-lock.json, exactly) into node_modules/,
# unless the installed tree already matches the lock file. ctest runs it before the Node tests.
set -eu
cd "$(dirname "$0")"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "install.sh: $tool not found; install Debian's nodejs and npm (scripts/bootstrap.sh)" >&2
    exit 1
  fi
done

stamp=node_modules/.conveyor-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -e node_modules/.bin/buf ]; then
  echo "install.sh: node_modules matches package-lock.json"
  exit 0
fi

# --ignore-scripts: nothing here needs an install script (buf ships its binary as an optional
# platform package), and it keeps npm 9 (Debian) and npm 11 behaving alike.
npm ci --no-audit --no-fund --ignore-scripts
echo "$want" > "$stamp"
