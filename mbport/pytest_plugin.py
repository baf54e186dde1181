"""The `metabase` pytest fixture for your own CI (with `mbport[emulator]`): a fresh emulated Metabase per test."""

from __future__ import annotations

import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import httpx

    from .client import MetabaseClient
    from .emulator import Emulator

ADMIN_EMAIL = "admin@example.com"
MARKER = "metabase(seed=None, profile=None, premium_features=None): the `metabase` fixture's instance for this test"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mbport", "mbport's metabase fixture (an emulated Metabase)")
    group.addoption("--metabase-seed", default=None, metavar="NAME|FILE",
                    help="content of every `metabase` fixture: a built-in seed (sample, enterprise, handmade) or "
                         "a seed file defining load(api); default none (an empty, set-up instance)")
    group.addoption("--metabase-profile", default=None, metavar="VERSION",
                    help="the Metabase version the fixture imitates (e.g. 0.56, 0.61, 0.63; default the newest)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)


@dataclass
class Metabase:
    """One emulated Metabase, set up with an admin. In-process through `client()`/`http()`; `url` and `cli_args`
    serve it over HTTP on a free local port (started on first use), for the `mbport` command or other tools."""

    emulator: Emulator
    email: str
    password: str = field(repr=False)
    session_token: str = field(repr=False)
    _server: Any = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _url: str | None = None

    def client(self) -> MetabaseClient:
        """mbport's own API client, signed in as the admin (export, import and verify take it)."""
        from .client import MetabaseClient

        return MetabaseClient("http://metabase.test", session_token=self.session_token,
                              transport=self.emulator.transport())

    def http(self) -> httpx.Client:
        """A plain httpx client for Metabase's REST API (`/api/...`), signed in as the admin."""
        import httpx

        return httpx.Client(transport=self.emulator.transport(), base_url="http://metabase.test",
                            headers={"X-Metabase-Session": self.session_token}, timeout=30)

    @property
    def url(self) -> str:
        """The instance's base URL over real HTTP (127.0.0.1, a free port)."""
        if self._url is None:
            self._url = self._serve()
        return self._url

    @property
    def cli_args(self) -> list[str]:
        """`--url ... --username ... --password ...` for an `mbport` command run against this instance."""
        return ["--url", self.url, "--username", self.email, "--password", self.password]

    def _serve(self) -> str:
        import uvicorn

        from .emulator.server import asgi_app

        sock = socket.create_server(("127.0.0.1", 0))
        self._server = uvicorn.Server(uvicorn.Config(asgi_app(self.emulator), log_level="warning"))
        # uvicorn installs no signal handlers outside the main thread: pytest keeps its own Ctrl-C.
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True,
                                        name="mbport-metabase-fixture")
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the metabase fixture's HTTP server did not start")
            time.sleep(0.01)
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

    def close(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)


def _settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The instance's seed, profile and premium features: the test's marker, else the command line's options."""
    settings = {"seed": request.config.getoption("metabase_seed"),
                "profile": request.config.getoption("metabase_profile"), "premium_features": None}
    marker = request.node.get_closest_marker("metabase")
    if marker is not None:
        unknown = sorted(set(marker.kwargs) - set(settings)) or list(marker.args)
        if unknown:
            pytest.fail(f"@pytest.mark.metabase: unknown argument {unknown[0]!r}; it takes "
                        f"{', '.join(f'{k}=' for k in settings)}", pytrace=False)
        settings.update(marker.kwargs)
    return settings


@pytest.fixture
def metabase(request: pytest.FixtureRequest) -> Any:
    """A fresh emulated Metabase with an admin (and the marker's or --metabase-seed's content), gone after the test."""
    from .errors import MbportError
    from .extras import require_emulator

    try:
        require_emulator("the metabase fixture")
    except MbportError as exc:
        pytest.fail(str(exc), pytrace=False)
    from .emulator import Emulator, bootstrap, seeds

    settings = _settings(request)
    emu = Emulator(settings["profile"], premium_features=settings["premium_features"])
    password = secrets.token_urlsafe(18)
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, password)
    if settings["seed"]:
        seeds.load(emu, settings["seed"], session)
        emu.wait_idle()
    instance = Metabase(emu, ADMIN_EMAIL, password, session)
    yield instance
    instance.close()
