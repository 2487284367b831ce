"""``python -m wharf …`` is the ``wharf`` command."""

from wharf._cli import main

main()
