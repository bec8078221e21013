"""How every command ends on Ctrl-C: ``interrupted`` on stderr and exit status 130 (128 + SIGINT).

Standard library only, no side effects: imported by :mod:`flatbook.cli.root` and by the
console script's entry point :mod:`flatbook.cli.entry` before anything heavy.
"""

from __future__ import annotations

import sys

EXIT_INTERRUPTED = 130  # 128 + SIGINT, the shell's convention


def interrupted() -> int:
    """Say ``interrupted`` on stderr (one line) and return the exit status 130."""
    sys.stderr.write("interrupted\n")
    sys.stderr.flush()
    return EXIT_INTERRUPTED
