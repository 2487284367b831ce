"""Fixtures of the Python binding's tests.

Every test gets its own temp HOME (``HOME``, ``WHARF_HOME``, ``HF_HOME``, ``HF_HUB_CACHE`` inside
it), a loopback fake hub (:mod:`hub`) as ``HF_ENDPOINT``, and no ``WHARF_*``/``HF_*``/``XDG_*``
variable from the machine (``WHARF_TEST_*`` excepted). wharf's API reads the environment at each
call, so ``monkeypatch.setenv`` isolates it; child processes inherit the same environment.

A test whose tool is missing (the wheel, ``uv``, ``mypy``, the ``wharf`` command) fails, unless
``WHARF_TEST_ALLOW_SKIP=1`` is set: then it is skipped, saying what is missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, NoReturn, Optional, Sequence

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hub import FakeHub  # noqa: E402

#: The Python package's folder (python/) and the repo's root.
PY_ROOT = Path(__file__).resolve().parent.parent
REPO_ROOT = PY_ROOT.parent

#: Variables from the machine that would change what wharf does; removed for every test.
_CLEARED_PREFIXES = ("WHARF_", "HF_", "HUGGINGFACE_", "XDG_", "UV_", "AWS_")


def allow_skip() -> bool:
    return os.environ.get("WHARF_TEST_ALLOW_SKIP") == "1"


def missing(what: str) -> NoReturn:
    """A tool the test needs is missing: fail, or skip with WHARF_TEST_ALLOW_SKIP=1."""
    if allow_skip():
        pytest.skip(f"{what} (skipped: WHARF_TEST_ALLOW_SKIP=1)")
    pytest.fail(f"{what}; install it, or set WHARF_TEST_ALLOW_SKIP=1 to skip this test", pytrace=False)
    raise AssertionError("unreachable")


def sha256_file(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def files_under(root: Path) -> List[Path]:
    """Every regular file and symlink under ``root`` (symlinks not followed)."""
    out: List[Path] = []
    if not root.exists():
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames:
            out.append(Path(dirpath) / name)
        for name in dirnames:
            p = Path(dirpath) / name
            if p.is_symlink():
                out.append(p)
    return sorted(out)


@dataclass
class Home:
    """One test's temp home and where wharf keeps things under it."""

    root: Path
    home: Path
    wharf_home: Path
    hf_home: Path
    hub_cache: Path
    hub: FakeHub

    @property
    def wharf_cache(self) -> Path:
        return self.wharf_home / "cache"

    def snapshot(self, repo: str, commit: str, path: str) -> Path:
        org, name = repo.split("/")
        return self.hub_cache / f"models--{org}--{name}" / "snapshots" / commit / path

    def repo_folder(self, repo: str) -> Path:
        org, name = repo.split("/")
        return self.hub_cache / f"models--{org}--{name}"


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    h = FakeHub()
    try:
        yield h
    finally:
        h.close()


def isolate(monkeypatch: pytest.MonkeyPatch, root: Path, hub: FakeHub) -> Home:
    """Point every variable wharf reads at a fresh home under ``root`` and at ``hub``."""
    for k in list(os.environ):
        if k.startswith(_CLEARED_PREFIXES) and not k.startswith("WHARF_TEST_"):
            monkeypatch.delenv(k, raising=False)
    home = root / "home"
    home.mkdir(parents=True, exist_ok=True)
    wharf_home = home / ".local" / "share" / "wharf"
    hf_home = home / ".cache" / "huggingface"
    hub_cache = hf_home / "hub"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("WHARF_HOME", str(wharf_home))
    monkeypatch.setenv("HF_HOME", str(hf_home))
    monkeypatch.setenv("HF_HUB_CACHE", str(hub_cache))
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("WHARF_RETRY_BASE_MS", "20")
    monkeypatch.setenv("NO_COLOR", "1")
    return Home(root, home, wharf_home, hf_home, hub_cache, hub)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hub: FakeHub) -> Home:
    """Every test runs in its own home, with the loopback hub as HF_ENDPOINT."""
    root = tmp_path.resolve()
    h = isolate(monkeypatch, root, hub)
    monkeypatch.chdir(h.home)
    return h


@pytest.fixture
def wharf_cli() -> str:
    """The ``wharf`` command (the wheel's console script) on PATH."""
    exe = shutil.which("wharf")
    if exe is None:
        beside = Path(sys.executable).parent / "wharf"
        if beside.exists():
            exe = str(beside)
    if exe is None:
        missing("the `wharf` command is not on PATH (install the wheel into this venv)")
    return exe


def run_cli(exe: str, args: Sequence[str], cwd: Optional[Path] = None, check: bool = True) -> "subprocess.CompletedProcess[str]":
    """Run ``wharf ARGS`` with this test's environment; with ``check``, assert it succeeded."""
    out = subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    if check:
        assert out.returncode == 0, f"`wharf {' '.join(args)}` exited {out.returncode}:\n{out.stdout}\n{out.stderr}"
    return out


def cli_json(exe: str, args: Sequence[str], cwd: Optional[Path] = None, check: bool = True) -> Dict[str, Any]:
    out = run_cli(exe, [*args, "--json"], cwd=cwd, check=check)
    try:
        doc: Dict[str, Any] = json.loads(out.stdout)
    except ValueError as e:  # pragma: no cover - a failure message
        raise AssertionError(f"`wharf {' '.join(args)} --json` printed no JSON ({e}):\n{out.stdout}\n{out.stderr}")
    return doc


def make_project(root: Path, name: str, models: Dict[str, str]) -> Path:
    """A project folder with a pyproject.toml and a wharf.toml declaring ``models`` (name -> source)."""
    p = root / name
    p.mkdir(parents=True)
    (p / "pyproject.toml").write_text(f'[project]\nname = "{name}"\n')
    toml = "".join(f'[models.{n}]\nsource = "{src}"\n\n' for n, src in models.items())
    (p / "wharf.toml").write_text(toml)
    return p


def wheel_path() -> Path:
    """The wheel under test (``WHARF_TEST_WHEEL``)."""
    w = os.environ.get("WHARF_TEST_WHEEL")
    if not w:
        missing("WHARF_TEST_WHEEL is not set (the path of the built wharf wheel)")
    p = Path(w)
    if not p.is_file():
        missing(f"WHARF_TEST_WHEEL={w} is not a file")
    return p
