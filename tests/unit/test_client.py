"""MetabaseClient: auth against the emulator, retry rules against scripted failures, map, redaction."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from mbport import client as client_mod
from mbport.client import (
    AmbiguousWriteError,
    ApiError,
    AuthError,
    ConnectionFailed,
    CredentialsRefused,
    MetabaseClient,
    MetabaseVersion,
    Shape,
    redact,
)
from mbport.emulator import Emulator, bootstrap
from mbport.errors import MbportError

URL = "http://mb.test"
EMAIL = "admin@example.com"
API_KEY = "mb_S3cr3tK3yValueForTestsOnly0123456789abcdefgh"
PASSWORD = "Hunter2-Passw0rd!"
TOKEN = "6f1c2e44-secret-session-token-0042"
SECRETS = (API_KEY, PASSWORD, TOKEN)


@pytest.fixture(autouse=True)
def sleeps(monkeypatch) -> list[float]:
    """Backoff sleeps, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(client_mod, "_sleep", recorded.append)
    return recorded


@pytest.fixture(autouse=True)
def messages(caplog):
    """Every error message and hint a test checks, plus every log record: none may contain a secret."""
    caplog.set_level(logging.DEBUG)
    collected: list[str] = []
    yield collected
    collected += [r.getMessage() for r in caplog.records]
    leaks = [m for m in collected for s in SECRETS if s in m]
    assert not leaks, f"secrets leaked into: {leaks}"


@pytest.fixture
def expect(messages):
    """expect(ErrorClass, fn, *args) -> the raised error, its message and hint collected for the secret scan."""

    def run(cls, fn, *args, **kw):
        with pytest.raises(cls) as info:
            fn(*args, **kw)
        messages.extend([str(info.value), info.value.hint or "", repr(info.value)])
        return info.value

    return run


# ---------------------------------------------------------------------------------------------------------------
# Against the emulator


def _admin(emu: Emulator) -> str:
    return bootstrap.setup_admin(emu, EMAIL, PASSWORD)


def _accept_api_key(emu: Emulator, session: str) -> None:
    """Make the emulator accept API_KEY as an admin key (through the API once the api-key routes exist)."""
    if emu.router.match("POST", "/api/api-key")[0] and emu.router.match("GET", "/api/permissions/group")[0]:
        bootstrap.add_api_key(emu, session, "mbport tests", key=API_KEY)
        return
    from mbport.emulator.app import hash_api_key

    admin = emu.state.table("user").first(email=EMAIL)
    emu.state.table("api_key").insert({"name": "mbport tests", "user_id": admin["id"], "key_prefix": API_KEY[:7],
                                       "key_hash": hash_api_key(API_KEY)})


def _emu_client(emu: Emulator, **kw) -> MetabaseClient:
    return MetabaseClient(URL, transport=emu.transport(), **kw)


def test_api_key_auth():
    emu = Emulator()
    _accept_api_key(emu, _admin(emu))
    with _emu_client(emu, api_key=API_KEY) as mb:
        assert isinstance(mb.get("/api/user/current")["id"], int)  # the key's own user, or the admin
        assert mb.requests_by_method == {"GET": 1}


def test_password_auth_logs_in_lazily_and_once():
    emu = Emulator()
    _admin(emu)
    with _emu_client(emu, username=EMAIL, password=PASSWORD) as mb:
        assert mb.request_count == 0
        assert mb.get("/api/user/current")["email"] == EMAIL
        assert mb.get("/api/user/current")["email"] == EMAIL
        assert mb.requests_by_method == {"POST": 1, "GET": 2}
    assert ("POST", "/api/session", 200) in emu.request_log


def test_password_auth_logs_in_again_when_the_session_expires():
    emu = Emulator()
    _admin(emu)
    with _emu_client(emu, username=EMAIL, password=PASSWORD) as mb:
        mb.get("/api/user/current")
        emu.state.sessions.clear()  # what a Metabase restart or session expiry does
        assert mb.get("/api/user/current")["email"] == EMAIL
        assert mb.requests_by_method == {"POST": 2, "GET": 3}


