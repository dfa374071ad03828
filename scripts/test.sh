#!/bin/sh
# Quickstart, second command: install what the tests need and run the whole suite.
# Tests that need PostgreSQL, Redis or a browser are skipped, with the reason printed at the
# end, when the service is missing; WAA_REQUIRE_SERVICES=1 turns those skips into failures.
set -eu
cd "$(dirname "$0")/.."
. scripts/bootstrap.sh
echo "==> installing WAA-ADS with the test tools (uv sync --frozen)"
"$UV" sync --frozen --quiet
echo "==> running the test suite"
set +e
.venv/bin/python -m pytest -ra "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "no tests were collected" >&2
fi
exit "$status"
