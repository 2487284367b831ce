"""A typed tour of wharf's Python API.

The test suite checks it with ``mypy --strict`` (python/tests/test_typing.py) and runs it:

    python typed_usage.py SPEC STORE_DIR [PROJECT MODEL_NAME]

pulls SPEC (``hf://ORG/REPO[@REV]/PATH``, ``https://…#sha256=HEX``, ``file:///…``) into the
default store, then into a ModelStore at STORE_DIR, and — given a registered project (``wharf
init``) and the name of a model of its ``wharf.toml`` — gets that model and checks the project.
It prints one ``key value`` line per result.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import wharf


class Progress:
    """A progress callback with state: the last count per file (called from worker threads)."""

    def __init__(self) -> None:
        self.last: Dict[str, Tuple[int, Optional[int]]] = {}

    def __call__(self, file: str, done: int, total: Optional[int]) -> None:
        self.last[file] = (done, total)

    def finished(self) -> List[str]:
        return sorted(f for f, (done, total) in self.last.items() if total is not None and done == total)


def quiet(file: str, done: int, total: Optional[int]) -> bool:
    # A callback may return anything; wharf ignores it.
    return total is not None and done == total


def explain(e: wharf.WharfError) -> str:
    """One line for any wharf error, with the fields each kind has."""
    kind = type(e).__name__
    hint: Optional[str] = e.hint
    code: str = e.code
    if isinstance(e, wharf.ChecksumMismatch):
        expected: str = e.expected
        actual: str = e.actual
        return f"{kind}[{code}]: pinned {expected}, got {actual}"
    if isinstance(e, wharf.UsageError):
        as_value_error: ValueError = e  # a UsageError is also a ValueError
        return f"{kind}[{code}]: {as_value_error} (hint: {hint})"
    if isinstance(e, (wharf.OfflineError, wharf.DownloadError, wharf.DiskFull, wharf.RegistryError)):
        return f"{kind}[{code}]: {e} (hint: {hint})"
    return f"{kind}[{code}]: {e}"


def fetch(spec: str, sha256: Optional[str] = None, offline: bool = False) -> Optional[Path]:
    """``wharf.pull`` with every error turned into a message."""
    try:
        return wharf.pull(spec, sha256=sha256, offline=offline, progress=quiet)
    except wharf.WharfError as e:
        print("error", explain(e))
        return None


def fetch_repo(spec: str, include: Sequence[str] = ("*.json", "*.bin"), exclude: Sequence[str] = ()) -> Path:
    """A whole Hugging Face repo (``hf://ORG/REPO[@REV]``): its snapshot folder."""
    return wharf.pull(spec, include=list(include), exclude=tuple(exclude), progress=lambda f, d, t: None)


def store_tour(root: Path, spec: str) -> Dict[str, Any]:
    store = wharf.ModelStore(root)
    default = wharf.ModelStore(offline=True)
    dirs: Tuple[Path, Path] = (store.cache_dir, store.hub_cache)
    assert dirs[1] == root / "hub"
    assert isinstance(default.cache_dir, Path)
    before: bool = store.is_cached(spec)
    progress = Progress()
    path: Path = store.get_model(spec, progress=progress)
    stats: wharf.StoreStats = store.stats()
    total_models: int = stats["total_models"]
    report: wharf.IntegrityReport = store.validate_integrity()
    valid: List[str] = report["valid"]
    would: wharf.RemoveReport = store.remove_model(spec, dry_run=True)
    cleared: wharf.RemoveReport = store.clear(dry_run=True)
    fixed: wharf.IntegrityReport = store.validate_integrity(fix=True)
    return {
        "store_path": path,
        "store_cached_before": before,
        "store_cached_after": store.is_cached(spec),
        "store_models": total_models,
        "store_valid": len(valid),
        "store_would_remove": len(would["removed"]),
        "store_would_clear": len(cleared["removed"]),
        "store_fixed": len(fixed["removed"]),
        "store_progress_finished": len(progress.finished()),
    }


def project_tour(project: os.PathLike[str] | str, name: str) -> Dict[str, Any]:
    path = wharf.model(name, project, progress=Progress())
    again = wharf.model(name, project=Path(project), offline=True)
    doc: Dict[str, Any] = wharf.check(project)
    everything = wharf.check(all=True, full=True)
    statuses: List[str] = [p["status"] for p in doc["projects"]]
    try:
        wharf.model("no-such-model", project)
        unknown = "none"
    except wharf.UsageError as e:
        unknown = explain(e)
    return {
        "model_path": path,
        "model_again_same": again == path,
        "check_ok": bool(doc["ok"]),
        "check_statuses": ",".join(statuses),
        "check_all_count": len(everything["projects"]),
        "unknown_model": unknown.split(":")[0],
    }


def main(argv: Sequence[str]) -> int:
    if len(argv) not in (2, 4):
        print(__doc__, file=sys.stderr)
        return 2
    spec, store_dir = argv[0], Path(argv[1])
    results: Dict[str, Any] = {"version": wharf.__version__}
    path = fetch(spec)
    if path is None:
        return 1
    results["path"] = path
    results["offline_same"] = fetch(spec, offline=True) == path
    results["wrong_pin"] = fetch(spec, sha256="0" * 64) is None
    results.update(store_tour(store_dir, spec))
    if len(argv) == 4:
        results.update(project_tour(argv[2], argv[3]))
    for key, value in results.items():
        print(key, value)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
