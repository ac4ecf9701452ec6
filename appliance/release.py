"""Signed update bundles: `appliance release build` and `appliance release verify`.

A bundle is one uncompressed tar file holding, in this order:

- `manifest.json`: `{"schema": 1, "kind": "appliance-release", "version", "commit",
  "created", "files": [{"path", "size", "sha256", "mode"}]}` in canonical JSON (sorted
  keys, compact, UTF-8), the files sorted by path;
- `manifest.sig`: the hex Ed25519 signature of `manifest.json`'s bytes;
- `files/<path>`: every file git tracks in the checkout, as committed.

The signature covers the manifest and the manifest covers every file by size and
SHA-256, so `verify` refuses a bundle with any byte changed, a file missing or added, a
path that would leave the install directory, a link or device, or another key's
signature. A build is reproducible: the same commit, version and key give the same
bytes (tar times are the commit's, owners are 0, Ed25519 signatures are deterministic).

Why by hand: RAUC, Mender and SWUpdate sign whole filesystem images or their own
archive formats and need their own tools on the unit; TUF (python-tuf) signs the
metadata of a repository of targets, which is the fleet side's job, not one bundle's.
What a unit needs here is a tar and one Ed25519 check, both in libraries we already
ship (tarfile, cryptography).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from appliance.store.files import write_atomic
from protocol import chain
from protocol.errors import BadInput

MANIFEST, SIGNATURE, FILES = "manifest.json", "manifest.sig", "files/"
KIND = "appliance-release"
VERSION = re.compile(r"^[0-9]+(\.[0-9]+){1,3}([-+][0-9A-Za-z.-]{1,40})?$")
MAX_MANIFEST = 4 * 1024 * 1024  # bytes: a manifest larger than this is no manifest of ours
MAX_TOTAL = 1024 * 1024 * 1024  # bytes of files a bundle may unpack to
_CHUNK = 1 << 16


class BundleRejected(Exception):
    """The bundle is not a good release signed by this key: the reason says where."""


@dataclass(frozen=True)
class Release:
    version: str
    commit: str
    files: int
    size: int


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _git(source: Path, *args: str) -> bytes:
    try:
        out = subprocess.run(
            ["git", "-C", str(source), *args], capture_output=True, check=True, timeout=60
        )
    except FileNotFoundError as exc:
        raise BadInput("git is not installed: a release is built from a git checkout") from exc
    except subprocess.CalledProcessError as exc:
        why = exc.stderr.decode(errors="replace").strip().splitlines()
        raise BadInput(f"{source}: not a git checkout ({why[0] if why else exc})") from exc
    return out.stdout


def load_private_key(path: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the key ({exc.strerror})") from exc
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise BadInput(f"{path}: not an unencrypted private key in PEM (PKCS#8)") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise BadInput(f"{path}: the key is {type(key).__name__}, not Ed25519")
    return key


def load_public_key(path: str) -> Ed25519PublicKey:
    try:
        pem = Path(path).read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the public key ({exc.strerror})") from exc
    try:
        return chain.load_public_key(pem)
    except chain.PublicKeyError as exc:
        raise BadInput(f"{path}: {exc}") from exc


def build(source: Path, version: str, key_path: str, out: Path) -> Release:
    """Bundle the files git tracks in `source` at its commit, signed with the key."""
    if not VERSION.match(version):
        raise BadInput(f"--version {version[:40]!r} is not like 1.2.3 or 1.2.3-rc1")
    key = load_private_key(key_path)
    source = source.resolve()
    root = Path(_git(source, "rev-parse", "--show-toplevel").decode().strip())
    if _git(root, "status", "--porcelain", "--untracked-files=no").strip():
        raise BadInput(f"{root}: uncommitted changes; a release is built from a commit")
    commit = _git(root, "rev-parse", "HEAD").decode().strip()
    when = int(_git(root, "show", "-s", "--format=%ct", "HEAD").decode().strip())
    entries, contents = [], {}
    for line in _git(root, "ls-files", "-s", "-z").split(b"\0"):
        if not line:
            continue
        meta, name = line.split(b"\t", 1)
        mode = meta.split()[0].decode()
        try:
            path = name.decode("utf-8")
        except UnicodeDecodeError:
            raise BadInput(f"{name!r}: a tracked file name that is not UTF-8") from None
        if mode not in ("100644", "100755"):
            raise BadInput(f"{path}: git mode {mode} (a link or submodule) cannot be bundled")
        data = (root / path).read_bytes()
        entries.append(
            {
                "path": path,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "mode": 0o755 if mode == "100755" else 0o644,
            }
        )
        contents[path] = data
    if not entries:
        raise BadInput(f"{root}: git tracks no files here; nothing to release")
    entries.sort(key=lambda e: str(e["path"]))
    created = _iso(when)
    manifest = _canonical(
        {
            "schema": 1,
            "kind": KIND,
            "version": version,
            "commit": commit,
            "created": created,
            "files": entries,
        }
    )
    signature = key.sign(manifest).hex().encode()
    if not out.parent.is_dir():
        raise BadInput(f"--out {out}: {out.parent} is not a directory")
    bundle = io.BytesIO()
    with tarfile.open(fileobj=bundle, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, MANIFEST, manifest, 0o644, when)
        _add(tar, SIGNATURE, signature, 0o644, when)
        for e in entries:
            path = str(e["path"])
            _add(tar, FILES + path, contents[path], int(str(e["mode"])), when)
    try:
        write_atomic(out, bundle.getvalue(), mode=0o644)  # a bundle is not secret
    except OSError as exc:
        raise BadInput(f"--out {out}: cannot write the bundle ({exc.strerror})") from exc
    return Release(version, commit, len(entries), sum(int(str(e["size"])) for e in entries))


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int, when: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, when
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def _iso(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat().replace("+00:00", "Z")


def verify(bundle: Path, public_key: Ed25519PublicKey) -> Release:
    """The release in `bundle` when it is whole and signed by `public_key`;
    BundleRejected with the first thing wrong otherwise."""
    try:
        with tarfile.open(bundle, mode="r:") as tar:
            return _verify(tar, public_key)
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        raise BadInput(f"{bundle}: cannot read it ({exc.strerror})") from exc
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BundleRejected(f"not a whole bundle (a tar file): {exc}") from exc


def _verify(tar: tarfile.TarFile, public_key: Ed25519PublicKey) -> Release:
    members = tar.getmembers()
    names = [m.name for m in members]
    if len(set(names)) != len(names):
        raise BundleRejected("a name appears twice in the bundle")
    for m in members:
        if not m.isfile():
            raise BundleRejected(f"{m.name}: not a regular file (links and devices are refused)")
    by_name = {m.name: m for m in members}
    if names[:2] != [MANIFEST, SIGNATURE]:
        raise BundleRejected("the bundle does not start with manifest.json and manifest.sig")
    if by_name[MANIFEST].size > MAX_MANIFEST:
        raise BundleRejected("manifest.json is too large")
    manifest = _read(tar, by_name[MANIFEST], MAX_MANIFEST)
    signature = _read(tar, by_name[SIGNATURE], 256)
    try:
        public_key.verify(bytes.fromhex(signature.decode("ascii").strip()), manifest)
    except (ValueError, UnicodeDecodeError, InvalidSignature):
        raise BundleRejected(
            "the signature does not verify with this public key: altered, or another key"
        ) from None
    doc = _manifest(manifest)
    listed = {FILES + str(e["path"]): e for e in doc["files"]}
    extra = sorted(set(names[2:]) - set(listed))
    if extra:
        raise BundleRejected(f"{extra[0]}: in the bundle but not in the signed manifest")
    total = 0
    for name, entry in listed.items():
        member = by_name.get(name)
        if member is None:
            raise BundleRejected(f"{name}: in the signed manifest but not in the bundle")
        if member.size != entry["size"]:
            raise BundleRejected(f"{name}: {member.size} bytes, the manifest says {entry['size']}")
        total += member.size
        if total > MAX_TOTAL:
            raise BundleRejected("the files add up to more than a release may hold")
        digest = hashlib.sha256()
        stream = tar.extractfile(member)
        if stream is None:
            raise BundleRejected(f"{name}: cannot be read")
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
        if digest.hexdigest() != entry["sha256"]:
            raise BundleRejected(f"{name}: its content is not what the manifest signed")
    return Release(str(doc["version"]), str(doc["commit"]), len(listed), total)


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo, limit: int) -> bytes:
    stream = tar.extractfile(member)
    data = stream.read(limit + 1) if stream is not None else b""
    if len(data) > limit:
        raise BundleRejected(f"{member.name} is too large")
    return data


def _manifest(raw: bytes) -> dict[str, Any]:
    """The signed manifest, checked for shape (a signed one with a bad shape is refused
    too: the key signed something that is no release of ours)."""
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise BundleRejected(f"manifest.json is not JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("schema") != 1 or doc.get("kind") != KIND:
        raise BundleRejected("manifest.json is not a schema 1 appliance release")
    version, commit, files = doc.get("version"), doc.get("commit"), doc.get("files")
    if not isinstance(version, str) or not VERSION.match(version):
        raise BundleRejected(f"manifest version {str(version)[:40]!r} is not a version")
    if not isinstance(commit, str) or not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", commit):
        raise BundleRejected("manifest commit is not a git commit id")
    if not isinstance(files, list) or not files:
        raise BundleRejected("manifest lists no files")
    seen: set[str] = set()
    for e in files:
        if not isinstance(e, dict):
            raise BundleRejected("a manifest file entry is not an object")
        path, size, sha, mode = e.get("path"), e.get("size"), e.get("sha256"), e.get("mode")
        if not isinstance(path, str) or not _safe(path) or path in seen:
            raise BundleRejected(f"manifest path {str(path)[:80]!r} is unsafe or repeated")
        seen.add(path)
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise BundleRejected(f"{path}: size is not a byte count")
        if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
            raise BundleRejected(f"{path}: sha256 is not a SHA-256 in hex")
        if mode not in (0o644, 0o755):
            raise BundleRejected(f"{path}: mode {mode!r} is not 0644 or 0755")
    return doc


def _safe(path: str) -> bool:
    """A relative path that stays inside the directory it is unpacked in."""
    if not path or "\\" in path or "\0" in path or path.startswith("/"):
        return False
    parts = PurePosixPath(path).parts
    return all(p not in ("", ".", "..") for p in parts) and str(PurePosixPath(*parts)) == path
