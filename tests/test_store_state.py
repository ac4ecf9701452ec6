"""DeviceState: TinyDB documents in a file that a crash mid-write cannot corrupt."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from appliance.store import DeviceState, StoreError, StoreFileError
from protocol.errors import BadInput


def test_documents_round_trip_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with DeviceState(path) as state:
        assert state.get("device") == {}
        state.put("device", {"state": "online", "version": "0.1.0"})
        state.put("cards", {"00000001": {"issue": 2, "balance": 150}})
        state.put("device", {"state": "updating"})
        assert state.get("device") == {"state": "updating"}
    with DeviceState(path) as state:
        assert state.get("device") == {"state": "updating"}
        assert state.get("cards") == {"00000001": {"issue": 2, "balance": 150}}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_truncated_temp_file_from_a_crash_is_harmless(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with DeviceState(path) as state:
        state.put("device", {"state": "online"})
    # What a power cut halfway through the next write leaves beside the real file.
    good = path.read_bytes()
    (tmp_path / ".state.json.4242.deadbeef.tmp").write_bytes(good[: len(good) // 2])
    with DeviceState(path) as state:
        assert state.get("device") == {"state": "online"}
        state.put("device", {"state": "offline"})
    with DeviceState(path) as state:
        assert state.get("device") == {"state": "offline"}


def test_a_write_that_dies_before_the_rename_keeps_the_old_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.json"
    state = DeviceState(path)
    state.put("device", {"state": "online"})

    def power_cut(src: object, dst: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", power_cut)
    with pytest.raises(StoreError, match="cannot save the device state"):
        state.put("device", {"state": "offline"})
    monkeypatch.undo()
    assert json.loads(path.read_text())  # still whole JSON
    assert state.get("device") == {"state": "online"}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
    state.close()


@pytest.mark.parametrize(
    "content",
    [b'{"docs": {"1": {"name": "dev', b"[1, 2]", b'{"docs": 3}', b"\xff\xfe"],
    ids=["truncated", "list", "not-tables", "not-utf8"],
)
def test_a_corrupt_file_is_refused_untouched(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with pytest.raises(StoreFileError, match=r"state\.json") as info:
        DeviceState(path)
    assert isinstance(info.value, BadInput)
    assert path.read_bytes() == content


def test_a_document_that_is_not_json_is_refused(tmp_path: Path) -> None:
    with DeviceState(tmp_path / "state.json") as state:
        state.put("device", {"state": "online"})
        with pytest.raises(StoreError, match="not JSON data"):
            state.put("device", {"when": object()})
        assert state.get("device") == {"state": "online"}
