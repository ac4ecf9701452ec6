"""The demo's broker: Mosquitto run from the configuration `collector fleet broker-config`
wrote (TLS, a fleet certificate required, the ACL, the CRL), else amqtt in process.

Mosquitto is what the fleet runs, and `make demo` installs it (`make sysdeps`); amqtt is
the contract's fallback for a machine without it. amqtt 0.12 cannot take the username
from a client certificate or keep a device to its topics, so with it the demo runs on
plain MQTT and says so: only the collector's signatures and enrolment hold then. It
speaks MQTT 3.1.1 only and ignores `$share/` subscriptions, so the unit and the collector
take their 3.1.1 fallbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import ssl
import subprocess
from pathlib import Path
from typing import Any

from appliance.errors import ApplianceError

log = logging.getLogger("demo.broker")
HOST = "127.0.0.1"
SYSTEM_MOSQUITTO = "/usr/sbin/mosquitto"  # Debian's; not on a non-root user's PATH


class BrokerError(ApplianceError):
    """The demo's broker could not start."""


def free_port() -> int:
    """A port nobody listens on now: never the system Mosquitto's 1883."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def mosquitto_binary() -> str | None:
    """Mosquitto from PATH, else Debian's; None when there is none, or when
    APPLIANCE_DEMO_BROKER=amqtt asks for the fallback (tests run it so)."""
    if os.environ.get("APPLIANCE_DEMO_BROKER", "") == "amqtt":
        return None
    found = shutil.which("mosquitto")
    if found is None and os.access(SYSTEM_MOSQUITTO, os.X_OK):
        found = SYSTEM_MOSQUITTO
    return found


async def _listening(port: int, proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BrokerError(f"mosquitto exited with code {proc.returncode}")
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection(HOST, port)
            writer.close()
            return
        await asyncio.sleep(0.02)
    raise BrokerError(f"the broker did not listen on port {port} within {timeout} s")


class FleetMosquitto:
    """`mosquitto -c CONF`, the file `collector fleet broker-config` wrote, run as it is
    (as root it drops to the `mosquitto` user itself); its log goes to `log_file`."""

    kind = "mosquitto"
    tls = True

    def __init__(self, binary: str, conf: Path, port: int, log_file: Path) -> None:
        self.binary, self.conf, self.port, self.log_file = binary, conf, port, log_file
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtts://{HOST}:{self.port}"

    async def __aenter__(self) -> FleetMosquitto:
        with self.log_file.open("ab") as log_out:
            self._proc = subprocess.Popen(
                [self.binary, "-c", str(self.conf)], stdout=log_out, stderr=log_out
            )
        try:
            await _listening(self.port, self._proc, 10.0)
        except BrokerError as e:
            await self.stop()
            raise BrokerError(f"{e}; its log: {self.log_file}") from e
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            await asyncio.to_thread(self._proc.wait, 10)
            self._proc = None


class InProcessAmqtt:
    """amqtt on plain MQTT in this process, anyone welcome: the fallback without Mosquitto."""

    kind = "amqtt"
    tls = False

    def __init__(self) -> None:
        self.port = free_port()
        self._amqtt: Any = None

    @property
    def url(self) -> str:
        return f"mqtt://{HOST}:{self.port}"

    async def __aenter__(self) -> InProcessAmqtt:
        try:
            from amqtt.broker import Broker
        except ImportError as e:
            raise BrokerError(
                "neither mosquitto nor amqtt is installed: `apt-get install mosquitto` "
                "or install the project with its demo extra"
            ) from e
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{HOST}:{self.port}"}},
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
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        if self._amqtt is None:
            return
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


def _connect_packet(client_id: str) -> bytes:
    """An MQTT 3.1.1 CONNECT (clean session, keepalive 30, no username) for `client_id`."""
    cid = client_id.encode()
    body = b"\x00\x04MQTT\x04\x02\x00\x1e" + len(cid).to_bytes(2, "big") + cid
    return bytes([0x10, len(body)]) + body  # a remaining length under 128 is one byte


async def outsider_refused(port: int, tls: ssl.SSLContext | None) -> str | None:
    """How the broker refused an MQTT CONNECT from a client without a fleet certificate,
    or None when it took it (a CONNACK with code 0: the broker lets strangers in)."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port, ssl=tls), 10)
    except ssl.SSLError as e:
        return f"TLS handshake refused ({e.reason or e})"
    except OSError as e:
        return f"connection refused ({e.strerror or e})"
    try:
        writer.write(_connect_packet("outsider"))
        await writer.drain()
        answer = await asyncio.wait_for(reader.readexactly(4), 10)
    except ssl.SSLError as e:
        return f"TLS refused ({e.reason or e})"
    except OSError as e:
        return f"connection dropped ({e.strerror or e})"
    except asyncio.IncompleteReadError:
        return "connection closed without a CONNACK"
    except TimeoutError:
        return "no answer to CONNECT in 10 s"
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    if answer[:2] != b"\x20\x02":
        return f"answered {answer!r}, not a CONNACK"
    return f"CONNACK refused with code {answer[3]}" if answer[3] else None


class _CancelledConnectionNoise(logging.Filter):
    """Python 3.11's asyncio streams log a cancelled connection handler as an error
    ("Exception in callback ... CancelledError"; 3.12 checks `task.cancelled()`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, asyncio.CancelledError)


logging.getLogger("asyncio").addFilter(_CancelledConnectionNoise())
