# Sourced by the other scripts: makes sure `uv` is available, using only python3 and sh.
# uv comes from PyPI into .tools/ unless it is already on PATH; Python itself is never
# downloaded (the machine's python3, 3.11 or newer, is used).
set -eu
export UV_PYTHON_DOWNLOADS=never
export UV_PYTHON="${UV_PYTHON:-python3}"
if command -v uv >/dev/null 2>&1; then
    UV=uv
else
    if [ ! -x .tools/bin/uv ]; then
        echo "==> installing uv into .tools/"
        python3 -m venv .tools
        .tools/bin/python -m pip install --quiet --disable-pip-version-check "uv>=0.5,<1"
    fi
    UV="$PWD/.tools/bin/uv"
fi
python3 - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"WAA-ADS needs Python 3.11 or newer; python3 is {sys.version.split()[0]}")
PY
