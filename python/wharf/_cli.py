"""The ``wharf`` command of the wheel: wharf's CLI, run inside the extension module."""

from __future__ import annotations

import signal
import sys
from typing import NoReturn

from wharf import _wharf


def main() -> NoReturn:
    # Ctrl-C ends the command as it ends the native binary (Python's handler would only set a flag
    # that nothing reads while the CLI runs).
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    # Python ignores SIGXFSZ; a program `wharf run` starts must not inherit that.
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    sys.exit(_wharf.run_cli(["wharf", *sys.argv[1:]]))