def test_session_token_auth():
    emu = Emulator()
    session = _admin(emu)
    with _emu_client(emu, session_token=session) as mb:
        assert mb.get("/api/user/current")["email"] == EMAIL


def test_wrong_password_is_an_auth_error_with_metabases_message(expect):
    emu = Emulator()
    _admin(emu)
    with _emu_client(emu, username=EMAIL, password=PASSWORD + "x") as mb:
        err = expect(AuthError, mb.get, "/api/user/current")
    assert err.status == 401 and err.path == "/api/session" and isinstance(err, CredentialsRefused)
    assert str(err) == f"{URL} refused the username and password (401 password: did not match stored password)"
    assert "check the username and password" in err.hint


def test_bad_api_key_gives_401_with_the_hint(expect):
    emu = Emulator()
    _admin(emu)
    with _emu_client(emu, api_key=API_KEY) as mb:
        err = expect(AuthError, mb.get, "/api/user/current")
        assert mb.request_count == 1  # a 401 is never retried
    assert (err.status, err.method, err.body) == (401, "GET", "Unauthenticated")
    assert str(err) == f"{URL} refused the API key (401 Unauthenticated)"
    assert "Admin → Settings → Authentication → API keys" in err.hint


def test_credentials_refused_name_where_they_came_from_and_once_accepted_say_so(expect):
    """from_env names the flag or variable that gave the credentials; a key that worked and then stops working (deleted
    mid-run) reads as such, not as a wrong key."""
    emu = Emulator()
    session = _admin(emu)
    env = {"METABASE_SITE_URL": "http://metabase.test", "METABASE_API_KEY": API_KEY}
    with MetabaseClient.from_env(env=env, transport=emu.transport()) as mb:
        err = expect(CredentialsRefused, mb.get, "/api/user/current")
    assert str(err) == "http://metabase.test refused the API key from METABASE_API_KEY (401 Unauthenticated)"
    with MetabaseClient.from_env(env=env, session_token=session, transport=emu.transport()) as mb:
        assert mb.credentials_from == "--session-token"
        mb.get("/api/user/current")
        emu.state.sessions.pop(session)
        err = expect(CredentialsRefused, mb.get, "/api/user/current")
    assert str(err) == ("http://metabase.test no longer accepts the session token from --session-token it accepted "
                        "earlier in this run (401 Unauthenticated)")
    assert "while mbport ran" in err.hint
    with MetabaseClient.from_env(env={**env, "METABASE_PASSWORD": "pw"}, username=EMAIL) as mb:
        assert mb.credentials_from == "--username and METABASE_PASSWORD"


def test_not_found_from_the_emulator(expect):
    emu = Emulator()
    with _emu_client(emu, session_token=_admin(emu)) as mb:
        err = expect(ApiError, mb.get, "/api/user/999")
    assert str(err) == "GET /api/user/999 failed: 404 Not found."
    assert not isinstance(err, AuthError)


@pytest.mark.parametrize(("profile", "minor"), [(None, 61), ("0.63", 63), ("0.56", 56)])
def test_version_from_session_properties(profile, minor):
    emu = Emulator(profile)
    with _emu_client(emu, session_token=_admin(emu)) as mb:
        version = mb.version
        assert mb.version is version  # cached: one request
        assert mb.requests_by_method == {"GET": 1}
    assert (version.major, version.minor, version.edition) == (0, minor, "oss")
    assert version.tag == emu.state.profile.tag
    assert (version >= (0, 57)) is (minor >= 57)
    assert version < (0, 64) and version > (0, 50)


