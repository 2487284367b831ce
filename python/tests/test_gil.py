"""Must-hold 4: a download does not hold the GIL — another Python thread keeps running while
``wharf.pull`` waits for a slow server in the main thread."""

from __future__ import annotations

import threading
import time
from typing import List, Optional

import pytest

import wharf
from conftest import Home
from hub import MIB, pattern, sha256_hex

SIZE = 4 * MIB
RATE = 1.5 * MIB  # about 2.7 s


@pytest.mark.parametrize("kind", ["hf", "url"])
def test_another_thread_runs_while_a_download_waits(home: Home, kind: str) -> None:
    body = pattern(SIZE, 41)
    if kind == "hf":
        home.hub.put_repo("org/slow", {"w.bin": body})
        spec, path = "hf://org/slow@main/w.bin", f"/blobs/{sha256_hex(body)}"
    else:
        spec, path = home.hub.put_file("slow.bin", body), "/files/slow.bin"
    home.hub.rate = RATE

    ticks: List[float] = []
    stop = threading.Event()

    def ticker() -> None:
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.001)

    progress_calls: List[int] = []

    def progress(file: str, done: int, total: Optional[int]) -> None:
        progress_calls.append(done)

    t = threading.Thread(target=ticker, daemon=True)
    t.start()
    try:
        while not ticks:
            time.sleep(0.01)
        begin = time.monotonic()
        p = wharf.pull(spec, progress=progress)  # in the main thread
        end = time.monotonic()
    finally:
        stop.set()
        t.join(timeout=10)
    assert p.read_bytes() == body
    assert home.hub.body_bytes(path) == len(body)
    window = end - begin
    assert window > 1.5, f"the throttled download took only {window:.2f} s: the test proves nothing"
    during = [x for x in ticks if begin < x < end]
    # With the GIL held for the whole download the ticker would get (almost) nothing.
    assert len(during) > 100, f"the other thread ticked {len(during)} times in {window:.2f} s of download"
    # It ran all along, not only at the start or the end (e.g. around progress callbacks).
    mid = begin + window / 2
    assert sum(1 for x in during if x < mid) > 30 and sum(1 for x in during if x >= mid) > 30, (
        f"ticks in the first half: {sum(1 for x in during if x < mid)}, second: {sum(1 for x in during if x >= mid)}"
    )
    assert progress_calls and progress_calls[-1] == len(body)
