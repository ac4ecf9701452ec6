"""The JSON log format of both services: one object per line on stderr (journald keeps
it as is; tools can parse it)."""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

from protocol.timestamps import utc_stamp


class JsonLogFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "msg", …}` with a record's `extra` fields and `exc`."""

    _skip = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message"}

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": utc_stamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update({k: v for k, v in record.__dict__.items() if k not in self._skip})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def setup_logging(level: str = "INFO", env: str = "APPLIANCE_LOG_LEVEL") -> None:
    """JSON lines on stderr at `level`, or at what the environment variable `env` says."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get(env, level))