def test_version_parsing_and_comparisons():
    ee = MetabaseVersion.parse("v1.62.2")
    assert (ee.major, ee.minor, ee.patch, ee.edition) == (0, 62, 2, "ee") and ee.is_enterprise
    assert ee == (0, 62, 2) and ee == MetabaseVersion.parse("v0.62.2") and ee == "v0.62.2"
    assert ee >= (0, 62) and ee < (0, 62, 3) and not ee >= (0, 63)
    assert MetabaseVersion.parse("v0.56.13") > "v0.56.9"  # numeric, not string, comparison
    hotfix = MetabaseVersion.parse("v0.46.6.4")
    assert hotfix > (0, 46, 6) and hotfix.build == 4
    assert MetabaseVersion.parse("v1.58.0-SNAPSHOT") == (0, 58)
    assert str(ee) == "v1.62.2"
    with pytest.raises(ValueError):
        MetabaseVersion.parse("vLOCAL_DEV")


def test_version_when_the_server_reports_none(expect):
    mb = _mock_client(lambda request: httpx.Response(200, json={"site-name": "x"}))
    err = expect(MbportError, lambda: mb.version)
    assert "did not report a Metabase version" in str(err)


# ---------------------------------------------------------------------------------------------------------------
# from_env and URLs


def test_from_env_reads_variables_and_flags_win():
    env = {"METABASE_SITE_URL": "https://mb.example.com/api/", "METABASE_API_KEY": API_KEY}
    mb = MetabaseClient.from_env(env=env)
    assert mb.url == "https://mb.example.com" and mb._auth.kind == "api-key"
    mb = MetabaseClient.from_env("http://other:3000/", session_token=TOKEN, env=env)
    assert mb.url == "http://other:3000" and mb._auth.kind == "session"
    # A username flag beats the key in the environment; the password may come from the environment.
    mb = MetabaseClient.from_env(username=EMAIL, env={**env, "METABASE_PASSWORD": PASSWORD})
    assert (mb._auth.kind, mb._auth.username, mb._auth.password) == ("password", EMAIL, PASSWORD)


def test_from_env_names_the_missing_flag_and_variable(expect):
    err = expect(MbportError, MetabaseClient.from_env, env={"METABASE_API_KEY": API_KEY})
    assert "--url" in err.hint and "METABASE_SITE_URL" in err.hint
    err = expect(MbportError, MetabaseClient.from_env, env={"METABASE_SITE_URL": URL})
    assert "--api-key" in err.hint and "METABASE_API_KEY" in err.hint and "METABASE_USERNAME" in err.hint
    err = expect(MbportError, MetabaseClient.from_env, env={"METABASE_SITE_URL": URL, "METABASE_USERNAME": EMAIL})
    assert "--password" in err.hint and "METABASE_PASSWORD" in err.hint


def test_url_is_normalised_and_checked(expect):
    assert MetabaseClient("https://h.example/metabase/api", api_key=API_KEY).url == "https://h.example/metabase"
    err = expect(MbportError, MetabaseClient, "mb.example.com", api_key=API_KEY)
    assert "http://" in str(err)


# ---------------------------------------------------------------------------------------------------------------
# Scripted failures


class Script:
    """A MockTransport handler that plays one step per attempt: a Response, an exception class, or a callable."""

    def __init__(self, *steps):
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, type) and issubclass(step, Exception):
            raise step("scripted failure", request=request)
        return step(request) if callable(step) else step

    @property
    def attempts(self) -> int:
        return len(self.requests)


OK = httpx.Response(200, json={"ok": True})


def _mock_client(handler, **kw) -> MetabaseClient:
    kw.setdefault("api_key", API_KEY)
    return MetabaseClient(URL, transport=httpx.MockTransport(handler), **kw)


@pytest.mark.parametrize("status", [408, 429, 502, 503, 504])
def test_retryable_statuses_are_retried(status, sleeps):
    script = Script(httpx.Response(status, text="busy"), httpx.Response(status, text="busy"), OK)
    mb = _mock_client(script)
    assert mb.get("/api/card") == {"ok": True}
    assert script.attempts == 3 and mb.request_count == 3 and len(sleeps) == 2


