"""A real Mosquitto for tests, on a free port, with the config each test needs.

Started as a child process; `restart()` keeps its persistence (queued QoS 1 messages and
persistent sessions survive, as on a real broker). With `CI` set a missing mosquitto
fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mosquitto_binary() -> str:
    path = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None
    )
    if path is None:
        # `make test` installs it (make sysdeps): missing, the test fails, it is never skipped.
        pytest.fail("mosquitto is not installed: run `make test` (it installs it with apt)")
    return path


class Broker:
    """One Mosquitto process. `url` is what the appliance and collector connect to. Given
    `conf`, it runs that file as it is (one `collector fleet broker-config` wrote, listening
    on `port`), its log beside the test's others."""

    def __init__(
        self, extra_conf: str = "", port: int | None = None, conf: Path | None = None
    ) -> None:
        self.binary = mosquitto_binary()
        self.port = port or free_port()
        # Mosquitto started as root drops to the `mosquitto` user: its directory (and
        # every one above it) must be reachable by that user, so not under pytest's 0700 tmp.
        self.dir = Path(tempfile.mkdtemp(prefix="pos-mosquitto-"))
        os.chmod(self.dir, 0o777)
        self.proc: subprocess.Popen[bytes] | None = None
        if conf is not None:
            self.conf = conf
            self.start()
            return
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.dir}/\n"
            "autosave_interval 1\n"
            "max_queued_messages 0\n"
            # Not 0 ("no maximum"): with it Mosquitto 2.0.11 ignores the collector's MQTT 5
            # Receive Maximum (its log shows six PUBLISHes on one PUBACK with 20 allowed).
            "max_inflight_messages 1024\n"
            # Without it Mosquitto holds its own small packets (a PUBACK, the collector's
            # ack) for the peer's delayed ACK: ~40 ms on every ack, measured in bench/.
            "set_tcp_nodelay true\n"
            "log_dest stderr\n"
            "log_type error\nlog_type warning\n"
            f"{extra_conf}\n"
        )
        self.start()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = open(self.dir / "mosquitto.log", "ab")  # noqa: SIM115 - lives with the process
        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {(self.dir / 'mosquitto.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("mosquitto did not start listening")

    def stop(self, kill: bool = False) -> None:
        if self.proc is not None and self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def reload(self) -> None:
        """SIGHUP: Mosquitto reads its ACL and CRL again (its connections stay)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)

    def log(self) -> str:
        return (self.dir / "mosquitto.log").read_text(errors="replace")

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop(kill=True)
        shutil.rmtree(self.dir, ignore_errors=True)
