"""The collector side of the demo, done as an operator does it: the `collector` commands
themselves (`fleet enroll`, `fleet broker-config`, `run`), each a process of its own on
the demo's database and keys directory, each shown as it runs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from appliance.errors import ApplianceError
from protocol.errors import BadInput

COLLECTOR_ID = "demo-collector"
READY = "subscribed as "  # what `collector run` logs once it takes the devices' topics


class FleetError(ApplianceError):
    """A `collector` command the demo runs failed; the message names it and its log."""


class FleetInput(BadInput):
    """A `collector` command refused what the demo gave it (its one line)."""


@dataclass(frozen=True)
class Fleet:
    """The collector's database and keys under the demo's output directory `out`."""

    out: Path

    @property
    def db(self) -> str:
        return f"sqlite:///{self.out / 'collector.db'}"

    @property
    def keys(self) -> Path:
        return self.out / "collector.keys"

    def argv(self, command: str, *args: str | Path) -> list[str]:
        """`collector COMMAND --db … --keys … ARGS` (the database and keys always given, so
        COLLECTOR_KEYS in the environment does not send the demo's secrets elsewhere)."""
        db = ["--db", self.db, "--keys", str(self.keys)]
        return ["collector", *command.split(), *db, *map(str, args)]

    def shown(self, argv: list[str]) -> str:
        """The command as a person would type it here (paths under the working directory
        made relative)."""
        text = " ".join(argv)
        with contextlib.suppress(ValueError):
            text = text.replace(str(self.out), str(self.out.relative_to(Path.cwd())))
        return text

    def command(self, command: str, *args: str | Path) -> str:
        """Run `collector COMMAND ARGS` to its end; its stdout. Its refusal (exit 2) is ours."""
        argv = self.argv(command, *args)
        print(f"  $ {self.shown(argv)}", flush=True)
        done = subprocess.run(
            [sys.executable, "-m", *argv], capture_output=True, text=True, timeout=120
        )
        line = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        if done.returncode == 2:
            raise FleetInput(line[0])
        if done.returncode != 0:
            raise FleetError(f"collector {command} failed: {line[0]}")
        return done.stdout

    def enroll(self, device: str, store: str) -> Path:
        """Enrol `device` in `store`; the directory of the files to install on the unit."""
        files = self.out / device
        self.command("fleet enroll", device, "--store", store, "--out", files)
        return files

    def broker_config(self, port: int, out: Path) -> Path:
        """The broker's directory `out`, written for a TLS listener on `port`."""
        self.command("fleet broker-config", "--port", str(port), "--out", out)
        return out / "mosquitto.conf"


class CollectorRun:
    """`collector run` as a process, its JSON log in `log_file`: `async with` waits until it
    has subscribed, and stops it with SIGTERM as systemd would."""

    def __init__(self, fleet: Fleet, broker_url: str, tls: Path | None, log_file: Path) -> None:
        args: list[str | Path] = ["--broker", broker_url, "--id", COLLECTOR_ID]
        if tls is not None:  # broker-config's directory: its CA and the collector's own
            args += ["--tls-ca", tls / "ca.crt", "--tls-cert", tls / "collector.crt"]
            args += ["--tls-key", tls / "collector.key"]
        self.argv = fleet.argv("run", *args)
        self.shown = fleet.shown(self.argv)
        self.log_file = log_file
        self.returncode: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    async def __aenter__(self) -> CollectorRun:
        print(f"  $ {self.shown}", flush=True)
        env = dict(os.environ, COLLECTOR_LOG_LEVEL="INFO", PYTHONUNBUFFERED="1")
        with self.log_file.open("ab") as log_out:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", *self.argv], stderr=log_out, stdout=log_out, env=env
            )
        try:
            await self._subscribed(60.0)
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _subscribed(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self._logged(READY):
                return
            if self._proc is not None and self._proc.poll() is not None:
                raise FleetError(
                    f"collector run exited with code {self._proc.returncode}; "
                    f"its log: {self.log_file}"
                )
            await asyncio.sleep(0.05)
        raise FleetError(f"collector run did not subscribe within {timeout} s: {self.log_file}")

    def _logged(self, prefix: str) -> bool:
        for line in self.log_file.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError, AttributeError):  # not one of its JSON lines
                if str(json.loads(line).get("msg", "")).startswith(prefix):
                    return True
        return False

    async def stop(self) -> None:
        """SIGTERM, and its exit code in `returncode` (killed after 30 s: not 0)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(proc.wait, 30)
        except subprocess.TimeoutExpired:
            proc.kill()
            await asyncio.to_thread(proc.wait, 10)
        self.returncode = proc.returncode
