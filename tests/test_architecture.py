"""The layers, kept: the import contracts in pyproject.toml ([tool.importlinter]) hold, and
the check really fails when a forbidden import is added (to a copy of the tree)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("protocol", "appliance", "collector", "demo")
LOYALTY_LAYERS = "the collector's loyalty in layers"


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the packages under `root`, with its pyproject.toml."""
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "lint-imports"),
            "--config",
            str(root / "pyproject.toml"),
        ],
        cwd=root,
        # The copy's packages first: the editable install would find the checkout's.
        env={**os.environ, "PYTHONPATH": str(root), "PYTHONSAFEPATH": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )


def copy_tree(dest: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def test_every_import_contract_is_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # the protocol at the bottom imports neither side
        ("protocol/money.py", "import appliance.store", "protocol imports neither side"),
        # the unit never imports the collector, nor its libraries
        ("appliance/sales/till.py", "import collector.db", "the unit never imports the collector"),
        ("appliance/store/db.py", "import sqlalchemy", "the unit never imports the collector"),
        # the collector never imports the unit, nor its hardware libraries
        ("collector/reports.py", "import appliance.sales", "the collector never imports the unit"),
        ("collector/db.py", "import kivy", "the collector never imports the unit"),
        # in the unit, a lower layer never imports a higher one
        ("appliance/store/db.py", "import appliance.controller", "the unit in layers"),
        ("appliance/service.py", "import appliance.display.app", "the unit in layers"),
        ("appliance/mqtt/commands.py", "import appliance.controller", "the unit in layers"),
        ("appliance/sales/till.py", "import appliance.receipt.layout", "the unit in layers"),
        # and in the collector
        ("collector/stock.py", "import collector.service", "the collector in layers"),
        (
            "collector/loyalty/rules.py",
            "import collector.loyalty.book",
            "the collector's loyalty in layers",
        ),
        ("collector/customers/accounts.py", "import collector.loyalty", "the collector in layers"),
    ],
)
def test_a_forbidden_import_breaks_the_check(
    tmp_path: Path, module: str, line: str, broken: str
) -> None:
    tree = copy_tree(tmp_path)
    source = tree / module
    source.write_text(source.read_text() + f"\n{line}  # added by the test\n")
    result = lint_imports(tree)
    assert result.returncode != 0, result.stdout
    assert f"{broken} BROKEN" in result.stdout, result.stdout


def test_a_cycle_breaks_the_check(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    # collector.stock is imported by collector.ingest; importing it back is a cycle.
    source = tree / "collector" / "stock.py"
    source.write_text(source.read_text() + "\nimport collector.ingest  # added by the test\n")
    result = lint_imports(tree)
    assert result.returncode != 0, result.stdout
    assert "no cycles among siblings BROKEN" in result.stdout, result.stdout
    assert "- .stock -> .ingest" in result.stdout or "- .ingest -> .stock" in result.stdout
