"""The ``flatbook`` console script and ``python -m flatbook``: Ctrl-C handled from the first statement.

Importing the command line (typer and rich; numpy and numba load later, inside the
command that needs them) takes a tenth of a second or more. A Ctrl-C in that window used to end in a ``KeyboardInterrupt`` traceback and exit status
−2 (killed by SIGINT). The first statements of this module install a SIGINT handler
that ends the process with ``interrupted`` and status 130, as a Ctrl-C during a command
does; :func:`main` puts Python's default handler back once the command line is
imported, so the commands' own handling (nothing half-written to ``--out``) takes over.
What stays uncovered is the interpreter's own start-up before this module runs.
Only the console script and ``flatbook/__main__.py`` import this module.
"""

import signal


def _exit_interrupted(signum, frame) -> None:
    raise SystemExit(interrupted())


signal.signal(signal.SIGINT, _exit_interrupted)  # first, before any other import

from collections.abc import Sequence  # noqa: E402

from .interrupt import interrupted  # noqa: E402


def main(argv: Sequence[str] | None = None) -> None:
    """Import the command line and run it; Ctrl-C at any point exits 130 without a traceback."""
    from .root import main as run  # the heavy imports, under _exit_interrupted

    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        run(argv)
    except KeyboardInterrupt:  # between the imports and the command's own handling
        raise SystemExit(interrupted()) from None


if __name__ == "__main__":
    main()
