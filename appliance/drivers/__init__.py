"""Device drivers: one swap point per device (drawer, scanner, printer), each with its twin."""

import os
import tempfile
from pathlib import Path


def _escpos_cache() -> str:
    # python-escpos parses its capabilities JSON through YAML at import (slow and heavy:
    # docs/benchmarks.md) unless it finds the pickle it made last time, and it makes a
    # new temporary directory per process for that pickle. Give it one lasting, private
    # place: systemd's CacheDirectory=, else the user's cache.
    base = os.environ.get("CACHE_DIRECTORY") or os.environ.get("XDG_CACHE_HOME")
    root = Path(base) if base else Path.home() / ".cache"
    path = root / "appliance" if not os.environ.get("CACHE_DIRECTORY") else root
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return str(path)
    except OSError:
        fallback = Path(tempfile.gettempdir()) / f"appliance-cache-{os.getuid()}"
        fallback.mkdir(exist_ok=True, mode=0o700)
        return str(fallback)


os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", _escpos_cache())
