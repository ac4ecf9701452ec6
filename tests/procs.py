"""Processes seen through /proc (Linux): the children of a process, and whether one runs.
Used by the tests and the bench that watch the collector's ingest worker."""

from __future__ import annotations

from pathlib import Path


def _stat(pid_dir: Path) -> list[str]:
    """The fields of /proc/PID/stat after the command name (which may hold spaces)."""
    return (pid_dir / "stat").read_text().rsplit(")", 1)[1].split()


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if int(_stat(proc)[1]) == pid:
                found.append(int(proc.name))
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile, or not a process directory
    return found


def running(pid: int) -> bool:
    """Whether `pid` is alive (a zombie, exited but not reaped, is not)."""
    try:
        return _stat(Path(f"/proc/{pid}"))[0] != "Z"
    except (OSError, IndexError):
        return False