@pytest.mark.parametrize("status", [400, 404, 409])
def test_other_errors_are_not_retried(status, expect, sleeps):
    script = Script(httpx.Response(status, text="nope"), OK)
    mb = _mock_client(script)
    err = expect(ApiError, mb.get, "/api/card/12")
    assert (err.status, script.attempts, sleeps) == (status, 1, [])
    assert str(err) == f"GET /api/card/12 failed: {status} nope"


def test_a_500_is_retried_for_reads_but_not_for_writes(expect, sleeps):
    # A passing 500 (full connection pool) must not fail an export; a write may have half-happened, so the
    # importer, which can look the object up first, decides.
    script = Script(httpx.Response(500, json={"message": "pool"}), OK)
    assert _mock_client(script).get("/api/card/12") == {"ok": True}
    assert script.attempts == 2
    script = Script(httpx.Response(500, json={"message": "nope"}), OK)
    err = expect(ApiError, _mock_client(script).post, "/api/card", json={})
    assert (err.status, script.attempts) == (500, 1)
    assert str(err) == "POST /api/card failed: 500 nope"


def test_retries_exhausted_give_the_last_status(expect):
    script = Script(httpx.Response(503, text="Metabase is still initializing"))
    mb = _mock_client(script, retries=3)
    err = expect(ApiError, mb.get, "/api/card")
    assert err.status == 503 and script.attempts == 4
    assert str(err) == "GET /api/card failed: 503 Metabase is still initializing (after 4 attempts)"


def test_backoff_is_exponential_full_jitter_and_capped(monkeypatch, sleeps):
    monkeypatch.setattr(client_mod.random, "uniform", lambda low, high: high)  # the top of each jitter window
    script = Script(*[httpx.Response(502)] * 6, OK)
    mb = _mock_client(script, retries=6, backoff=1.0)
    mb.get("/api/card")
    assert sleeps == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    monkeypatch.setattr(client_mod.random, "uniform", lambda low, high: low)
    sleeps.clear()
    _mock_client(Script(httpx.Response(502), OK)).get("/api/card")
    assert sleeps == [0]


def test_retry_after_is_honoured_and_capped(sleeps):
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    script = Script(
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(429, headers={"Retry-After": "86400"}),
        httpx.Response(503, headers={"Retry-After": later}),
        OK,
    )
    _mock_client(script).get("/api/card")
    assert sleeps[:2] == [7.0, client_mod.MAX_RETRY_AFTER]
    assert 25 <= sleeps[2] <= 30


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("failure", [httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadTimeout,
                                     httpx.RemoteProtocolError, httpx.ReadError])
