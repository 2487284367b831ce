"""Must-hold 3: one transfer however many callers ask at once — two Python threads of one process,
then two Python processes — counted on the server."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

import wharf
from conftest import Home, isolate
from hub import MIB, FakeHub, pattern, sha256_hex

SIZE = 4 * MIB
RATE = 2 * MIB  # about two seconds a transfer


def _publish(hub: FakeHub, kind: str) -> Tuple[str, str, bytes]:
    """(spec, the path its bytes are served at, the bytes) for a Hugging Face file or a URL."""
    body = pattern(SIZE, 31 if kind == "hf" else 32)
    if kind == "hf":
        hub.put_repo("org/big", {"weights.bin": body})
        return "hf://org/big@main/weights.bin", f"/blobs/{sha256_hex(body)}", body
    url = hub.put_file("big.bin", body)
    return f"{url}#sha256={sha256_hex(body)}", "/files/big.bin", body


def _assert_one_transfer(hub: FakeHub, path: str, body: bytes, starts: List[float]) -> None:
    transfers = hub.transfers(path)
    assert len(transfers) >= 1, "nothing was downloaded"
    full = [t for t in transfers if t.range is None]
    assert len(full) == 1, f"{len(full)} full transfers of {path}: {transfers}"
    assert hub.body_bytes(path) == len(body), f"sent {hub.body_bytes(path)} bytes for a {len(body)}-byte file"
    # Both callers really asked while the one transfer was under way (else this proves nothing).
    end = max(t.ended or time.time() for t in transfers)
    assert all(s < end for s in starts), f"a caller started after the transfer ended: {starts} vs {end}"


@pytest.mark.parametrize("kind", ["hf", "url"])
def test_two_threads_pulling_at_once_make_one_transfer(home: Home, kind: str) -> None:
    spec, path, body = _publish(home.hub, kind)
    home.hub.rate = RATE
    barrier = threading.Barrier(2)
    results: Dict[int, Path] = {}
    errors: List[BaseException] = []
    starts: List[float] = []

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            starts.append(time.time())
            results[i] = wharf.pull(spec)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a pull did not return"
    assert not errors, errors
    assert results[0] == results[1]
    assert results[0].read_bytes() == body
    _assert_one_transfer(home.hub, path, body, starts)


CHILD = r"""
import sys, time, wharf
print("ready", flush=True)
sys.stdin.readline()
print("start", repr(time.time()), flush=True)
p = wharf.pull(sys.argv[1])
print("path", p, flush=True)
"""


@pytest.mark.parametrize("kind", ["hf", "url"])
def test_two_processes_pulling_at_once_make_one_transfer(
    home: Home, kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fresh home and cache, unlike the threads' test (each test has its own anyway: check it).
    fresh = isolate(monkeypatch, tmp_path.resolve() / "fresh", home.hub)
    assert not fresh.hub_cache.exists() and not fresh.wharf_home.exists()
    spec, path, body = _publish(home.hub, kind)
    home.hub.rate = RATE
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, spec],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=fresh.home,
        )
        for _ in range(2)
    ]
    try:
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline()
            assert line.strip() == "ready", f"child said {line!r}; stderr: {p.stderr.read() if p.stderr else ''}"
        for p in procs:  # both are waiting: let them go together
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        outs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, f"child exited {p.returncode}:\n{out}\n{err}"
    starts = [float(line.split()[1]) for out, _ in outs for line in out.splitlines() if line.startswith("start ")]
    paths = [line.split(" ", 1)[1] for out, _ in outs for line in out.splitlines() if line.startswith("path ")]
    assert len(starts) == 2 and len(paths) == 2, outs
    assert paths[0] == paths[1]
    assert Path(paths[0]).read_bytes() == body
    assert Path(paths[0]).resolve().is_relative_to(fresh.home)
    _assert_one_transfer(home.hub, path, body, starts)
