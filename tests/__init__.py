"""WAA-ADS's tests: fixtures in ``conftest.py``, shared helpers in ``tests/support``.

Imported before anything else of the tests, so that the bytecode setting below covers
the app's modules and every process the tests start (servers, workers, the CLI).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# A run started with PYTHONDONTWRITEBYTECODE (as on a shared checkout) compiles every
# module again in every process, seconds per process start. Compiled modules go to one
# cache outside the source tree instead, so the checkout still gets no __pycache__.
if os.environ.get("PYTHONDONTWRITEBYTECODE") and not os.environ.get("PYTHONPYCACHEPREFIX"):
    _cache = Path(__file__).resolve().parent.parent / ".pytest_cache" / "pycache"
    os.environ["PYTHONPYCACHEPREFIX"] = str(_cache)
    del os.environ["PYTHONDONTWRITEBYTECODE"]
    sys.pycache_prefix = str(_cache)
    sys.dont_write_bytecode = False
