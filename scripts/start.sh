#!/bin/sh
# Quickstart, first command: install, prepare the embedded database and demo content, serve.
# Embedded defaults: a SQLite file and local blobs under ./var, tasks run in-process.
set -eu
cd "$(dirname "$0")/.."
. scripts/bootstrap.sh
echo "==> installing WAA-ADS (uv sync --frozen --no-dev)"
"$UV" sync --frozen --no-dev --quiet
export WAA_LOG_JSON="${WAA_LOG_JSON:-false}"
echo "==> upgrading the database schema and loading the demo content"
.venv/bin/waa-ads db upgrade
.venv/bin/waa-ads demo --url "http://${WAA_HOST:-127.0.0.1}:${WAA_PORT:-8000}"
exec .venv/bin/waa-ads serve --no-migrate --host "${WAA_HOST:-127.0.0.1}" --port "${WAA_PORT:-8000}" "$@"
