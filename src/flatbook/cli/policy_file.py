"""The ``--policy-file FILE.py`` option: load a user's policies before the run's config is built.

Every command that takes ``--policy`` takes it too; the file's policies are then known by
name (:func:`flatbook.api.catalogue.load_policies`), exactly as the built-in ones.
"""

from typing import Annotated

import typer

PolicyFileOpt = Annotated[
    str | None,
    typer.Option(
        "--policy-file",
        metavar="FILE.py",
        help="A Python file defining your own policies (@flatbook.policies.policy); then --policy NAME.",
    ),
]


def load_policy_files(path: str | None) -> None:
    """Register the policies of ``path`` (nothing when None)."""
    if path is None:
        return
    from ..api.catalogue import load_policies  # lazy: start-up (numba)

    load_policies(path)
