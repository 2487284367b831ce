"""The exceptions wharf raises: one class per kind of failure, with the CLI's message and hint."""

from __future__ import annotations

from typing import Optional


class WharfError(Exception):
    """Any failure of wharf. ``str(e)`` is the CLI's text (message, then a ``hint:`` line).

    Attributes: ``message`` (what went wrong), ``hint`` (how to fix it, or None) and ``code`` (a
    stable name for the kind of failure, as in the CLI's ``--json`` error document).
    """

    message: str
    hint: Optional[str]
    code: str

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.message = text
        self.hint = None
        self.code = "failed"


class DownloadError(WharfError):
    """A model could not be fetched (network, server, a source that does not exist)."""


class ChecksumMismatch(DownloadError):
    """The bytes received are not those pinned; nothing was kept.

    ``expected`` is the pinned SHA-256, ``actual`` the one of the bytes received (hex).
    """

    expected: str
    actual: str


class DiskFull(WharfError):
    """Not enough free space in the store for the file."""


class OfflineError(WharfError):
    """Offline (``offline=True``, ``WHARF_OFFLINE``, ``HF_HUB_OFFLINE``) and not in the store."""


class RegistryError(WharfError):
    """The registry (``registry.json``) cannot be read, locked or written."""


class UsageError(WharfError, ValueError):
    """Bad input: a spec that does not parse, an unknown model name, a folder that is no project."""
