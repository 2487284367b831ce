"""Must-hold 1: the wheel installs and runs on its own — in a fresh venv (pip, no index) and as a
uv tool (offline) — and packs only the package: no tests, fixtures or Rust sources."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any, List

from conftest import Home, missing, sha256_file, wheel_path
from hub import pattern, sha256_hex

VERSION_LINE = re.compile(r"^wharf (\d+\.\d+\.\d+\S*)$")


def _run(args: List[str], **kw: Any) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(args, capture_output=True, text=True, timeout=300, **kw)


def _version_of(exe: Path) -> str:
    out = _run([str(exe), "--version"])
    assert out.returncode == 0, f"{exe} --version exited {out.returncode}:\n{out.stdout}\n{out.stderr}"
    m = VERSION_LINE.match(out.stdout.strip())
    assert m, f"{exe} --version printed {out.stdout!r}, not `wharf <version>`"
    return m.group(1)


def _wheel_version(wheel: Path) -> str:
    # {distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl
    parts = wheel.name[: -len(".whl")].split("-")
    assert parts[0] == "wharf", f"the wheel's distribution is {parts[0]!r}, not wharf: {wheel.name}"
    return parts[1]


def test_the_wheel_installs_into_a_fresh_venv_and_its_command_and_module_agree(home: Home, tmp_path: Path) -> None:
    wheel = wheel_path()
    venv = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", str(venv)])
    if made.returncode != 0 and "ensurepip" in (made.stdout + made.stderr):
        missing(f"`{sys.executable} -m venv` cannot make a venv with pip (ensurepip is missing)")
    assert made.returncode == 0, made.stderr
    py = venv / "bin" / "python"
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    inst = _run([str(py), "-m", "pip", "install", "--no-index", str(wheel)], env=env)
    assert inst.returncode == 0, f"pip install --no-index {wheel} failed:\n{inst.stdout}\n{inst.stderr}"

    exe = venv / "bin" / "wharf"
    assert exe.is_file(), f"the wheel installed no `wharf` command in {venv / 'bin'}"
    version = _version_of(exe)
    assert version == _wheel_version(wheel), f"`wharf --version` says {version}, the wheel is {wheel.name}"

    # Run from a folder that has no wharf/ source package, so the installed one is imported.
    mod = _run([str(py), "-c", "import wharf, sys; print(wharf.__version__); print(wharf.__file__)"], cwd=tmp_path)
    assert mod.returncode == 0, f"import wharf failed in the fresh venv:\n{mod.stderr}"
    printed_version, module_file = mod.stdout.strip().splitlines()
    assert printed_version == version, f"wharf.__version__ is {printed_version!r}, `wharf --version` says {version!r}"
    assert Path(module_file).resolve().is_relative_to(venv.resolve()), f"wharf was imported from {module_file}"

    meta = _run([str(py), "-c", "import importlib.metadata as m; print(m.version('wharf'))"], cwd=tmp_path)
    assert meta.stdout.strip() == version, f"the installed distribution's version is {meta.stdout!r}"

    # The command does real work, not only --version: pull a file from the loopback hub.
    body = pattern(200_000, 11)
    url = home.hub.put_file("w.bin", body)
    pulled = _run([str(exe), "pull", f"{url}#sha256={sha256_hex(body)}", "--json"], cwd=tmp_path)
    assert pulled.returncode == 0, pulled.stderr
    path = Path(json.loads(pulled.stdout)["models"][0]["path"])
    assert path.read_bytes() == body
    assert path.resolve().is_relative_to(home.wharf_home.resolve())


def test_uv_tool_install_offline_gives_a_working_command(home: Home, tmp_path: Path) -> None:
    wheel = wheel_path()
    uv = os.environ.get("WHARF_TEST_UV") or shutil.which("uv")
    if not uv or not Path(uv).exists():
        missing("uv is not available (set WHARF_TEST_UV to a uv binary)")
    tool_dir, bin_dir, cache = tmp_path / "uv-tools", tmp_path / "uv-bin", tmp_path / "uv-cache"
    env = dict(
        os.environ,
        UV_TOOL_DIR=str(tool_dir),
        UV_TOOL_BIN_DIR=str(bin_dir),
        UV_CACHE_DIR=str(cache),
        UV_PYTHON=sys.executable,
        UV_PYTHON_DOWNLOADS="never",
        UV_NO_MANAGED_PYTHON="1",
        UV_OFFLINE="1",
        UV_NO_CONFIG="1",
        UV_NO_PROGRESS="1",
    )
    out = _run([uv, "tool", "install", "--offline", str(wheel)], env=env, cwd=tmp_path)
    assert out.returncode == 0, f"uv tool install --offline {wheel} failed:\n{out.stdout}\n{out.stderr}"
    exe = bin_dir / "wharf"
    assert exe.exists(), f"uv put no `wharf` in UV_TOOL_BIN_DIR {bin_dir}: {sorted(os.listdir(bin_dir)) if bin_dir.exists() else 'missing'}"
    assert _version_of(exe) == _wheel_version(wheel)
    # The tool's environment is under UV_TOOL_DIR, not anywhere else.
    assert (tool_dir / "wharf").is_dir(), f"no tool environment in {tool_dir}"
    # And it works: a pull from the loopback hub.
    body = pattern(3000, 12)
    url = home.hub.put_file("t.bin", body)
    pulled = _run([str(exe), "pull", url, "--json"], cwd=tmp_path)
    assert pulled.returncode == 0, pulled.stderr
    assert sha256_file(Path(json.loads(pulled.stdout)["models"][0]["path"])) == sha256_hex(body)


def test_the_wheel_packs_only_the_package() -> None:
    wheel = wheel_path()
    version = _wheel_version(wheel)
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        entry_points = z.read(f"wharf-{version}.dist-info/entry_points.txt").decode()
    assert names, "the wheel is empty"
    tops = {n.split("/", 1)[0] for n in names}
    assert tops == {"wharf", f"wharf-{version}.dist-info"}, f"unexpected top-level entries: {sorted(tops)}"
    assert "wharf/py.typed" in names, "no wharf/py.typed: type checkers would ignore the stub"
    assert any(n.startswith("wharf/") and n.endswith(".pyi") for n in names), "no .pyi stub in the wheel"
    assert "wharf/__init__.py" in names
    assert any(re.match(r"wharf/_wharf\..*(so|pyd)$", n) for n in names), f"no extension module: {names}"
    bad = [
        n
        for n in names
        if "tests/" in n or "fixtures/" in n or "examples/" in n or "conftest" in n or n.endswith(".rs")
    ]
    assert not bad, f"the wheel packs files that are not the package: {bad}"
    assert re.search(r"^wharf\s*=\s*wharf\._cli:main\s*$", entry_points, re.M), entry_points

