"""mbport: Metabase content as code."""

import sys
import types

__version__ = "0.1.0"


def _httpx_without_its_command_line() -> None:
    """httpx's package imports its command-line client (click, rich and pygments: some 100 ms of every mbport
    start) whenever those are installed, as they are beside mbport. mbport never runs that client: a stand-in
    takes its place before httpx is first imported, and loads the real one only if someone calls it."""
    if "httpx" in sys.modules or "httpx._main" in sys.modules:
        return
    stand_in = types.ModuleType("httpx._main")

    def main(*args: object, **kwargs: object) -> object:
        del sys.modules["httpx._main"]
        import importlib

        return importlib.import_module("httpx._main").main(*args, **kwargs)

    vars(stand_in)["main"] = main  # a module object takes any attribute; mypy knows only ModuleType's own
    sys.modules["httpx._main"] = stand_in


_httpx_without_its_command_line()
