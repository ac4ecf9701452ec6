"""A private X server (Xvfb) for snapshots, tests and the bench when there is no screen."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from types import TracebackType

from appliance.display import DisplayError


class Xvfb:
    """`Xvfb` on a display number it picks itself (`-displayfd`), stopped on close.

    The size is the virtual screen's; Kivy's window can be any size within it.
    """

    def __init__(self, width: int = 1920, height: int = 1080, depth: int = 24) -> None:
        exe = shutil.which("Xvfb")
        if exe is None:
            raise DisplayError(
                "Xvfb is not installed; install it (apt-get install xvfb, or `make sysdeps`)"
            )
        read, write = os.pipe()
        # A file, not a pipe: Xvfb's warnings must never fill a buffer and stall it.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as Xvfb)
        try:
            self.proc = subprocess.Popen(
                [
                    exe,
                    "-displayfd",
                    str(write),
                    "-screen",
                    "0",
                    f"{width}x{height}x{depth}",
                    "-nolisten",
                    "tcp",
                    "-noreset",
                ],
                pass_fds=(write,),
                stdout=subprocess.DEVNULL,
                stderr=self._log,
            )
        finally:
            os.close(write)
        with os.fdopen(read, "rb") as pipe:
            number = pipe.readline().strip()
        if not number.isdigit():
            self.proc.kill()
            self.proc.wait()
            self._log.seek(0)
            err = self._log.read()[-300:]
            self._log.close()
            raise DisplayError(f"Xvfb did not start: {err.decode(errors='replace').strip()}")
        self.display = f":{number.decode()}"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def __enter__(self) -> Xvfb:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
