"""The one error type for bad user input (config, CLI flags, data files)."""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input. ``field`` names what is wrong; the CLI exits 2 with ``str(self)``."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")
