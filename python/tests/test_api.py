"""Must-hold 2: the Python API against the loopback hub — pull (Hugging Face files and repos,
URLs, local files), offline from the cache with no request, typed errors, models by name in a
project (the same path as the CLI), check, ModelStore, progress."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

import wharf
from conftest import Home, cli_json, files_under, make_project, run_cli
from hub import MIB, git_blob_id, pattern, sha256_hex

SMALL = b'{"hidden_size": 8, "model_type": "tiny"}\n'  # under the LFS threshold: served directly
BIG = pattern(300_000, 1)  # an LFS file: redirected to the CDN
TXT = b"x" * 10
REPO = "org/repo"
SPEC = "hf://org/repo@main/file.bin"


@pytest.fixture
def commit(home: Home) -> str:
    return home.hub.put_repo(REPO, {"file.bin": BIG, "config.json": SMALL, "sub/x.txt": TXT})


def stored_files(root: Path) -> List[Path]:
    """Finished files under a store root: no partials, locks, indexes or records."""
    return [
        p
        for p in files_under(root)
        if ".incomplete" not in p.name and ".locks" not in p.parts and "index" not in p.parts and "urls" not in p.parts
    ]


# -- pull -------------------------------------------------------------------------------------------


def test_version_matches_the_cli(wharf_cli: str) -> None:
    out = run_cli(wharf_cli, ["--version"])
    assert out.stdout.strip() == f"wharf {wharf.__version__}"


def test_pull_an_hf_file_returns_its_snapshot_path_with_the_served_bytes(home: Home, commit: str) -> None:
    for name, body in [("file.bin", BIG), ("config.json", SMALL), ("sub/x.txt", TXT)]:
        p = wharf.pull(f"hf://org/repo@main/{name}")
        assert isinstance(p, Path)
        assert p == home.snapshot(REPO, commit, name)
        assert p.read_bytes() == body
    # The LFS file's blob is named by its sha256, the small file's by its git blob id.
    blobs = home.repo_folder(REPO) / "blobs"
    assert (blobs / sha256_hex(BIG)).is_file()
    assert (blobs / git_blob_id(SMALL)).is_file()
    # By commit: the same file, and its bytes came over once.
    assert wharf.pull(f"hf://org/repo@{commit}/file.bin") == home.snapshot(REPO, commit, "file.bin")
    assert home.hub.full_transfers(f"/blobs/{sha256_hex(BIG)}") == 1


def test_pull_a_whole_repo_returns_the_snapshot_folder_filtered(home: Home, commit: str) -> None:
    folder = wharf.pull("hf://org/repo@main", exclude=["*.bin"])
    assert folder == home.repo_folder(REPO) / "snapshots" / commit
    assert folder.is_dir()
    got = sorted(str(p.relative_to(folder)) for p in files_under(folder))
    assert got == ["config.json", "sub/x.txt"], got
    assert (folder / "config.json").read_bytes() == SMALL
    assert home.hub.body_bytes(f"/blobs/{sha256_hex(BIG)}") == 0, "an excluded file was downloaded"

    again = wharf.pull("hf://org/repo@main", include=["*.bin"])
    assert again == folder
    assert (folder / "file.bin").read_bytes() == BIG


def test_pull_a_url_pinned_by_fragment_or_keyword(home: Home) -> None:
    body = pattern(2 * MIB, 2)
    hexd = sha256_hex(body)
    url = home.hub.put_file("x.bin", body)
    assert url.startswith("http://127.0.0.1:")
    p = wharf.pull(f"{url}#sha256={hexd}")
    assert isinstance(p, Path)
    assert p.read_bytes() == body
    assert p.resolve().is_relative_to(home.wharf_cache.resolve()), p
    assert wharf.pull(url, sha256=hexd) == p
    assert home.hub.full_transfers("/files/x.bin") == 1, "a pinned file in the store was fetched again"

    other = pattern(5000, 3)
    u2 = home.hub.put_file("y.bin", other)
    p2 = wharf.pull(u2)  # no pin: stored by the sha256 of what came
    assert p2.read_bytes() == other


def test_pull_a_local_file(home: Home) -> None:
    src = home.root / "weights.bin"
    body = pattern(70_000, 4)
    src.write_bytes(body)
    p = wharf.pull(src.as_uri(), sha256=sha256_hex(body))
    assert p.read_bytes() == body
    assert p.resolve().is_relative_to(home.wharf_cache.resolve()), p
    assert home.hub.request_count() == 0


def test_offline_pull_of_what_is_stored_makes_no_request(home: Home, commit: str, monkeypatch: pytest.MonkeyPatch) -> None:
    body = pattern(100_000, 5)
    url = home.hub.put_file("o.bin", body) + f"#sha256={sha256_hex(body)}"
    p_hf = wharf.pull(SPEC)
    p_small = wharf.pull("hf://org/repo@main/config.json")
    p_url = wharf.pull(url)
    before = home.hub.request_count()
    assert before > 0
    assert wharf.pull(SPEC, offline=True) == p_hf
    assert wharf.pull("hf://org/repo@main/config.json", offline=True) == p_small
    assert wharf.pull(url, offline=True) == p_url
    assert p_hf.read_bytes() == BIG and p_url.read_bytes() == body
    # The environment, read at each call, makes it offline too.
    monkeypatch.setenv("WHARF_OFFLINE", "1")
    assert wharf.pull(SPEC) == p_hf
    monkeypatch.delenv("WHARF_OFFLINE")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert wharf.pull(url) == p_url
    assert home.hub.request_count() == before, [r.path for r in home.hub.requests()[before:]]


def test_offline_pull_of_what_was_never_pulled_raises_offline_error(home: Home, commit: str) -> None:
    body = pattern(10_000, 6)
    url = home.hub.put_file("n.bin", body)
    for spec in [SPEC, f"{url}#sha256={sha256_hex(body)}", url]:
        with pytest.raises(wharf.OfflineError) as ei:
            wharf.pull(spec, offline=True)
        e = ei.value
        assert isinstance(e, wharf.WharfError)
        assert not isinstance(e, wharf.DownloadError)
        assert e.code == "failed", e.code
        assert e.hint is not None and "without `--offline`" in e.hint, e.hint
        assert "offline" in str(e)
    with pytest.raises(wharf.OfflineError):
        wharf.ModelStore(offline=True).get_model(SPEC)
    assert home.hub.request_count() == 0
    assert stored_files(home.hub_cache) == [] and stored_files(home.wharf_cache) == []


def test_a_wrong_pin_raises_checksum_mismatch_and_keeps_nothing(home: Home, commit: str) -> None:
    body = pattern(600_000, 7)
    real = sha256_hex(body)
    wrong = sha256_hex(b"something else")
    url = home.hub.put_file("p.bin", body)
    with pytest.raises(wharf.ChecksumMismatch) as ei:
        wharf.pull(f"{url}#sha256={wrong}")
    e = ei.value
    assert isinstance(e, wharf.DownloadError) and isinstance(e, wharf.WharfError)
    assert not isinstance(e, wharf.UsageError)
    assert (e.expected, e.actual) == (wrong, real)
    assert wrong in str(e) and real in str(e)
    assert e.hint is not None and f"pin {real}" in e.hint, e.hint
    assert str(e) == f"{e.message}\n  hint: {e.hint}"
    assert not (home.wharf_cache / "blobs" / "sha256" / wrong).exists()
    assert not (home.wharf_cache / "blobs" / "sha256" / real).exists()
    assert stored_files(home.wharf_cache) == []

    # The same for a Hugging Face file pinned by keyword: no snapshot link, no blob.
    with pytest.raises(wharf.ChecksumMismatch) as ei2:
        wharf.pull(SPEC, sha256=wrong)
    assert (ei2.value.expected, ei2.value.actual) == (wrong, sha256_hex(BIG))
    snap = home.snapshot(REPO, commit, "file.bin")
    assert not os.path.lexists(snap)
    assert not (home.repo_folder(REPO) / "blobs" / sha256_hex(BIG)).exists()
    assert stored_files(home.hub_cache) == []

    # The right pin then works.
    assert wharf.pull(url, sha256=real).read_bytes() == body
    assert wharf.pull(SPEC, sha256=sha256_hex(BIG)).read_bytes() == BIG


def test_a_bad_spec_is_a_usage_error(home: Home) -> None:
    for spec in ["nope://x/y", "hf://only-org", "not a spec at all", "https://127.0.0.1/x#sha256=zz"]:
        with pytest.raises(wharf.UsageError) as ei:
            wharf.pull(spec)
        assert isinstance(ei.value, ValueError) and isinstance(ei.value, wharf.WharfError)
        assert str(ei.value)
    with pytest.raises(wharf.UsageError):
        wharf.pull(SPEC, sha256="not-hex")
    assert home.hub.request_count() == 0


# -- models by name, check ----------------------------------------------------------------------------


def _registered_project(home: Home, wharf_cli: str, name: str = "proj") -> Path:
    proj = make_project(home.home, name, {"tiny": SPEC})
    run_cli(wharf_cli, ["init", "--no-venv", "--no-models"], cwd=proj)
    assert not (proj / "wharf.lock").exists()
    return proj


def test_model_by_name_pulls_pins_and_returns_the_cli_path(
    home: Home, commit: str, wharf_cli: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    proj = _registered_project(home, wharf_cli)
    monkeypatch.chdir(proj)
    p = wharf.model("tiny")
    assert isinstance(p, Path)
    cli_path = run_cli(wharf_cli, ["models", "path", "tiny"], cwd=proj).stdout.strip()
    assert p == Path(cli_path)
    assert p.read_bytes() == BIG
    lock = (proj / "wharf.lock").read_text()
    assert commit in lock and sha256_hex(BIG) in lock, lock
    assert home.hub.full_transfers(f"/blobs/{sha256_hex(BIG)}") == 1

    # From elsewhere, naming a subfolder of the project (found upwards, like the CLI); the lock
    # agrees and the file is stored, so no request is made.
    sub = proj / "src" / "pkg"
    sub.mkdir(parents=True)
    monkeypatch.chdir(home.root)
    before = home.hub.request_count()
    assert wharf.model("tiny", project=sub) == p
    assert wharf.model("tiny", str(proj)) == p
    assert wharf.model("tiny", project=proj, offline=True) == p
    assert home.hub.request_count() == before


def test_model_offline_when_not_stored_raises_offline_error(home: Home, commit: str, wharf_cli: str) -> None:
    proj = _registered_project(home, wharf_cli)
    with pytest.raises(wharf.OfflineError) as ei:
        wharf.model("tiny", project=proj, offline=True)
    assert "offline" in str(ei.value)
    assert home.hub.request_count() == 0
    assert not (proj / "wharf.lock").exists()


def test_model_reports_progress(home: Home, commit: str, wharf_cli: str) -> None:
    proj = _registered_project(home, wharf_cli)
    calls: List[Tuple[str, int, Optional[int]]] = []
    p = wharf.model("tiny", project=proj, progress=lambda f, d, t: calls.append((f, d, t)))
    assert p.read_bytes() == BIG
    assert calls and calls[-1][1] == calls[-1][2] == len(BIG), calls[-3:]


def test_an_unknown_model_name_is_a_usage_error_naming_the_known_ones(home: Home, commit: str, wharf_cli: str) -> None:
    proj = _registered_project(home, wharf_cli)
    with pytest.raises(wharf.UsageError) as ei:
        wharf.model("nope", project=proj)
    assert isinstance(ei.value, ValueError)
    assert "nope" in str(ei.value) and "tiny" in str(ei.value), str(ei.value)
    assert home.hub.request_count() == 0


def test_model_in_a_project_that_is_not_registered_fails_as_the_cli_does(home: Home, commit: str, wharf_cli: str) -> None:
    proj = make_project(home.home, "loose", {"tiny": SPEC})
    with pytest.raises(wharf.WharfError) as ei:
        wharf.model("tiny", project=proj)
    # The same message, hint and code as `wharf models path tiny --json` there.
    err = cli_json(wharf_cli, ["models", "path", "tiny"], cwd=proj, check=False)["error"]
    assert (ei.value.message, ei.value.hint, ei.value.code) == (err["message"], err["hint"], err["code"]), err
    assert ei.value.hint is not None and "wharf init" in ei.value.hint, (str(ei.value), ei.value.hint)
    assert isinstance(ei.value, wharf.UsageError) == (err["exit_code"] == 2)
    assert home.hub.request_count() == 0
    # And a folder with no wharf.toml at all.
    bare = home.root / "bare"
    bare.mkdir()
    with pytest.raises(wharf.WharfError) as ei:
        wharf.model("tiny", project=bare)
    err = cli_json(wharf_cli, ["models", "path", "tiny"], cwd=bare, check=False)["error"]
    assert (ei.value.message, ei.value.code) == (err["message"], err["code"]), err


def test_model_offline_serves_the_stored_file_of_a_project_without_views(home: Home, commit: str, wharf_cli: str) -> None:
    # The file came into the store another way (a plain pull, or huggingface_hub): offline, the
    # project's model is that file, though no view was made.
    stored = wharf.pull(SPEC)
    proj = _registered_project(home, wharf_cli)
    before = home.hub.request_count()
    p = wharf.model("tiny", project=proj, offline=True)
    assert p.read_bytes() == BIG
    assert p.resolve() == stored.resolve()
    assert home.hub.request_count() == before


def test_an_exception_in_the_progress_callback_stops_the_pull_and_is_raised(home: Home) -> None:
    class Stop(Exception):
        pass

    calls: List[int] = []

    def progress(file: str, done: int, total: Optional[int]) -> None:
        calls.append(done)
        raise Stop(file)

    body = pattern(2 * MIB, 12)
    digest = sha256_hex(body)
    spec = home.hub.put_file("cb.bin", body) + f"#sha256={digest}"
    home.hub.rate = 512 * 1024  # 4 s for the whole file: stopped long before its end
    with pytest.raises(Stop):
        wharf.pull(spec, progress=progress)
    assert len(calls) == 1 and calls[0] < len(body), calls
    assert home.hub.body_bytes("/files/cb.bin") < len(body)
    # Nothing half-made is visible, and the next pull resumes and finishes it.
    assert stored_files(home.wharf_cache) == []
    home.hub.rate = None
    assert wharf.pull(spec).read_bytes() == body


def test_check_of_a_folder_named_like_an_option_is_not_an_option(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    # (Parsed as options, `-h` and `--version` would print and end this process.)
    monkeypatch.chdir(home.root)
    for name in ["-h", "--version", "--all"]:
        (home.root / name).mkdir()
        with pytest.raises(wharf.WharfError) as ei:
            wharf.check(name)
        assert ei.value.code == "no_project", (ei.value.code, str(ei.value))
        assert name in str(ei.value)


def test_one_glob_given_as_a_string_is_one_glob(home: Home, commit: str) -> None:
    snap = wharf.pull("hf://org/repo@main", include="*.json")
    assert sorted(p.name for p in snap.rglob("*") if p.is_file() or p.is_symlink()) == ["config.json"]


def test_check_returns_the_cli_document(home: Home, commit: str, wharf_cli: str, monkeypatch: pytest.MonkeyPatch) -> None:
    proj = _registered_project(home, wharf_cli)
    wharf.model("tiny", project=proj)
    doc = wharf.check(proj)
    assert isinstance(doc, dict)
    assert doc["schema"] == 1 and doc["ok"] is True, doc
    assert [(p["path"], p["status"]) for p in doc["projects"]] == [(str(proj), "valid")]
    assert doc["projects"][0]["models"][0]["sha256"] == sha256_hex(BIG)
    cli = cli_json(wharf_cli, ["check", str(proj)])
    assert [(p["path"], p["id"], p["status"]) for p in cli["projects"]] == [
        (p["path"], p["id"], p["status"]) for p in doc["projects"]
    ]

    # From the current folder, and --all.
    monkeypatch.chdir(proj)
    assert wharf.check()["projects"][0]["path"] == str(proj)
    every = wharf.check(all=True, full=True)
    assert every["ok"] is True and [p["status"] for p in every["projects"]] == ["valid"]

    # A project that is not valid: a document with ok False, not an exception.
    (proj / "wharf.lock").unlink()
    bad = wharf.check(proj)
    assert bad["ok"] is False
    assert bad["projects"][0]["status"] == "mismatch"
    assert "lock_mismatch" in [r["code"] for r in bad["projects"][0]["reasons"]]

    # --full re-hashes: a stored file with other bytes of the same size is model_corrupt.
    run_cli(wharf_cli, ["pull"], cwd=proj)  # pins it again
    assert wharf.check(proj)["ok"] is True
    blob = home.repo_folder(REPO) / "blobs" / sha256_hex(BIG)
    os.chmod(blob, 0o600)
    blob.write_bytes(bytes(len(BIG)))
    assert wharf.check(proj)["ok"] is True  # size only
    full = wharf.check(proj, full=True)
    assert full["ok"] is False
    assert "model_corrupt" in [r["code"] for r in full["projects"][0]["reasons"]], full


# -- ModelStore ---------------------------------------------------------------------------------------


def test_model_store_in_a_folder(home: Home, commit: str) -> None:
    root = home.root / "store"
    store = wharf.ModelStore(root)
    assert store.cache_dir == root and store.hub_cache == root / "hub"
    body = pattern(40_000, 8)
    hexd = sha256_hex(body)
    url = home.hub.put_file("s.bin", body)

    pinned = f"{url}#sha256={hexd}"

    assert store.is_cached(SPEC) is False
    assert store.is_cached(pinned) is False
    assert home.hub.request_count() == 0, "is_cached made a request"

    p = store.get_model(SPEC)
    assert p == root / "hub" / "models--org--repo" / "snapshots" / commit / "file.bin"
    assert p.read_bytes() == BIG
    u = store.get_model(url, sha256=hexd)
    assert u.read_bytes() == body and u.resolve().is_relative_to(root.resolve())
    n = home.hub.request_count()
    assert store.is_cached(SPEC) is True
    assert store.is_cached(pinned) is True
    assert store.is_cached(f"{url}#sha256={sha256_hex(b'other')}") is False
    assert store.is_cached("hf://org/repo@main/config.json") is False
    assert home.hub.request_count() == n, "is_cached made a request"
    # The default stores got nothing.
    assert stored_files(home.hub_cache) == [] and stored_files(home.wharf_cache) == []

    stats = store.stats()
    assert stats["total_models"] == 2 and stats["wharf_models"] == 2, stats
    assert stats["total_size_bytes"] == len(BIG) + len(body)
    assert stats["wharf_size_bytes"] == len(BIG) + len(body)
    assert stats["used_models"] == 0 and stats["partial_files"] == 0 and stats["partial_bytes"] == 0
    assert Path(stats["hub_cache"]) == root / "hub" and Path(stats["wharf_cache"]) == root

    hf_id = f"hf:org/repo:{sha256_hex(BIG)}"
    blob_id = f"sha256:{hexd}"
    v = store.validate_integrity()
    assert sorted(v["valid"]) == sorted([hf_id, blob_id]), v
    assert v["corrupted"] == [] and v["missing"] == [] and v["unreadable"] == []

    dry = store.remove_model(SPEC, dry_run=True)
    assert dry["removed"] == [hf_id] and dry["dry_run"] is True
    assert p.read_bytes() == BIG
    rm = store.remove_model(SPEC)
    assert rm["removed"] == [hf_id] and rm["freed_bytes"] == len(BIG), rm
    assert store.is_cached(SPEC) is False and not p.exists()
    with pytest.raises(wharf.UsageError):
        store.remove_model(SPEC)  # nothing by that spec any more

    assert store.clear(dry_run=True)["removed"] == [blob_id]
    assert store.is_cached(pinned) is True
    cleared = store.clear()
    assert cleared["removed"] == [blob_id] and cleared["freed_bytes"] == len(body), cleared
    assert store.is_cached(pinned) is False and not u.exists()
    assert store.stats()["total_models"] == 0
    assert store.clear()["removed"] == []


def test_is_cached_takes_a_pin_by_keyword(home: Home) -> None:
    store = wharf.ModelStore(home.root / "store")
    body = pattern(40_000, 8)
    hexd = sha256_hex(body)
    url = home.hub.put_file("s.bin", body)
    assert store.is_cached(url, sha256=hexd) is False
    store.get_model(url, sha256=hexd)
    n = home.hub.request_count()
    assert store.is_cached(url, sha256=hexd) is True
    assert store.is_cached(url, sha256=sha256_hex(b"other")) is False
    assert home.hub.request_count() == n, "is_cached made a request"


def test_the_default_model_store_follows_the_environment(home: Home, commit: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = wharf.ModelStore()
    assert store.cache_dir == home.wharf_cache and store.hub_cache == home.hub_cache
    p = store.get_model(SPEC)
    assert p == home.snapshot(REPO, commit, "file.bin")
    assert wharf.pull(SPEC, offline=True) == p  # the same store as pull's
    other = home.root / "elsewhere"
    monkeypatch.setenv("WHARF_CACHE_DIR", str(other / "wharf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(other / "hf"))
    s2 = wharf.ModelStore()
    assert s2.cache_dir == other / "wharf" and s2.hub_cache == other / "hf"
    assert s2.is_cached(SPEC) is False
    assert s2.get_model(SPEC) == other / "hf" / "models--org--repo" / "snapshots" / commit / "file.bin"


def test_validate_integrity_finds_and_fixes_a_corrupt_file(home: Home, commit: str) -> None:
    store = wharf.ModelStore(home.root / "store")
    p = store.get_model(SPEC)
    blob = p.resolve()
    os.chmod(blob, 0o600)
    blob.write_bytes(pattern(len(BIG), 99))  # same size, other bytes
    hf_id = f"hf:org/repo:{sha256_hex(BIG)}"
    v = store.validate_integrity()
    assert v["corrupted"] == [hf_id] and v["valid"] == [], v
    fixed = store.validate_integrity(fix=True)
    assert hf_id in [r.get("id") for r in fixed["removed"]], fixed
    assert not blob.exists()
    assert store.is_cached(SPEC) is False
    assert store.get_model(SPEC).read_bytes() == BIG
    assert store.validate_integrity()["valid"] == [hf_id]


# -- progress -----------------------------------------------------------------------------------------


def test_progress_is_monotonic_per_file_and_ends_at_the_total(home: Home) -> None:
    body = pattern(3 * MIB, 9)
    home.hub.put_repo("org/prog", {"weights.bin": body, "a.json": SMALL, "b/c.bin": pattern(5000, 10)})
    home.hub.rate = 3 * MIB  # about a second, so there are calls along the way
    calls: Dict[str, List[Tuple[int, Optional[int]]]] = {}
    lock = threading.Lock()

    def progress(file: str, done: int, total: Optional[int]) -> None:
        assert isinstance(file, str) and isinstance(done, int)
        with lock:
            calls.setdefault(file, []).append((done, total))

    p = wharf.pull("hf://org/prog@main/weights.bin", progress=progress)
    assert p.read_bytes() == body
    assert len(calls) == 1, list(calls)
    (name, seq), = calls.items()
    assert "weights.bin" in name, name
    dones = [d for d, _ in seq]
    assert dones == sorted(dones), f"done went backwards: {dones}"
    assert seq[-1] == (len(body), len(body)), seq[-3:]
    assert {t for _, t in seq} <= {len(body), None}, seq
    assert len(seq) >= 2, "no call before the end of a ~1 s download"
    assert len(seq) <= 100, f"{len(seq)} calls for a ~1 s download: not throttled"

    # A whole repo: every file gets its final call.
    home.hub.rate = None
    calls.clear()
    wharf.pull("hf://org/prog@main", progress=progress, exclude=["weights.bin"])
    finals = {f: seq[-1] for f, seq in calls.items()}
    assert len(finals) == 2, finals
    assert sorted(t or 0 for _, t in finals.values()) == [len(SMALL), 5000]
    assert all(d == t for d, t in finals.values()), finals
    assert any(re.search(r"a\.json$", f) for f in finals) and any(re.search(r"c\.bin$", f) for f in finals), finals


# -- errors -------------------------------------------------------------------------------------------


def test_the_exception_classes_form_the_documented_tree() -> None:
    assert issubclass(wharf.WharfError, Exception)
    assert issubclass(wharf.DownloadError, wharf.WharfError)
    assert issubclass(wharf.ChecksumMismatch, wharf.DownloadError)
    for cls in (wharf.DiskFull, wharf.OfflineError, wharf.RegistryError, wharf.UsageError):
        assert issubclass(cls, wharf.WharfError) and not issubclass(cls, wharf.DownloadError), cls
    assert issubclass(wharf.UsageError, ValueError)
    assert not issubclass(wharf.OfflineError, ValueError)


def test_a_corrupt_registry_raises_registry_error(home: Home, commit: str, wharf_cli: str) -> None:
    proj = _registered_project(home, wharf_cli)
    registry = home.wharf_home / "registry.json"
    assert registry.is_file()
    registry.write_text("{ this is not json")
    with pytest.raises(wharf.RegistryError) as ei:
        wharf.check(proj)
    e = ei.value
    assert e.code == "registry_corrupt", (e.code, str(e))
    assert "registry.json" in str(e)
    cli = cli_json(wharf_cli, ["check", str(proj)], check=False)
    assert (cli["error"]["code"], cli["error"]["message"], cli["error"]["hint"]) == (e.code, e.message, e.hint)
