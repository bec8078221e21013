"""The ``flatbook`` console script and ``python -m flatbook``: Ctrl-C handled from the first statement.

Importing the command line (typer, rich, numpy, numba) takes about half a second. A
Ctrl-C in that window used to end in a ``KeyboardInterrupt`` traceback and exit status
−2 (killed by SIGINT). This module imports only the standard library, so the handling
is in place before the heavy imports start: any Ctrl-C before the command takes over
prints ``interrupted`` and exits 130, as a Ctrl-C during a command does.
"""
from __future__ import annotations

import sys
from collections.abc import Sequence

EXIT_INTERRUPTED = 130  # 128 + SIGINT, the shell's convention


def interrupted() -> int:
    """Say ``interrupted`` on stderr (one line) and return the exit status 130."""
    sys.stderr.write("interrupted\n")
    sys.stderr.flush()
    return EXIT_INTERRUPTED


def main(argv: Sequence[str] | None = None) -> None:
    """Import the command line and run it; Ctrl-C at any point exits 130 without a traceback."""
    try:
        from .app import main as run   # the heavy imports, inside the handler on purpose

        run(argv)
    except KeyboardInterrupt:
        raise SystemExit(interrupted()) from None


if __name__ == "__main__":
    main()
