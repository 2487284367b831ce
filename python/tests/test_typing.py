"""Must-hold 6: the package is typed — ``mypy --strict`` passes on an example that uses every API
(python/examples/typed_usage.py), fails on misuse (so the stub is what is checked), and the
example really runs against the loopback hub."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set

import wharf
from conftest import PY_ROOT, Home, make_project, missing, run_cli
from hub import pattern, sha256_hex

EXAMPLE = PY_ROOT / "examples" / "typed_usage.py"


def _mypy(tmp_path: Path, target: Path) -> "subprocess.CompletedProcess[str]":
    probe = subprocess.run([sys.executable, "-m", "mypy", "--version"], capture_output=True, text=True)
    if probe.returncode != 0:
        missing(f"mypy is not installed for {sys.executable} ({probe.stderr.strip()})")
    env = {k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "PYTHONPATH")}
    # Run from a folder without the source package, so mypy checks against the installed wheel
    # (its stub and py.typed), as a user's project would.
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            "--python-executable",
            sys.executable,
            "--show-error-codes",
            "--no-color-output",
            str(target),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )


def test_the_typed_example_passes_mypy_strict(tmp_path: Path) -> None:
    assert EXAMPLE.is_file()
    out = _mypy(tmp_path, EXAMPLE)
    assert out.returncode == 0, f"mypy --strict {EXAMPLE} failed:\n{out.stdout}\n{out.stderr}"
    assert "Success: no issues found in 1 source file" in out.stdout, out.stdout


BAD = '''\
import wharf
from typing import Optional

wharf.pull(1)
n: int = wharf.pull("hf://org/repo@main/f.bin")
wharf.pull("hf://org/repo@main/f.bin", progress=lambda file: None)
wharf.ModelStore().is_cached(3)
def f(e: wharf.WharfError) -> str:
    return e.expected
wharf.check(all="yes")
wharf.model("tiny", 42)
ok: Optional[wharf.DownloadError] = wharf.UsageError("x")
reveal_type(wharf.pull("hf://org/repo@main/f.bin"))
reveal_type(wharf.ModelStore().hub_cache)
'''
# The lines above that must each be an error.
BAD_LINES = {4, 5, 6, 7, 9, 10, 11, 12}


def test_mypy_strict_rejects_misuse_so_the_stub_is_checked(tmp_path: Path) -> None:
    bad = tmp_path / "bad_usage.py"
    bad.write_text(BAD)
    out = _mypy(tmp_path, bad)
    assert out.returncode != 0, f"mypy --strict accepted misuse of the API:\n{out.stdout}"
    errors: Dict[int, List[str]] = {}
    for m in re.finditer(r"^.*bad_usage\.py:(\d+): error: (.*)$", out.stdout, re.M):
        errors.setdefault(int(m.group(1)), []).append(m.group(2))
    missing_lines: Set[int] = BAD_LINES - set(errors)
    assert not missing_lines, f"no error on lines {sorted(missing_lines)}:\n{out.stdout}"
    # The errors are the stub's verdicts, not a missing stub or module.
    assert not re.search(r"import-not-found|import-untyped|missing library stubs|py\.typed", out.stdout), out.stdout
    assert re.search(r':13: note: Revealed type is "pathlib\.Path"', out.stdout), out.stdout
    assert re.search(r':14: note: Revealed type is "pathlib\.Path"', out.stdout), out.stdout


def test_the_typed_example_runs(home: Home, wharf_cli: str, tmp_path: Path) -> None:
    body = pattern(50_000, 61)
    home.hub.put_repo("org/ex", {"model.bin": body})
    spec = "hf://org/ex@main/model.bin"
    proj = make_project(home.home, "exproj", {"tiny": spec})
    run_cli(wharf_cli, ["init", "--no-venv", "--no-models"], cwd=proj)
    store = tmp_path / "store"
    out = subprocess.run(
        [sys.executable, str(EXAMPLE), spec, str(store), str(proj), "tiny"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert out.returncode == 0, f"the example failed:\n{out.stdout}\n{out.stderr}"
    got = dict(line.split(" ", 1) for line in out.stdout.splitlines() if " " in line)
    assert got["version"] == wharf.__version__
    assert Path(got["path"]).read_bytes() == body
    assert got["offline_same"] == "True"
    assert got["wrong_pin"] == "True"
    assert got["error"].startswith("ChecksumMismatch"), got["error"]
    assert sha256_hex(body) in got["error"]
    assert Path(got["store_path"]).is_relative_to(store) and Path(got["store_path"]).read_bytes() == body
    assert got["store_cached_before"] == "False" and got["store_cached_after"] == "True"
    assert got["store_models"] == "1" and got["store_valid"] == "1"
    assert got["store_would_remove"] == "1" and got["store_would_clear"] == "1" and got["store_fixed"] == "0"
    assert got["store_progress_finished"] == "1"
    assert Path(got["model_path"]).read_bytes() == body
    assert got["model_path"] == run_cli(wharf_cli, ["models", "path", "tiny"], cwd=proj).stdout.strip()
    assert got["model_again_same"] == "True"
    assert got["check_ok"] == "True" and got["check_statuses"] == "valid" and got["check_all_count"] == "1"
    assert got["unknown_model"].startswith("UsageError["), got

