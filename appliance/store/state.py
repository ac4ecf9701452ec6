"""DeviceState: small, rarely changing documents (device state, card cache) in TinyDB."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from tinydb import Query, TinyDB
from tinydb.storages import Storage

from appliance.store.errors import StoreError, StoreFileError
from appliance.store.files import write_atomic


class AtomicJSONStorage(Storage):
    """TinyDB storage that replaces its JSON file atomically on every write.

    TinyDB's own JSONStorage truncates and rewrites the file in place, so a power cut
    mid-write leaves it empty or half written. Here each write goes to a fresh temp file
    that is fsynced and renamed over the old one (then the directory is fsynced): the
    file always holds either the previous state or the new one, never a mix.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def read(self) -> dict[str, dict[str, Any]] | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot read the device state: {exc.strerror}") from exc
        if not raw.strip():
            return None
        try:
            data = json.loads(raw.decode("utf-8"))
        except ValueError as exc:
            raise StoreFileError(
                f"{self.path}: the device state is not valid JSON ({exc}); it was left "
                "untouched: move it aside to start with an empty state"
            ) from exc
        if not isinstance(data, dict) or not all(isinstance(t, dict) for t in data.values()):
            raise StoreFileError(
                f"{self.path}: the device state is not a TinyDB file (expected an object of "
                "tables); it was left untouched: move it aside to start with an empty state"
            )
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        try:
            payload = json.dumps(data, ensure_ascii=False, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise StoreError(f"{self.path}: device state is not JSON data: {exc}") from exc
        try:
            write_atomic(self.path, payload, mode=0o600)
        except OSError as exc:
            raise StoreError(
                f"{self.path}: cannot save the device state: {exc.strerror}; "
                f"check free space and permissions in {self.path.parent}"
            ) from exc

    def close(self) -> None:
        pass


class DeviceState:
    """Named JSON documents in one small file (e.g. `state.json` in the data directory).

    For device state and caches only, never the journal: each put rewrites the whole
    file. One writing process per file: a concurrent writer's update can be lost (never
    half written).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{self.path.parent}: cannot create it: {exc.strerror}") from exc
        self._db = TinyDB(self.path, storage=AtomicJSONStorage)
        # No query cache: get() must see what another process wrote.
        self._docs = self._db.table("docs", cache_size=0)
        # Read now, so a corrupt file is refused at start rather than at first use.
        self._db.storage.read()

    def get(self, name: str) -> dict[str, Any]:
        """The document called `name`, or {} when there is none."""
        found = self._docs.get(Query().name == name)
        if found is None:
            return {}
        doc = found.get("doc")
        return dict(doc) if isinstance(doc, dict) else {}

    def put(self, name: str, doc: Mapping[str, Any]) -> None:
        """Replace the document called `name` (saved before this returns)."""
        self._docs.upsert({"name": name, "doc": dict(doc)}, Query().name == name)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> DeviceState:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
