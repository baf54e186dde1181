"""An in-repo Metabase API emulator: state, routes and errors kept apart, served in-process or over HTTP."""

from .app import Emulator

__all__ = ["Emulator"]
