"""Must-hold 5: Ctrl-C (SIGINT) during ``wharf.pull`` raises KeyboardInterrupt within a second,
leaves no file at the final location (only a partial download), and the next pull resumes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import pytest

import wharf
from conftest import Home, files_under
from hub import MIB, pattern, sha256_hex

SIZE = 4 * MIB
RATE = 200 * 1024  # about 20 s for the whole file: it is interrupted long before the end

CHILD = r"""
import sys, time, wharf
announced = False
def progress(file, done, total):
    global announced
    if not announced and done >= 64 * 1024:
        announced = True
        print("started", done, flush=True)
try:
    p = wharf.pull(sys.argv[1], progress=progress)
except KeyboardInterrupt:
    print("interrupted", repr(time.time()), flush=True)
    sys.exit(42)
print("finished", p, flush=True)
"""


def _visible_files(home: Home) -> List[Path]:
    """Files under both stores other than partial downloads and lock files."""
    return [
        p
        for root in (home.hub_cache, home.wharf_cache)
        for p in files_under(root)
        if ".incomplete" not in p.name and ".locks" not in p.relative_to(root).parts
    ]


@pytest.mark.parametrize("kind", ["hf", "url"])
def test_ctrl_c_interrupts_a_pull_within_a_second_and_the_next_pull_resumes(home: Home, kind: str) -> None:
    body = pattern(SIZE, 51)
    digest = sha256_hex(body)
    if kind == "hf":
        commit = home.hub.put_repo("org/slow", {"w.bin": body})
        spec, path = "hf://org/slow@main/w.bin", f"/blobs/{digest}"
        final = [home.snapshot("org/slow", commit, "w.bin"), home.repo_folder("org/slow") / "blobs" / digest]
    else:
        spec = home.hub.put_file("slow.bin", body) + f"#sha256={digest}"
        path = "/files/slow.bin"
        final = [home.wharf_cache / "blobs" / "sha256" / digest]
    home.hub.rate = RATE

    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, spec],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith("started"), f"child said {line!r}; stderr: {child.stderr.read() if child.stderr else ''}"
        assert home.hub.body_bytes(path) > 0
        sent_at = time.time()
        os.kill(child.pid, signal.SIGINT)
        out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 42, f"child exited {child.returncode}, not by catching KeyboardInterrupt:\n{out}\n{err}"
    caught = [ln for ln in out.splitlines() if ln.startswith("interrupted ")]
    assert len(caught) == 1, out
    delay = float(caught[0].split()[1]) - sent_at
    assert delay < 1.0, f"KeyboardInterrupt came {delay:.2f} s after SIGINT"
    assert "finished" not in out
    sent_before = home.hub.body_bytes(path)
    assert sent_before < len(body), "the whole file was sent before the interrupt: the test proves nothing"

    # Nothing at the final location; only a partial download (and lock files) under the stores.
    for f in final:
        assert not os.path.lexists(f), f"{f} exists after an interrupted pull"
    assert _visible_files(home) == [], _visible_files(home)
    partials = [p for root in (home.hub_cache, home.wharf_cache) for p in files_under(root) if ".incomplete" in p.name]
    assert len(partials) == 1, partials
    kept = partials[0].stat().st_size
    assert 0 < kept < len(body), f"the partial download has {kept} bytes"
    assert not partials[0].name.endswith(".ranged"), "a single stream's partial should be resumable"

    # The next pull, at full speed, resumes: it asks for the rest only.
    home.hub.rate = None
    home.hub.reset_counters()
    p = wharf.pull(spec)
    assert p.read_bytes() == body
    sent_after = home.hub.body_bytes(path)
    assert sent_after < len(body), f"sent {sent_after} bytes for the rest of a {len(body)}-byte file: not resumed"
    ranged = [r.headers.get("range") for r in home.hub.requests(method="GET", path=path)]
    assert f"bytes={kept}-" in ranged, f"no request resumed at byte {kept}: {ranged}"
    assert sent_after == len(body) - kept
    assert [p for root in (home.hub_cache, home.wharf_cache) for p in files_under(root) if ".incomplete" in p.name] == []
