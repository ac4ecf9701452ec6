"""`appliance release build` and `appliance release verify` as processes, on a real git
checkout made here: a bundle verifies with its key and is the same bytes when built
again; every kind of tampering, another key, a truncated or foreign file exit 1; bad
keys, versions and checkouts exit 2 with one line."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.conftest import run_cli


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A checkout with a nested file, an executable one and a non-ASCII name."""
    root = tmp_path / "checkout"
    (root / "appliance").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "x"\n')
    (root / "appliance" / "service.py").write_text("print('till')\n")
    (root / "run.sh").write_text("#!/bin/sh\necho run\n")
    (root / "run.sh").chmod(0o755)
    (root / "reçu.txt").write_text("Épicerie\n")
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first")
    return root


def pem_pair(tmp_path: Path, name: str) -> tuple[Path, Path]:
    key = Ed25519PrivateKey.generate()
    private, public = tmp_path / f"{name}.pem", tmp_path / f"{name}.pub"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def build(
    repo: Path, key: Path, out: Path, version: str = "1.4.0"
) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "release", "build", "--version", version, "--key", str(key), "--out", str(out),
        "--source", str(repo),
    )  # fmt: skip


def verify(bundle: Path, pub: Path) -> subprocess.CompletedProcess[str]:
    return run_cli("release", "verify", "--pubkey", str(pub), str(bundle), "--json")


def rewrite(src: Path, dst: Path, change: dict[str, bytes | None], add: dict[str, bytes]) -> None:
    """A copy of the bundle with members replaced (None: dropped) or added, headers kept."""
    with tarfile.open(src) as tin, tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as tout:
        for m in tin.getmembers():
            data = tin.extractfile(m).read()  # type: ignore[union-attr]
            if m.name in change:
                if change[m.name] is None:
                    continue
                data = change[m.name]  # type: ignore[assignment]
                m.size = len(data)
            tout.addfile(m, io.BytesIO(data))
        for name, data in add.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tout.addfile(info, io.BytesIO(data))


def test_a_bundle_verifies_with_its_key_and_builds_the_same_bytes_again(
    repo: Path, tmp_path: Path
) -> None:
    key, pub = pem_pair(tmp_path, "release")
    bundle = tmp_path / "a.bundle"
    made = build(repo, key, bundle)
    assert made.returncode == 0, made.stderr
    assert "release 1.4.0" in made.stdout and "4 files" in made.stdout
    r = verify(bundle, pub)
    assert r.returncode == 0, r.stdout + r.stderr
    result = json.loads(r.stdout)
    assert result["ok"] and result["version"] == "1.4.0" and result["files"] == 4
    with tarfile.open(bundle) as tar:
        names = tar.getnames()
        assert names[:2] == ["manifest.json", "manifest.sig"]
        assert sorted(names[2:]) == [
            "files/appliance/service.py", "files/pyproject.toml", "files/reçu.txt", "files/run.sh"
        ]  # fmt: skip
        assert tar.getmember("files/run.sh").mode == 0o755
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert len(manifest["commit"]) == 40 and manifest["kind"] == "appliance-release"
    again = tmp_path / "b.bundle"
    assert build(repo, key, again).returncode == 0
    assert again.read_bytes() == bundle.read_bytes()  # reproducible


def test_tampering_and_another_key_are_refused(repo: Path, tmp_path: Path) -> None:
    key, pub = pem_pair(tmp_path, "release")
    _, other_pub = pem_pair(tmp_path, "other")
    bundle = tmp_path / "good.bundle"
    assert build(repo, key, bundle).returncode == 0
    with tarfile.open(bundle) as tar:
        manifest = tar.extractfile("manifest.json").read()  # type: ignore[union-attr]
    cases: dict[str, tuple[dict[str, bytes | None], dict[str, bytes], str]] = {
        "a file changed": ({"files/appliance/service.py": b"print('evil')\n"}, {}, "content"),
        "a file dropped": ({"files/run.sh": None}, {}, "not in the bundle"),
        "a file added": ({}, {"files/backdoor.py": b"x"}, "not in the signed manifest"),
        "the manifest edited": (
            {"manifest.json": manifest.replace(b'"1.4.0"', b'"9.9.9"')},
            {},
            "signature does not verify",
        ),
        "a path out of the tree": ({}, {"files/../../etc/cron.d/x": b"x"}, "not in the signed"),
    }
    for what, (change, add, reason) in cases.items():
        bad = tmp_path / f"{what}.bundle"
        rewrite(bundle, bad, change, add)
        r = verify(bad, pub)
        assert r.returncode == 1, (what, r.stdout, r.stderr)
        assert reason in json.loads(r.stdout)["reason"], (what, r.stdout)
    r = verify(bundle, other_pub)
    assert r.returncode == 1 and "another key" in json.loads(r.stdout)["reason"]
    cut = tmp_path / "cut.bundle"
    cut.write_bytes(bundle.read_bytes()[:3000])
    garbage = tmp_path / "garbage.bundle"
    garbage.write_bytes(b"\x00\xff not a tar" * 200)
    for broken in (cut, garbage):
        r = verify(broken, pub)
        assert r.returncode == 1 and not json.loads(r.stdout)["ok"], (broken, r.stdout, r.stderr)
    assert verify(bundle, pub).returncode == 0  # the original is untouched
    # Even signed by the right key, a manifest path that leaves the install tree is refused.
    doc = json.loads(manifest)
    doc["files"][0]["path"] = "../outside.py"
    evil = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    signer = serialization.load_pem_private_key(key.read_bytes(), password=None)
    sig = signer.sign(evil).hex().encode()  # type: ignore[union-attr,call-arg]
    signed_evil = tmp_path / "signed-evil.bundle"
    rewrite(bundle, signed_evil, {"manifest.json": evil, "manifest.sig": sig}, {})
    r = verify(signed_evil, pub)
    assert r.returncode == 1 and "unsafe" in json.loads(r.stdout)["reason"], r.stdout


def test_bad_keys_versions_and_checkouts_are_bad_input(repo: Path, tmp_path: Path) -> None:
    key, pub = pem_pair(tmp_path, "release")
    out = tmp_path / "x.bundle"
    ec_key = tmp_path / "ec.pem"
    ec_key.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (repo / "appliance" / "service.py").write_text("print('changed')\n")
    checks = [
        (build(repo, key, out), "uncommitted changes"),
        (build(repo, key, out, version="one"), "is not like 1.2.3"),
        (build(repo, ec_key, out), "not Ed25519"),
        (build(tmp_path, key, out), "not a git checkout"),
        (verify(out, key), "not a readable public key in PEM"),
        (verify(tmp_path / "none.bundle", pub), "cannot read it"),
        (verify(tmp_path, pub), "cannot read it"),
    ]
    for r, why in checks:
        assert r.returncode == 2, (why, r.stdout, r.stderr)
        assert r.stderr.count("\n") == 1 and why in r.stderr, (why, r.stderr)
    assert not out.exists() and not list(tmp_path.glob(".x.bundle.*"))  # nothing written
