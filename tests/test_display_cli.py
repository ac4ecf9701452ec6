"""`appliance display snapshot` and `appliance run` with a screen that cannot open, as
real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

from tests.conftest import ROOT, config_text, run_cli

SCENARIO = "\n".join(
    [
        '{"op":"login","staff":"ana"}',
        '{"op":"scan","code":"3760123450010"}',
        '{"op":"key","sku":"D4","qty":2}',
        '{"op":"discount","percent":10}',
    ]
)


def dark_share(image: Image.Image) -> float:
    grey = image.convert("L")
    hist = grey.histogram()
    return sum(hist[:80]) / (grey.width * grey.height)


def test_snapshot_renders_the_customer_screen_at_the_configured_size(
    till_config: Path, tmp_path: Path
) -> None:
    cfg = tmp_path / "big.toml"
    data = till_config.parent / "data"
    cfg.write_text(config_text(data, '[display]\nwidth = 1920\nheight = 1080\nlocale = "fr_FR"\n'))
    scenario = tmp_path / "s.jsonl"
    scenario.write_text(SCENARIO)
    out = tmp_path / "customer.png"
    env_display = os.environ.pop("DISPLAY", None)  # the command starts its own Xvfb
    try:
        r = run_cli(
            "display", "snapshot", "--config", str(cfg), "--screen", "customer",
            "--scenario", str(scenario), "--out", str(out),
        )  # fmt: skip
    finally:
        if env_display is not None:
            os.environ["DISPLAY"] = env_display
    assert r.returncode == 0, r.stderr
    image = Image.open(out)
    assert image.size == (1920, 1080)
    # The footer carries "Total 12,80 €" in 44 px × 2.25 type: much dark ink on grey there.
    footer = image.crop((960, 830, 1900, 1060))
    assert dark_share(footer) > 0.04
    # A plain screen would have none: the top banner is blue with white text.
    banner = image.crop((40, 30, 1880, 100)).convert("RGB")
    red, _green, blue = banner.resize((1, 1)).getpixel((0, 0))
    assert blue > red + 40
    # The scenario ran on a scratch copy: the till's own journal has no sale.
    r = run_cli("journal", "export", "--config", str(cfg))
    assert r.returncode == 2 or r.stdout == ""


def test_snapshot_of_a_panel_mounted_on_its_side_with_the_shops_logo(
    till_config: Path, tmp_path: Path
) -> None:
    """`rotation = 90`: the customer display lays out for 480×800 and turns it onto the
    800×480 panel (the banner a strip down the left edge, not across the top); between
    customers it shows `logo`, which turns with it (a wide logo stands tall)."""
    logo = tmp_path / "logo.png"
    Image.new("RGB", (400, 200), (220, 30, 30)).save(logo)
    cfg = tmp_path / "side.toml"
    data = till_config.parent / "data"
    cfg.write_text(
        config_text(data, f'[display]\nrotation = 90\nlocale = "fr_FR"\nlogo = "{logo}"\n')
    )
    scenario = tmp_path / "s.jsonl"
    scenario.write_text(SCENARIO)
    shots = {}
    env_display = os.environ.pop("DISPLAY", None)
    try:
        for name, extra in (("idle", []), ("sale", ["--scenario", str(scenario)])):
            shots[name] = tmp_path / f"{name}.png"
            r = run_cli(
                "display", "snapshot", "--config", str(cfg), "--screen", "customer",
                *extra, "--out", str(shots[name]),
            )  # fmt: skip
            assert r.returncode == 0, r.stderr
    finally:
        if env_display is not None:
            os.environ["DISPLAY"] = env_display
    idle = Image.open(shots["idle"]).convert("RGB")
    assert idle.size == (800, 480)
    red = [
        (x, y)
        for x in range(0, 800, 2)
        for y in range(0, 480, 2)
        if (p := idle.getpixel((x, y)))[0] > 180 and p[1] < 80 and p[2] < 80
    ]
    assert len(red) > 1000, "the logo is on the idle screen"
    xs, ys = [x for x, _ in red], [y for _, y in red]
    assert max(ys) - min(ys) > 1.5 * (max(xs) - min(xs)), "the 2:1 logo turned upright"
    sale = Image.open(shots["sale"]).convert("RGB")

    def blue(box: tuple[int, int, int, int]) -> bool:
        r_, _g, b_ = sale.crop(box).resize((1, 1)).getpixel((0, 0))
        return bool(b_ > r_ + 40)

    assert blue((8, 60, 28, 420)), "the banner runs down the left edge"
    assert not blue((100, 4, 700, 28)), "and not across the top"


def test_snapshot_refuses_bad_input(till_config: Path, tmp_path: Path) -> None:
    r = run_cli(
        "display", "snapshot", "--config", str(till_config), "--screen", "lobby",
        "--out", str(tmp_path / "x.png"),
    )  # fmt: skip
    assert r.returncode == 2 and "lobby" in r.stderr and "Traceback" not in r.stderr
    r = run_cli(
        "display", "snapshot", "--config", str(till_config), "--screen", "till",
        "--scenario", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "x.png"),
    )  # fmt: skip
    assert r.returncode == 2 and "nope.jsonl" in r.stderr
    assert not (tmp_path / "x.png").exists()


def _free_display() -> str:
    n = 900
    while Path(f"/tmp/.X11-unix/X{n}").exists() or Path(f"/tmp/.X{n}-lock").exists():
        n += 1
    return f":{n}"


def test_run_keeps_selling_headless_when_the_screen_cannot_open(till_config: Path) -> None:
    env = dict(os.environ, DISPLAY=_free_display(), PYTHONUNBUFFERED="1")
    env.pop("WAYLAND_DISPLAY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "appliance", "run", "--simulate", "--config", str(till_config)],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[dict[str, object]] = []
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            if line.startswith("{"):
                seen.append(json.loads(line))
            if any(e["msg"] == "display.failed" for e in seen):
                break
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    msgs = [e["msg"] for e in seen]
    assert "ready" in msgs and "display.failed" in msgs
    failed = next(e for e in seen if e["msg"] == "display.failed")
    assert "headless" in str(failed["event"])
    assert proc.returncode == 0
    assert '"stopping"' in rest


def test_run_with_a_screen_shows_the_till(till_config: Path) -> None:
    """`appliance run` with `[display] enabled` (the default) and an X server: the command
    line hands the screens to the service, and the till's window is drawn on that X
    screen (read back from the server, not from the process)."""
    from PIL import ImageGrab

    from appliance.display.xvfb import Xvfb

    x = Xvfb(1024, 600)  # `make test` installs Xvfb: missing, this fails, never skips
    env = dict(os.environ, DISPLAY=x.display, PYTHONUNBUFFERED="1")
    env.pop("WAYLAND_DISPLAY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "appliance", "run", "--simulate", "--config", str(till_config)],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # up to "ready": the unit is open, the screens starting
            if line.startswith("{") and json.loads(line)["msg"] == "ready":
                break
        paper = lamps = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (paper > 100_000 and lamps > 5_000):
            time.sleep(0.2)
            assert proc.poll() is None, "the service died"
            screen = ImageGrab.grab(xdisplay=x.display).convert("RGB")
            colours = screen.getcolors(maxcolors=1 << 20) or []
            # PAPER (0.97, 0.97, 0.95) behind the login panel; GO green of the lamps
            paper = sum(n for n, c in colours if c == (247, 247, 242))
            lamps = sum(n for n, c in colours if c == (31, 140, 64))
        assert paper > 100_000 and lamps > 5_000, (paper, lamps)
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
        x.close()
    assert proc.returncode == 0
    assert "display.failed" not in rest and '"stopping"' in rest