def test_reads_retry_connection_errors(method, failure):
    script = Script(failure, failure, OK)
    mb = _mock_client(script)
    assert mb.request(method, "/api/card/1") == {"ok": True}
    assert script.attempts == 3


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize("failure", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
def test_writes_retry_failures_before_sending(method, failure):
    script = Script(failure, OK)
    assert _mock_client(script).request(method, "/api/card", json={"name": "x"}) == {"ok": True}
    assert script.attempts == 2


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize("failure", [httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError])
def test_lost_write_response_is_ambiguous_and_not_retried(method, failure, expect):
    script = Script(failure, OK)
    mb = _mock_client(script, timeout=12)
    err = expect(AmbiguousWriteError, mb.request, method, "/api/card", json={"name": "x"})
    assert script.attempts == 1 and err.status is None and err.method == method
    assert "may or may not have happened" in str(err)
    if failure is httpx.ReadTimeout:
        assert str(err).startswith(f"{method} /api/card failed: no response (read timeout after 12 s)")


def test_gateway_timeout_on_a_write_is_ambiguous(expect):
    script = Script(httpx.Response(504, text="Gateway Time-out"), OK)
    err = expect(AmbiguousWriteError, _mock_client(script).post, "/api/card", {"name": "x"})
    assert err.status == 504 and script.attempts == 1
    script = Script(httpx.Response(503), OK)
    assert _mock_client(script).post("/api/card", {"name": "x"}) == {"ok": True}


def test_unreachable_host_is_connection_failed(expect, sleeps):
    script = Script(httpx.ConnectError)
    mb = _mock_client(script, retries=2)
    err = expect(ConnectionFailed, mb.get, "/api/card")
    assert script.attempts == 3 and len(sleeps) == 2
    assert str(err) == "cannot reach http://mb.test: scripted failure (after 3 attempts)"
    assert "METABASE_SITE_URL" in err.hint


def test_real_refused_connection(expect):
    mb = MetabaseClient("http://127.0.0.1:9", api_key=API_KEY, retries=1)
    err = expect(ConnectionFailed, mb.get, "/api/card")
    assert str(err).startswith("cannot reach http://127.0.0.1:9: ")


def test_requests_carry_auth_and_timeouts():
    seen = {}

    def handler(request):
        seen.update(headers=request.headers, timeout=request.extensions["timeout"], url=str(request.url))
        return OK

    _mock_client(handler, timeout=42).get("/api/card", params={"f": "all"})
    assert seen["headers"]["x-api-key"] == API_KEY
    assert seen["timeout"] == {"connect": 10.0, "read": 42, "write": 42, "pool": 42}
    assert seen["url"] == "http://mb.test/api/card?f=all"


# ---------------------------------------------------------------------------------------------------------------
# Bodies


@pytest.mark.parametrize(("response", "summary"), [
    (httpx.Response(400, json={"errors": {"name": "value must be a non-blank string."},
                                "specific-errors": {"name": ["x"]}}), "400 name: value must be a non-blank string."),
    (httpx.Response(403, json={"errors": {"_error": "Your account is disabled."}}), "403 Your account is disabled."),
    (httpx.Response(500, json={"message": "boom", "trace": ["a"] * 50, "via": []}), "500 boom"),
    (httpx.Response(404, html="<!DOCTYPE html><html><body>" + "x" * 5000 + "</body></html>"),
     "404 HTML page instead of JSON (is the URL a Metabase?)"),
    (httpx.Response(400, text="Invalid Request.\n"), "400 Invalid Request."),
    (httpx.Response(400, content=b""), "400 (empty response)"),
])
def test_error_bodies_become_one_line(response, summary, expect):
    err = expect(ApiError, _mock_client(Script(response)).post, "/api/x")
    assert str(err) == f"POST /api/x failed: {summary}"


def test_long_error_bodies_are_truncated(expect):
    err = expect(ApiError, _mock_client(Script(httpx.Response(400, text="word " * 500))).get, "/api/x")
    assert len(str(err)) < 260 and str(err).endswith("…")


def test_success_bodies():
    assert _mock_client(Script(httpx.Response(200, text="plain text"))).get("/api/x") == "plain text"
    assert _mock_client(Script(httpx.Response(204))).delete("/api/x/1") is None
    assert _mock_client(Script(httpx.Response(200, json=[1, 2]))).get("/api/x") == [1, 2]


def _json_answer(body: bytes):
    return _mock_client(Script(httpx.Response(200, content=body, headers={"content-type": "application/json"}))).get("/x")


@pytest.mark.parametrize(("body", "parsed"), [
    (b'{"id": 123456789012345678901234567890}', {"id": 123456789012345678901234567890}),  # beyond 64 bits
    (b'["\\ud800 lone surrogate", 12345678901234567890]', ["\ud800 lone surrogate", 12345678901234567890]),
    (b'{"at": "2026-11-26T10:28:18.123456Z", "n": 1.5}', {"at": "2026-11-26T10:28:18.123456Z", "n": 1.5}),
    (b'  \n  ', None),
])
def test_json_bodies_keep_every_value(body, parsed):
    got = _json_answer(body)
    assert got == parsed
    assert [type(v) for v in (got.values() if isinstance(got, dict) else got or [])] == \
        [type(v) for v in (parsed.values() if isinstance(parsed, dict) else parsed or [])]


def test_json_nan_is_read_like_metabase_wrote_it():
    got = _json_answer(b'{"v": NaN}')
    assert got["v"] != got["v"]


# A dashboard-like answer: `copy` is a hydrated copy nobody reads, in the object and in each of its items.
SHAPE = Shape(["id", "name", "copy", "items"], ["copy"], {"items": Shape(["x", "copy"], ["copy"])})


def _shaped(body: bytes):
    response = httpx.Response(200, content=body, headers={"content-type": "application/json"})
    return _mock_client(Script(response)).get("/x", shape=SHAPE)


def test_a_shape_leaves_out_the_fields_nobody_reads():
    body = (b'{"id": 123456789012345678901234567890, "copy": {"big": [1, 2, {"deep": "x"}]}, "name": null, '
            b'"items": [{"x": {"keep": [1.5, "\\ud83d\\ude00"]}, "copy": {"id": 7}}, {"x": 2}, {}]}')
    got = _shaped(body)
    assert got == {"id": 123456789012345678901234567890, "name": None,  # a null stays, an absent field stays absent
                   "items": [{"x": {"keep": [1.5, "\U0001f600"]}}, {"x": 2}, {}]}
    assert type(got["id"]) is int


@pytest.mark.parametrize("body", [
    b'{"id": 1, "copy": {"a": 1}, "new_field": {"b": 2}}',  # a field the shape does not name: a newer Metabase
    b'{"id": 1, "items": [{"x": 1, "copy": {"a": 1}, "new": 2}]}',  # the same in an item
    b'{"id": 1, "copy": 5, "items": null}',  # items that are no list of objects
    b'{"id": 1, "items": [3, {"copy": 1}]}',
    b'[{"id": 1, "copy": 2}]',  # not an object at all
])
def test_an_answer_the_shape_does_not_describe_is_read_whole(body):
    assert _shaped(body) == json.loads(body)


def test_a_shape_for_only_some_fields_skips_every_other():
    """A table's query_metadata read for its fields' remappings: the rest of the answer is never built."""
    only = Shape(["fields"], lists={"fields": Shape(["id", "dimensions"], only=True)}, only=True)
    body = (b'{"id": 1, "db": {"features": ["a"]}, "fields": [{"id": 5, "fingerprint": {"x": 1}, "dimensions": []},'
            b' {"id": 6, "target": null}]}')
    response = httpx.Response(200, content=body, headers={"content-type": "application/json"})
    assert _mock_client(Script(response)).get("/x", shape=only) == {"fields": [{"id": 5, "dimensions": []}, {"id": 6}]}


def test_a_shaped_answer_falls_back_on_the_standard_parser_too():
    got = _shaped(b'{"id": NaN, "copy": ["\\ud800"]}')
    assert got["id"] != got["id"] and got["copy"] == ["\ud800"]


@pytest.mark.parametrize(("response", "summary"), [
    (httpx.Response(200, html="<html><body>Login</body></html>"), "HTML page instead of JSON"),
    (httpx.Response(200, content=b"{not json", headers={"content-type": "application/json"}), "not JSON"),
    (httpx.Response(302, headers={"location": "https://mb.test/"}), "redirected to https://mb.test/"),
])
def test_success_status_without_json_is_an_error(response, summary, expect):
    err = expect(ApiError, _mock_client(Script(response)).get, "/api/card")
    assert summary in str(err) and err.status == response.status_code


# ---------------------------------------------------------------------------------------------------------------
# map and concurrency


def test_map_keeps_input_order_and_bounds_concurrency():
    lock = threading.Lock()
    in_flight = peak = 0

    def work(i):
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.002 * (i % 5))
        with lock:
            in_flight -= 1
        return i * i

    mb = _mock_client(Script(OK), concurrency=3)
    assert mb.map(work, range(40)) == [i * i for i in range(40)]
    assert peak == 3
    assert mb.map(work, []) == []


