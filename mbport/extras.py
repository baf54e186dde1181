"""Optional parts of mbport: the emulator's web server and spec checking come with `pip install 'mbport[emulator]'`."""

from __future__ import annotations

import importlib

from .errors import MbportError

# The third-party modules of the `emulator` extra (pyproject.toml); the backup and import paths import none of them.
EMULATOR_MODULES = ("starlette", "uvicorn", "jsonschema", "jsonschema_rs", "referencing")
EMULATOR_INSTALL = "pip install 'mbport[emulator]'"


def require_emulator(what: str) -> None:
    """Raise one line saying what to install when the emulator extra is missing (before a traceback could)."""
    for name in EMULATOR_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and exc.name.split(".")[0] != name:
                raise  # the package is there but broken: its own error says more than an install hint
            raise MbportError(f"{what} needs the emulator, which this install lacks: {EMULATOR_INSTALL}") from None
