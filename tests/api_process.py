"""A real `collector api` process on a free port, for the tests that talk HTTP to it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT


@dataclass(frozen=True)
class ApiProcess:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def collector_api(database_url: str, tmp: Path) -> Iterator[ApiProcess]:
    """`collector api --db database_url` until the block ends (its stderr in tmp/api.log);
    yielded once it accepts connections."""
    port = free_port()
    log = tmp / "api.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "collector", "api", "--db", database_url, "--port", str(port)],
        cwd=ROOT,
        stderr=log.open("ab"),
        env=dict(os.environ, COLLECTOR_MASTER_KEY_FILE=str(tmp / "master.key")),
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
                time.sleep(0.1)
        yield ApiProcess(proc, port, log)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
