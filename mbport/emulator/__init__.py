"""An in-repo Metabase API emulator: state, routes and errors kept apart, served in-process or over HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import Emulator

__all__ = ["Emulator"]


def __getattr__(name: str) -> Any:
    # Loaded on first use, so that a pure submodule (seeds, events ...) imports without the `emulator` extra's web
    # server and schema packages, which `.app` pulls in.
    if name == "Emulator":
        from .app import Emulator

        return Emulator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
