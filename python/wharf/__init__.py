"""wharf from Python: the models of a project by name, verified downloads, the store, the CI check.

    import wharf

    weights = wharf.model("tinyllama")            # the model `tinyllama` of this project's wharf.toml
    path = wharf.pull("hf://org/repo@main/model.safetensors")
    report = wharf.check()                        # the document of `wharf check --json`

Every call reads the environment as it is at that moment (``WHARF_HOME``, ``HF_ENDPOINT``,
``HF_HUB_CACHE``, ``WHARF_OFFLINE``, ``WHARF_MIRRORS`` … as the ``wharf`` command does) and
releases the GIL while it works. A download (``pull``, ``model``, ``ModelStore.get_model``) stops on
Ctrl-C with ``KeyboardInterrupt``; it keeps its partial file, and the next pull resumes it. Failures
raise :class:`WharfError` subclasses.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, TypedDict, Union

from wharf import _wharf
from wharf._errors import (
    ChecksumMismatch,
    DiskFull,
    DownloadError,
    OfflineError,
    RegistryError,
    UsageError,
    WharfError,
)

__version__: str = _wharf.__version__

__all__ = [
    "ChecksumMismatch",
    "DiskFull",
    "DownloadError",
    "IntegrityReport",
    "ModelStore",
    "OfflineError",
    "ProgressCallback",
    "RegistryError",
    "RemoveReport",
    "StoreStats",
    "UsageError",
    "WharfError",
    "__version__",
    "check",
    "model",
    "pull",
]

StrPath = Union[str, "os.PathLike[str]"]

#: Called as ``progress(file, done_bytes, total_bytes)`` (``total_bytes`` is None when the server
#: does not say), on the calling thread, at most ten times a second per file and once when the file
#: is complete; the transfer goes on meanwhile. An exception it raises stops the download and is
#: raised by the call. It must not call wharf itself.
ProgressCallback = Callable[[str, int, Optional[int]], object]


class StoreStats(TypedDict):
    """:meth:`ModelStore.stats` (the document of ``wharf models stats --json``)."""

    total_models: int
    total_size_bytes: int
    wharf_models: int
    wharf_size_bytes: int
    used_models: int
    partial_files: int
    partial_bytes: int
    hub_cache: str
    wharf_cache: str


class IntegrityReport(TypedDict):
    """:meth:`ModelStore.validate_integrity`: lists of ids (as ``wharf models list`` shows them)."""

    valid: List[str]
    corrupted: List[str]
    #: Files that could not be read to their end (``{"id", "path", "error"}``): never removed.
    unreadable: List[Dict[str, Any]]
    missing: List[str]
    #: Snapshot links to nothing that name no file, by path.
    dangling_links: List[str]
    #: With ``fix=True``: what was removed (``{"id", "path"}``).
    removed: List[Dict[str, Any]]


class RemoveReport(TypedDict):
    """:meth:`ModelStore.remove_model` and :meth:`ModelStore.clear`."""

    dry_run: bool
    #: Ids of the files and partial downloads removed (in a dry run: that would be).
    removed: List[str]
    #: Partial downloads left alone, with the reason (one being written, say).
    kept: List[Dict[str, Any]]
    freed_bytes: int


class ModelStore:
    """The model store: Hugging Face files in the shared hub cache (the one ``huggingface_hub``
    uses), URLs, S3 objects and local files in wharf's content-addressed store.

    ``cache_dir``: None for the default store (``WHARF_CACHE_DIR``, else ``$WHARF_HOME/cache`` or
    ``~/.cache/wharf``; the hub cache from ``HF_HUB_CACHE``/``HF_HOME``); a folder to keep both
    there (wharf's store in it, the Hugging Face cache in ``cache_dir/hub``). ``offline=True``:
    never touch the network, serve only what is stored.
    """

    def __init__(self, cache_dir: Optional[StrPath] = None, *, offline: bool = False) -> None:
        self._store = _wharf.ModelStore(cache_dir, offline=offline)
        root, hub = self._store.roots()
        #: wharf's content-addressed store (fixed when the store is made).
        self.cache_dir: Path = root
        #: The Hugging Face hub cache (fixed when the store is made).
        self.hub_cache: Path = hub

    def get_model(
        self,
        spec: str,
        *,
        sha256: Optional[str] = None,
        offline: bool = False,
        allow_http: bool = False,
        progress: Optional[ProgressCallback] = None,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
    ) -> Path:
        """The stored file of ``spec``, fetched and verified first if it is not stored.

        ``spec`` is what ``wharf pull`` takes: ``hf://ORG/REPO[@REV]/PATH`` (one file),
        ``hf://ORG/REPO[@REV]`` (a whole repo, filtered by ``include``/``exclude`` globs: the
        answer is its snapshot folder), ``https://…[#sha256=HEX]``, ``s3://BUCKET/KEY[#sha256=HEX]``
        or ``file:///…``. ``sha256`` pins the file's digest: other bytes raise
        :class:`ChecksumMismatch` and nothing is kept. Plain ``http://`` is fetched from loopback
        hosts only, unless ``allow_http``.
        """
        return self._store.get_model(
            spec,
            sha256=sha256,
            offline=offline,
            allow_http=allow_http,
            progress=progress,
            include=_globs(include),
            exclude=_globs(exclude),
        )

    def is_cached(self, spec: str, *, sha256: Optional[str] = None) -> bool:
        """True when ``spec`` (with the digest ``sha256``, when given) is in the store; decided
        without any network call or write."""
        return self._store.is_cached(spec, sha256=sha256)

    def remove_model(self, model_id: str, *, dry_run: bool = False) -> RemoveReport:
        """Remove one file: an id or a unique prefix of it, a source spec, or a model name of the
        project around the current folder (as ``wharf models rm``). A file a registered project
        uses is never removed (:class:`UsageError`)."""
        report: RemoveReport = json.loads(self._store.remove_model(model_id, dry_run=dry_run))
        return report

    def clear(self, *, dry_run: bool = False) -> RemoveReport:
        """Remove every file wharf fetched that no registered project uses, and dead partial
        downloads (as ``wharf models clear --yes``). Files of other tools are never removed."""
        report: RemoveReport = json.loads(self._store.clear(dry_run=dry_run))
        return report

    def stats(self) -> StoreStats:
        """Counts and bytes of the store (``wharf models stats --json``)."""
        stats: StoreStats = json.loads(self._store.stats())
        return stats

    def validate_integrity(self, *, fix: bool = False) -> IntegrityReport:
        """Re-hash every stored file (in parallel). ``fix=True`` removes the files proved corrupt so
        the next pull fetches them again (``wharf models verify --fix``)."""
        report: IntegrityReport = json.loads(self._store.validate_integrity(fix=fix))
        return report


def _globs(globs: Sequence[str]) -> List[str]:
    # One string is one glob, not a sequence of one-character globs.
    return [globs] if isinstance(globs, str) else list(globs)


def pull(
    spec: str,
    *,
    sha256: Optional[str] = None,
    offline: bool = False,
    allow_http: bool = False,
    progress: Optional[ProgressCallback] = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> Path:
    """Fetch ``spec`` into the default store (verified, atomic, resumable) and return its path.

    One transfer however many threads and processes ask at once. See
    :meth:`ModelStore.get_model` for the specs and the options.
    """
    return ModelStore().get_model(
        spec,
        sha256=sha256,
        offline=offline,
        allow_http=allow_http,
        progress=progress,
        include=include,
        exclude=exclude,
    )


def model(
    name: str,
    project: Optional[StrPath] = None,
    *,
    offline: bool = False,
    progress: Optional[ProgressCallback] = None,
) -> Path:
    """The file of model ``name`` of the project's ``wharf.toml`` — the path ``wharf models path
    NAME`` prints (``<env>/models/<name><ext>``).

    The project is the one around ``project`` (default: the current folder), found upwards by its
    ``.env.wharf`` like the CLI; it must be registered (``wharf init``). When the model is not
    pulled yet, the project's models are pulled first, as ``wharf pull`` in the project does
    (pinned in ``wharf.lock``). Offline, no view is made: the answer is then the stored file.
    """
    start = os.getcwd() if project is None else project
    return _wharf.model(name, start, offline=offline, progress=progress)


def check(project: Optional[StrPath] = None, *, all: bool = False, full: bool = False) -> Dict[str, Any]:
    """The CI check: the same document as ``wharf check --json`` (``ok``, ``projects`` with each
    one's ``status`` and ``reasons``). A project that is not valid is ``"ok": False``, not an
    exception; a registry that cannot be read raises :class:`RegistryError`.

    ``project``: a project folder (default: the project around the current folder); ``all``: every
    registered project; ``full``: re-hash the model files.
    """
    args: List[str] = ["check", "--json"]
    if all:
        args.append("--all")
    if full:
        args.append("--full")
    if project is not None:
        # After `--`: a folder named `-h` is a folder, not an option.
        args += ["--", os.fspath(project)]
    doc: Dict[str, Any] = json.loads(_wharf.cli_json(args))
    return doc