def test_map_raises_the_first_error_after_the_others_finish():
    started, finished = [], []
    lock = threading.Lock()

    def work(i):
        with lock:
            started.append(i)
        if i == 2:
            raise ValueError("item 2")
        time.sleep(0.02)
        with lock:
            finished.append(i)
        return i

    mb = _mock_client(Script(OK), concurrency=4)
    with pytest.raises(ValueError, match="item 2"):
        mb.map(work, range(100))
    assert sorted(finished) == sorted(i for i in started if i != 2)  # nothing still running
    assert len(started) < 100  # the rest were cancelled


def test_concurrent_requests_share_one_client_and_count_exactly():
    script = Script(lambda request: httpx.Response(200, json={"path": request.url.path}))
    mb = _mock_client(script, concurrency=8)
    paths = [f"/api/card/{i}" for i in range(200)]
    assert [r["path"] for r in mb.map(mb.get, paths)] == paths
    assert mb.request_count == 200 and mb.requests_by_method == {"GET": 200}


def test_map_with_emulator_and_lazy_login_logs_in_once():
    emu = Emulator()
    _admin(emu)
    with _emu_client(emu, username=EMAIL, password=PASSWORD, concurrency=6) as mb:
        emails = mb.map(lambda _: mb.get("/api/user/current")["email"], range(30))
    assert emails == [EMAIL] * 30 and mb.requests_by_method["POST"] == 1


