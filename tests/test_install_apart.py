"""The unit and the collector install apart: the unit's dependency group into a fresh venv
imports every module of `appliance` with no SQLAlchemy, psycopg or FastAPI present, and
the collector's group every module of `collector` with no Kivy, gpiozero, python-escpos
or pyusb present. From a wheel of this checkout, as a Pi image or a server gets it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Imports every module of PACKAGE (not __main__, which runs the command line) and prints
# what failed; then which of the ABSENT distributions' modules can be found at all.
PROBE = """
import importlib, importlib.util, pkgutil, sys
package, absent = sys.argv[1], sys.argv[2].split(",")
root = importlib.import_module(package)
failed = []
for mod in pkgutil.walk_packages(root.__path__, package + "."):
    if mod.name.rsplit(".", 1)[-1] == "__main__":
        continue
    try:
        importlib.import_module(mod.name)
    except Exception as e:
        failed.append(f"{mod.name}: {e!r}")
print("FAILED", failed)
print("PRESENT", [n for n in absent if importlib.util.find_spec(n) is not None])
print("LOADED", sorted({k.split(".")[0] for k in sys.modules} & set(absent)))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy: setuptools builds in the source tree, and leaves build/ there.
    source = tmp_path_factory.mktemp("source")
    for name in ("protocol", "appliance", "collector", "demo"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (found,) = out.glob("pos_appliance-*.whl")
    return found


def install(where: Path, requirement: str) -> Path:
    """A fresh venv at `where` with `requirement` pip-installed; its python."""
    venv.create(where, with_pip=True)
    python = where / "bin" / "python"
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", requirement],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return python


def probe(python: Path, package: str, absent: list[str]) -> dict[str, str]:
    done = subprocess.run(
        [str(python), "-c", PROBE, package, ",".join(absent)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=python.parent,  # not the checkout: its folders would shadow the install
        env={"PATH": "/usr/bin:/bin", "HOME": str(python.parent.parent), "KIVY_NO_ARGS": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in done.stdout.splitlines()}


@pytest.mark.slow
def test_the_unit_installs_without_the_collectors_libraries(wheel: Path, tmp_path: Path) -> None:
    python = install(tmp_path / "unit", f"{wheel}[unit]")
    absent = ["sqlalchemy", "psycopg", "fastapi", "uvicorn", "alembic"]
    seen = probe(python, "appliance", absent)
    assert seen == {"FAILED": "[]", "PRESENT": "[]", "LOADED": "[]"}
    # Its command line works, and the demo (which runs a collector) says what is missing.
    cli = python.parent / "appliance"
    assert subprocess.run([str(cli), "--help"], capture_output=True, timeout=60).returncode == 0
    demo = subprocess.run(
        [str(cli), "demo", "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert demo.returncode == 2 and "install pos-appliance[demo]" in demo.stderr


@pytest.mark.slow
def test_the_collector_installs_without_the_units_libraries(wheel: Path, tmp_path: Path) -> None:
    python = install(tmp_path / "collector", f"{wheel}[collector]")
    absent = ["kivy", "gpiozero", "escpos", "usb", "serial", "PIL", "tinydb", "sdnotify"]
    seen = probe(python, "collector", absent)
    assert seen == {"FAILED": "[]", "PRESENT": "[]", "LOADED": "[]"}
    cli = python.parent / "collector"
    assert subprocess.run([str(cli), "--help"], capture_output=True, timeout=60).returncode == 0
