"""A broker for the demo on a fresh machine: Mosquitto from PATH, else amqtt in process.

Production units talk to the fleet's Mosquitto; this exists so `make demo` runs with
nothing else installed. amqtt 0.12 speaks MQTT 3.1.1 only and ignores `$share/`
subscriptions, so with it the unit and the collector take their 3.1.1 fallbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from appliance.errors import ApplianceError

log = logging.getLogger("demo.broker")


class BrokerError(ApplianceError):
    """The embedded broker could not start."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _listening(port: int, proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BrokerError(f"mosquitto exited with code {proc.returncode}")
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.02)
    raise BrokerError(f"the broker did not listen on port {port} within {timeout} s")


class EmbeddedBroker:
    """`async with EmbeddedBroker() as broker:` then connect to `broker.url`."""

    def __init__(self, prefer: str | None = None) -> None:
        # APPLIANCE_DEMO_BROKER=amqtt forces the pure-Python broker (tests use it).
        choice = prefer or os.environ.get("APPLIANCE_DEMO_BROKER", "")
        self.kind = "amqtt" if choice == "amqtt" or not shutil.which("mosquitto") else "mosquitto"
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None
        self._amqtt: Any = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    async def __aenter__(self) -> EmbeddedBroker:
        if self.kind == "mosquitto":
            await self._start_mosquitto()
        else:
            await self._start_amqtt()
        log.info("broker up", extra={"kind": self.kind, "url": self.url})
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _start_mosquitto(self) -> None:
        # No persistence: nothing to write, so the user Mosquitto drops to needs no directory.
        self._dir = Path(tempfile.mkdtemp(prefix="pos-demo-broker-"))
        self._dir.chmod(0o755)
        conf = self._dir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "max_queued_messages 0\nlog_dest none\n"
            # Not 0: Mosquitto 2.0.11 then ignores the collector's Receive Maximum.
            "max_inflight_messages 1024\n"
            # Mosquitto otherwise holds small packets for the peer's delayed ACK.
            "set_tcp_nodelay true\n"
        )
        conf.chmod(0o644)
        self._proc = subprocess.Popen(
            [shutil.which("mosquitto") or "mosquitto", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await _listening(self.port, self._proc, 10.0)

    async def _start_amqtt(self) -> None:
        try:
            from amqtt.broker import Broker
        except ImportError as e:
            raise BrokerError(
                "neither mosquitto nor amqtt is installed: `apt-get install mosquitto` "
                "or install the project with its demo extra"
            ) from e
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        # amqtt logs every client's coming and going at INFO and its own hiccups loudly;
        # what matters to the demo is reported by the unit and the collector.
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        self._amqtt = Broker(config)
        await self._amqtt.start()  # listening once this returns (no probe: amqtt logs it)

    async def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            await asyncio.to_thread(self._proc.wait, 10)
            self._proc = None
        if self._amqtt is not None:
            with contextlib.suppress(Exception):  # amqtt may complain on a busy shutdown
                await self._amqtt.shutdown()
            self._amqtt = None
            # amqtt leaves the handlers of connections it never answered (MQTT 5 tries)
            # running; end them here rather than at loop close.
            current = asyncio.current_task()
            stray = [
                t for t in asyncio.all_tasks() if t is not current and "amqtt" in repr(t.get_coro())
            ]
            for t in stray:
                t.cancel()
            await asyncio.gather(*stray, return_exceptions=True)

        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


class _CancelledConnectionNoise(logging.Filter):
    """Python 3.11's asyncio streams log a cancelled connection handler as an error
    ("Exception in callback ... CancelledError"; 3.12 checks `task.cancelled()`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, asyncio.CancelledError)


logging.getLogger("asyncio").addFilter(_CancelledConnectionNoise())