# ---------------------------------------------------------------------------------------------------------------
# Logging and redaction


def test_requests_are_logged_at_debug_without_headers(caplog):
    caplog.set_level(logging.DEBUG, logger="mbport.client")
    emu = Emulator()
    _admin(emu)
    with _emu_client(emu, username=EMAIL, password=PASSWORD) as mb:
        mb.get("/api/user/current")
    lines = [r.getMessage() for r in caplog.records if r.name == "mbport.client"]
    assert any(line.startswith("POST /api/session -> 200 in ") for line in lines)
    assert any(line.startswith("GET /api/user/current -> 200 in ") for line in lines)
    assert all(r.levelno == logging.DEBUG for r in caplog.records if r.name == "mbport.client")
    assert not any("x-metabase-session" in line.lower() or "x-api-key" in line.lower() for line in lines)


def test_redact_hides_registered_secrets_and_credential_patterns():
    MetabaseClient(URL, api_key=API_KEY)
    MetabaseClient(URL, username=EMAIL, password=PASSWORD)
    MetabaseClient(URL, session_token=TOKEN)
    text = f"key {API_KEY} pw {PASSWORD} token {TOKEN}"
    assert redact(text) == "key *** pw *** token ***"
    assert redact("X-API-Key: mb_AbCdEfGhIjKlMnOp") == "X-API-Key: ***"
    assert redact("sent mb_AbCdEfGhIjKlMnOp123") == "sent mb_***"
    assert redact("Authorization: Bearer abc.def") == "Authorization: Bearer ***"
    assert redact('{"username": "a@b.c", "password": "pw-unknown"}') == '{"username": "a@b.c", "password": ***}'
    assert redact("https://user:pw@host/api") == "https://***@host/api"
    assert redact("login?username=a&password=pw-unknown") == "login?username=a&password=***"
    assert redact("password: did not match stored password") == "password: did not match stored password"
    assert redact("Not found.") == "Not found."


def test_secrets_stay_out_of_repr_and_echoed_errors(expect):
    for kw in ({"api_key": API_KEY}, {"username": EMAIL, "password": PASSWORD}, {"session_token": TOKEN}):
        text = repr(MetabaseClient(URL, **kw))
        assert not any(s in text for s in SECRETS)
    # A server (or a proxy) that echoes the credential back in its error, or a transport error that quotes it.
    echo = Script(lambda request: httpx.Response(400, json={"message": f"bad key {request.headers['x-api-key']}"}))
    err = expect(ApiError, _mock_client(echo).get, "/api/x")
    assert str(err) == "GET /api/x failed: 400 bad key ***"

    def quoting(request):
        raise httpx.ConnectError(f"refused for session {TOKEN} and key {API_KEY}", request=request)

    err = expect(ConnectionFailed, _mock_client(quoting, retries=0).get, "/api/x")
    assert "***" in str(err)
    login = Script(httpx.Response(401, json={"errors": {"password": f"{PASSWORD} did not match stored password"}}))
    err = expect(AuthError, _mock_client(login, api_key=None, username=EMAIL, password=PASSWORD).get, "/api/x")
    assert str(err) == f"{URL} refused the username and password (401 password: *** did not match stored password)"


def test_a_host_name_that_does_not_resolve_is_not_retried(expect, sleeps):
    """`.invalid` never resolves (RFC 2606): one attempt, no backoff, one line naming the host."""
    mb = MetabaseClient("http://nonexistent.invalid", api_key=API_KEY, retries=5)
    err = expect(ConnectionFailed, mb.get, "/api/card")
    assert sleeps == [] and mb.request_count == 1
    assert str(err).startswith("cannot reach http://nonexistent.invalid: the host name 'nonexistent.invalid' "
                               "does not resolve (")
    assert "attempts" not in str(err) and "host name" in err.hint


def test_a_temporary_resolver_failure_is_retried(expect, sleeps):
    """EAI_AGAIN (the resolver could not answer now) is worth the retries, unlike "no such name"."""
    import socket

    def handler(request):
        try:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        except socket.gaierror as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc

    mb = MetabaseClient(URL, api_key=API_KEY, retries=2, transport=httpx.MockTransport(handler))
    err = expect(ConnectionFailed, mb.get, "/api/card")
    assert len(sleeps) == 2 and "(after 3 attempts)" in str(err)


def test_the_listings_of_one_kind_are_asked_at_once():
    """Live and archived rows (collections: one namespace each) are two or more round trips that every kind listed
    after them waits for: get_each sends them together, and gives the answers in the queries' order."""
    from mbport.kindutil import get_each

    together = threading.Barrier(3, timeout=10)  # each request waits until all three are in flight

    def handler(request):
        together.wait()
        return httpx.Response(200, json=[{"id": request.url.params.get("n")}])

    api = MetabaseClient(URL, api_key="k", transport=httpx.MockTransport(handler), concurrency=8)
    answers = get_each(api, "/api/collection", [{"n": "1"}, {"n": "2"}, {"n": "3"}])
    assert answers == [[{"id": "1"}], [{"id": "2"}], [{"id": "3"}]]


def test_kinds_that_others_wait_for_are_started_first():
    """With more kinds ready than requests in flight, the kinds others wait for (the collections: cards, dashboards,
    then subscriptions; the databases: tables, then permissions) get the first connections."""
    from mbport.export import _critical_first, kind_order
    from mbport.registry import load_plugins

    registry = load_plugins()
    order = kind_order(registry, sorted(registry.kinds))
    first = _critical_first(order, {n: set(registry[n].after) & set(order) - {n} for n in order})
    assert sorted(first) == sorted(order)
    assert all(first.index(dep) < first.index(n) for n in first for dep in registry[n].after if dep in first)
    waited_for = [n for n in first if any(n in registry[other].after for other in first if other != n)]
    assert {"collections", "databases"} <= set(waited_for) and first[:len(waited_for)] == waited_for
