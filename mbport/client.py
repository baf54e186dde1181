"""The HTTP client for Metabase's REST API: auth, timeouts, retries with backoff, concurrency and version detection."""

from __future__ import annotations

import contextlib
import email.utils
import functools
import json as jsonlib
import logging
import os
import random
import re
import select
import socket
import ssl
import sys
import threading
import time
import types
import urllib.parse
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypedDict, TypeGuard

from . import __version__
from .errors import MbportError, UsageError

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("mbport.client")


class _Login(TypedDict):
    username: str
    password: str


def _httpx() -> types.ModuleType:
    """httpx, imported when first needed: for a test transport, a proxy, TLS settings or a failure to describe.
    An export over plain HTTP does without it (importing it costs a start about a tenth of a second)."""
    import httpx

    return httpx


@functools.cache
def _msgspec() -> types.ModuleType:
    """msgspec (with msgspec.json and msgspec.structs), imported with the first answer to decode: a command that
    makes no request does without it (about 10 ms)."""
    import msgspec.json
    import msgspec.structs

    return msgspec

CONNECT_TIMEOUT = 10.0
MAX_BACKOFF = 10.0  # cap of one jittered backoff sleep
MAX_RETRY_AFTER = 60.0  # a server asking for longer than this is not worth waiting for in one run
RETRY_STATUSES = frozenset({408, 429, 502, 503, 504})
WRITE_METHODS = frozenset({"POST", "PUT", "DELETE"})  # what changes the instance (an import counts them)
SUMMARY_LIMIT = 200
AUTH_HINT = "check METABASE_API_KEY (or username/password); the key's group needs admin rights to read permissions"
CREDENTIALS = {"api-key": "API key", "session": "session token", "password": "username and password"}
REFUSED_HINT = {
    "api-key": "check the key: it may be mistyped, deleted, regenerated or another instance's; create one under Admin → "
               "Settings → Authentication → API keys (Administrators group)",
    "session": "the session expired or was signed out: sign in again for a new one, or use an API key",
    "password": "check the username and password; an account that signs in only through SSO has none: use an API key",
}
REVOKED_HINT = {
    "api-key": "the key was deleted or regenerated while mbport ran: create one (Admin → Settings → Authentication → "
               "API keys) and run again",
    "session": "the session expired or was signed out while mbport ran: sign in again for a new one (or use an API "
               "key, which does not expire) and run again",
    "password": "the password changed while mbport ran: run again with the new one",
}
HTML_SUMMARY = "HTML page instead of JSON (is the URL a Metabase?)"
SITE_URL_HINT = ("give Metabase's address as you open it in a browser, with the path it is served under if any "
                 "(https://example.com/metabase) and nothing after it")
# Served to anyone (server/routes.clj, session/api.clj): an answer there does not mean the credentials were accepted.
PUBLIC = frozenset({"/api/session/properties", "/api/health"})
# Every Metabase serves these: a 404 there means the URL does not lead to Metabase's API (a missing base path).
ALWAYS_SERVED = frozenset({"/api/session/properties", "/api/session", "/api/user/current"})

ENV_URL = "METABASE_SITE_URL"
ENV_API_KEY = "METABASE_API_KEY"
ENV_USERNAME = "METABASE_USERNAME"
ENV_PASSWORD = "METABASE_PASSWORD"
ENV_SESSION_TOKEN = "METABASE_SESSION_TOKEN"


# ---------------------------------------------------------------------------------------------------------------
# Redaction: every secret a client was given or obtained, plus patterns that look like credentials.

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_MIN_SECRET_LEN = 4  # shorter values would blank out ordinary words in messages
_SECRET_PATTERNS = [
    (re.compile(r"\bmb_[A-Za-z0-9+/=_-]{8,}"), "mb_***"),
    (re.compile(r"(?i)\b(x-api-key|x-metabase-session|authorization|cookie)(\s*[:=]\s*)((?:bearer|basic)\s+)?[^\s,;'\"}]+"), r"\1\2\3***"),
    (re.compile(r"(?i)(metabase\.SESSION=)[^;\s'\"]+"), r"\1***"),
    # a quoted JSON/dict value or a form field; not "password: did not match" (Metabase's own message)
    (re.compile(r"(?i)([\"']password[\"']\s*:\s*)(\"[^\"]*\"|'[^']*')"), r"\1***"),
    (re.compile(r"(?i)\b(password=)[^\s&,;]+"), r"\1***"),
    (re.compile(r"(://)[^/@\s]+@"), r"\1***@"),  # credentials inside a URL
]


def register_secret(value: str | None) -> None:
    """Make `redact` blank out this value wherever it appears from now on."""
    if value and len(value) >= _MIN_SECRET_LEN:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: Any) -> str:
    """`text` as a string with every known secret (API keys, passwords, session tokens) replaced by ***."""
    out = str(text)
    with _secrets_lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        out = out.replace(secret, "***")
    for pattern, replacement in _SECRET_PATTERNS:
        out = pattern.sub(replacement, out)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Errors


class ApiError(MbportError):
    """Metabase answered with an error status (or a body that is not what an API returns)."""

    def __init__(self, method: str, path: str, status: int | None, body: Any, summary: str | None = None,
                 hint: str | None = None, attempts: int = 1):
        self.method, self.path, self.status, self.body = method, path, status, body
        summary = summary if summary is not None else summarize_body(body)
        message = f"{method} {path} failed: {status} {summary}" if status is not None else f"{method} {path} failed: {summary}"
        if attempts > 1:
            message += f" (after {attempts} attempts)"
        super().__init__(redact(message), hint=redact(hint) if hint else None)


class AuthError(ApiError):
    """401/403: the credentials are wrong, expired, or lack the rights the request needs."""


class CredentialsRefused(AuthError):
    """401: the instance refused the client's credentials (wrong, deleted, expired or signed out). Said in one line that
    names where the credentials came from (a flag, a variable, mbport.toml), never the credentials themselves."""

    def __init__(self, method: str, path: str, status: int | None, body: Any, message: str, hint: str):
        self.method, self.path, self.status, self.body = method, path, status, body
        MbportError.__init__(self, redact(message), hint=redact(hint))


class AmbiguousWriteError(ApiError):
    """A POST/PUT was sent but its response was lost: the write may or may not have happened."""


class ConnectionFailed(MbportError):
    """The host could not be reached (after retries)."""


# ---------------------------------------------------------------------------------------------------------------
# Versions

_TAG = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:\.(\d+))?")


@dataclass(frozen=True, eq=False)
class MetabaseVersion:
    """A Metabase release. `v0.61.2` (OSS) and `v1.61.2` (EE) are the same API line, so both parse to
    major=0, minor=61, patch=2 and differ only in `edition`; compare with tuples: `version >= (0, 57)`."""

    tag: str
    major: int
    minor: int
    patch: int = 0
    edition: str = "oss"
    build: int = 0  # the fourth number of hotfix tags such as v0.46.6.4

    @classmethod
    def parse(cls, tag: str) -> MetabaseVersion:
        m = _TAG.match(tag.strip())
        if not m:
            raise ValueError(f"not a Metabase version tag: {tag!r}")
        first, minor, patch, build = (int(g) if g else 0 for g in m.groups())
        return cls(tag, 0, minor, patch, "ee" if first >= 1 else "oss", build)

    @property
    def parts(self) -> tuple[int, int, int, int]:
        return (self.major, self.minor, self.patch, self.build)

    @property
    def is_enterprise(self) -> bool:
        return self.edition == "ee"

    @staticmethod
    def _other(other: Any) -> tuple[int, ...] | None:
        if isinstance(other, MetabaseVersion):
            return other.parts
        if isinstance(other, str):
            try:
                return MetabaseVersion.parse(other).parts
            except ValueError:
                return None
        if isinstance(other, tuple) and all(isinstance(x, int) for x in other) and len(other) <= 4:
            return tuple(other) + (0,) * (4 - len(other))  # (0, 57) means 0.57.0.0
        return None

    def _cmp(self, other: Any, op: Callable[[tuple, tuple], bool]) -> bool:
        theirs = self._other(other)
        if theirs is None:
            return NotImplemented
        return op(self.parts, theirs)

    def __eq__(self, other: Any) -> bool:
        return self._cmp(other, lambda a, b: a == b)

    def __lt__(self, other: Any) -> bool:
        return self._cmp(other, lambda a, b: a < b)

    def __le__(self, other: Any) -> bool:
        return self._cmp(other, lambda a, b: a <= b)

    def __gt__(self, other: Any) -> bool:
        return self._cmp(other, lambda a, b: a > b)

    def __ge__(self, other: Any) -> bool:
        return self._cmp(other, lambda a, b: a >= b)

    def __hash__(self) -> int:
        return hash(self.parts)

    def __str__(self) -> str:
        return self.tag


# ---------------------------------------------------------------------------------------------------------------
# Response bodies


def _one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "…"


def _looks_like_html(text: str) -> bool:
    head = text.lstrip()[:100].lower()
    return head.startswith(("<!doctype html", "<html", "<head", "<body"))


def summarize_body(body: Any) -> str:
    """One short line for an error body: Metabase's plain text, its `message`, or its `errors` map."""
    if body is None or body == "":
        return "(empty response)"
    if isinstance(body, str):
        return HTML_SUMMARY if _looks_like_html(body) else _one_line(body)
    if isinstance(body, dict):
        if isinstance(body.get("message"), str) and body["message"]:
            return _one_line(body["message"])
        errors = body.get("errors")
        if isinstance(errors, dict) and errors:
            # "_error" holds a message that is about no one field ("Your account is disabled.")
            parts = [str(v) if k == "_error" else f"{k}: {v}" for k, v in errors.items()]
            return _one_line("; ".join(parts))
        if isinstance(errors, str | list) and errors:
            return _one_line(errors if isinstance(errors, str) else "; ".join(map(str, errors)))
    return _one_line(jsonlib.dumps(body, sort_keys=True, default=str))


def _decode(resp: httpx.Response | _WireResponse, shape: Shape | None = None) -> tuple[Any, bool]:
    """(body, ok): parsed JSON (without what `shape` leaves out), text for text/plain, or the raw text with ok=False
    when it should be JSON."""
    ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = resp.content
    if not raw or raw.isspace():
        return None, True
    if ctype == "text/html" or _looks_like_html(raw[:200].decode("utf-8", "replace")):
        return resp.text, False
    if ctype.startswith("text/"):
        return resp.text, True
    # msgspec reads straight from the bytes and keeps integers of any size exact (orjson turns those beyond 64
    # bits into floats, and finding them first cost a sixth of the parse); it refuses NaN, infinities and lone
    # surrogates, which the standard parser below keeps as they are.
    try:
        return (shape.decode(raw) if shape is not None else _json_decoder().decode(raw)), True
    except _msgspec().MsgspecError:
        pass
    text = resp.text
    try:
        return jsonlib.loads(text), True
    except ValueError:
        return text, False


@functools.cache
def _json_decoder() -> Any:
    """The untyped msgspec decoder (one: it keeps a cache of the keys it has read)."""
    return _msgspec().json.Decoder()


class Shape:
    """What a caller reads of an answer that is one JSON object: its fields, the fields it never reads (a dashboard's
    hydrated copy of each dashcard's card and of its filters' fields: 85% of its bytes), and the shapes of lists of
    objects in it (`lists`). Decoding with a shape makes no Python objects for the fields left out: no parsing into
    objects, no memory. An answer the shape does not describe (a field it does not name, as a newer Metabase may
    send; a list of objects that is something else) is decoded whole, exactly as without a shape.

    With `only=True` the caller reads nothing but the fields named (a table's query_metadata read for its fields'
    remappings): every other field is skipped, whatever it is."""

    def __init__(self, fields: Iterable[str], leave_out: Iterable[str] = (), lists: Mapping[str, Shape] | None = None,
                 *, only: bool = False):
        self.leave_out = frozenset(leave_out)
        self.lists = dict(lists or {})
        self.only = only
        # The kept fields first: a decoded struct's values, zipped with these names, stop before the left-out ones.
        self.kept = tuple(dict.fromkeys(n for n in (*fields, *self.lists) if n not in self.leave_out))
        self._decoder: Any = None
        self._struct_type: Any = None

    def struct(self) -> Any:
        """The msgspec struct type of this shape: every field optional (unset when absent); any other field refused
        (`only`: skipped)."""
        if self._struct_type is None:
            ms = _msgspec()
            names = [*self.kept, *([] if self.only else sorted(self.leave_out))]
            kinds = [ms.Raw if n in self.leave_out else types.GenericAlias(list, self.lists[n].struct())
                     if n in self.lists else Any for n in names]
            # Attribute names of our own: a JSON field may be any string ("last-edit-info").
            self._struct_type = ms.defstruct(
                "Answer", [(f"f{i}", t, ms.UNSET) for i, t in enumerate(kinds)],
                rename={f"f{i}": n for i, n in enumerate(names)}, forbid_unknown_fields=not self.only, gc=False)
        return self._struct_type

    def decode(self, raw: bytes | bytearray) -> Any:
        """The answer as plain JSON values, without the fields left out."""
        ms = _msgspec()
        if self._decoder is None:
            self._decoder = ms.json.Decoder(self.struct())
        try:
            return self._plain(self._decoder.decode(raw), ms.structs.astuple, ms.UNSET)
        except ms.ValidationError as exc:
            log.debug("decoding the whole answer: %s", exc)
            return _json_decoder().decode(raw)

    def _plain(self, struct: Any, astuple: Callable[[Any], tuple[Any, ...]], unset: Any) -> dict[str, Any]:
        out = {n: v for n, v in zip(self.kept, astuple(struct), strict=False) if v is not unset}
        for name, shape in self.lists.items():
            if name in out:
                out[name] = [shape._plain(item, astuple, unset) for item in out[name]]
        return out


# ---------------------------------------------------------------------------------------------------------------
# The wire: keep-alive HTTP/1.1 connections from the standard library


class _WireResponse:
    """What `_send` reads of an answer (status, lower-cased headers, body bytes), as httpx.Response offers it."""

    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code: int, headers: dict[str, str], content: bytes | bytearray):
        self.status_code, self.headers, self.content = status_code, headers, content

    @property
    def text(self) -> str:
        charset = self.headers.get("content-type", "").partition("charset=")[2].split(";")[0].strip().strip('"')
        try:
            return self.content.decode(charset or "utf-8", "replace")
        except LookupError:
            return self.content.decode("utf-8", "replace")


_PLAIN_PATH = re.compile(r"[A-Za-z0-9/_.~-]*")
_ENCODINGS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def _query_value(value: Any) -> str:
    """A query parameter's value as httpx writes it (True → "true", None → "")."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return "" if value is None else str(value)


class _ProtocolError(Exception):
    """The server's answer broke HTTP/1.1 (or the connection closed in the middle of it)."""


_MAX_HEAD = 256 * 1024  # a status line and headers longer than this are not an answer (http.client: 100 headers)
_RECV = 256 * 1024
_BAD_TARGET = re.compile(r"[\x00-\x20\x7f]")  # what http.client refuses in a request target
_BAD_VALUE = re.compile(r"[\r\n\x00]")


class _Connection:
    """One keep-alive HTTP/1.1 connection: the socket and the bytes read past the last answer.

    Answers are read with plain `recv` calls into one buffer: http.client made a file object over the socket
    and parsed the headers with the email package for every answer (about 0.1 ms of CPU each, a tenth of a
    second per bench-L export), and a large body is received straight into its own buffer.
    """

    __slots__ = ("sock", "_buf")

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self._buf = bytearray()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def _until(self, sep: bytes, too_long: str, head: bool = False) -> bytes:
        """The bytes up to `sep` (taken off the buffer with it): the `head` of an answer, or a line of a chunked body."""
        buf = self._buf
        start = 0
        while True:
            end = buf.find(sep, start)
            if end >= 0:
                found = bytes(buf[:end])
                del buf[:end + len(sep)]
                return found
            if len(buf) > _MAX_HEAD:
                raise _ProtocolError(too_long)
            start = max(0, len(buf) - len(sep) + 1)
            chunk = self.sock.recv(_RECV)
            if not chunk:
                raise _ProtocolError("the server closed the connection without an answer" if head and not buf else
                                     "the server closed the connection in the middle of an answer")
            buf += chunk

    def _exactly(self, n: int) -> bytes | bytearray:
        buf = self._buf
        have = len(buf)
        if have >= n:
            ready = bytes(buf[:n])
            del buf[:n]
            return ready
        body = bytearray(n)  # received in place: no list of pieces joined at the end
        body[:have] = buf
        buf.clear()
        view = memoryview(body)[have:]
        while view:
            got = self.sock.recv_into(view)
            if not got:
                raise _ProtocolError(f"the server closed the connection after {n - len(view)} of {n} bytes")
            view = view[got:]
        return body

    def _chunked(self) -> bytes:
        parts: list[bytes | bytearray] = []
        while True:
            size_line = self._until(b"\r\n", "a chunk size line never ends").split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise _ProtocolError(f"not a chunk size: {size_line[:20]!r}") from None
            if size == 0:
                while self._until(b"\r\n", "a trailer line never ends"):  # trailer fields, up to the empty line
                    pass
                return b"".join(parts)
            parts.append(self._exactly(size))
            if self._exactly(2) != b"\r\n":
                raise _ProtocolError("a chunk does not end where its size says")

    def _to_close(self) -> bytes:
        parts = [bytes(self._buf)]
        self._buf.clear()
        while chunk := self.sock.recv(_RECV):
            parts.append(chunk)
        return b"".join(parts)

    def answer(self, method: str) -> tuple[int, dict[str, str], bytes | bytearray, bool]:
        """The answer to the request just sent: (status, lower-cased headers, body, whether to close the connection)."""
        while True:
            head = self._until(b"\r\n\r\n", "the answer's headers never end", head=True).decode("latin-1")
            status_line, _, fields = head.partition("\r\n")
            version, _, rest = status_line.partition(" ")
            code = rest[:3]
            if not version.startswith("HTTP/") or not code.isdigit() or rest[3:4] not in ("", " "):
                raise _ProtocolError(f"not an HTTP status line: {status_line[:40]!r}")
            status = int(code)
            headers: dict[str, str] = {}
            name = ""
            for line in fields.split("\r\n") if fields else ():
                if line[:1] in (" ", "\t") and name:  # a folded header line continues the one before
                    headers[name] += " " + line.strip()
                    continue
                name, colon, value = line.partition(":")
                if not colon:
                    raise _ProtocolError(f"not a header line: {line[:40]!r}")
                name = name.strip().lower()
                headers[name] = value.strip()
            if status != 100:  # 100 Continue comes before the answer
                break
        keep = headers.get("connection", "").lower()
        close = "close" in keep if version == "HTTP/1.1" else "keep-alive" not in keep
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            body: bytes | bytearray = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._chunked()
        elif (length := headers.get("content-length", "").strip()).isdigit():
            body = self._exactly(int(length))
        else:
            body, close = self._to_close(), True
        return status, headers, body, close or bool(self._buf)  # bytes past the answer: out of step, not reused


class _Wire:
    """Requests over the client's own keep-alive HTTP/1.1 connections (`_Connection`), one per request in flight.

    httpx.Client spends about a millisecond of CPU on every request whatever its size (request and response
    models, header merging, its connection pool): measured on bench-L's 1,042 answers (62 MB) at concurrency 8,
    1.2–1.5 s of CPU through httpx and 0.33–0.41 s through http.client, and http.client in turn made a file
    object and an email-package header parse per answer (0.2 ms of CPU per 2 KB answer against 0.14 ms here).
    An export makes hundreds of requests, so a client talking to a real server (no test transport, no proxy in
    the environment) sends them here. Everything else stays as with httpx: the same headers, query and JSON
    encoding, gzip, answers framed by length, in chunks or by the end of the connection, at most `size`
    connections (a request waits `timeout` seconds for one, then PoolTimeout), and failures raised as the
    httpx exceptions `MetabaseClient._send` sorts into retried, ambiguous and fatal ones (a keep-alive
    connection the server closed while idle is dropped before use; one reset during a read is retried by
    `_send`, versions.md's 0.59 keep-alive bug). tests/unit/test_wire.py checks each against httpx.

    urllib3 (2.8, an HTTPConnectionPool of `size` blocking connections, retries left to `_send`) was measured in
    place of the http.client version with `python -m bench.transports` (medians of 3-5 runs, 8 threads, load
    13-15): CPU per request through MetabaseClient.get for a 2 KB answer 0.28-0.38 ms against 0.21-0.23 ms (httpx
    0.74-1.01 ms), for a 60 KB one (bench-L's mean) 1.23 ms against 1.07 ms. So this code stays until a library
    is no slower.
    """

    def __init__(self, url: str, context: ssl.SSLContext | None, timeout: float, headers: dict[str, str], size: int):
        split = urllib.parse.urlsplit(url)
        self.https = split.scheme == "https"
        self.host = split.hostname or ""
        self.port = split.port or (443 if self.https else 80)
        self.base = split.path.rstrip("/")
        self.context = context
        self.timeout = timeout
        self.headers = {**headers, "Host": split.netloc.rpartition("@")[2], "Accept-Encoding": "gzip, deflate",
                        "Connection": "keep-alive"}
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(size)

    @staticmethod
    def usable(url: str) -> bool:
        """Not when the environment routes this URL through a proxy (httpx honours HTTP(S)_PROXY, ALL_PROXY)."""
        if not any(name.lower().endswith("_proxy") for name in os.environ):
            return True  # the only variables urllib.request reads below (importing it costs a start 10-15 ms)
        import urllib.request

        split = urllib.parse.urlsplit(url)
        proxies = urllib.request.getproxies_environment()
        if not (proxies.get(split.scheme) or proxies.get("all")):
            return True
        # In urllib.request since Python 3.0, but not in its typeshed stubs.
        return bool(urllib.request.proxy_bypass_environment(split.hostname or "", proxies))  # type: ignore[attr-defined]

    def _target(self, path: str, params: Any) -> str:
        path = "/" + path.lstrip("/")
        if not _PLAIN_PATH.fullmatch(path.partition("?")[0]):
            path = _httpx().URL("http://h" + path).raw_path.decode("ascii")  # httpx's percent-encoding of odd paths
        target = self.base + path
        if params:
            items = params.items() if isinstance(params, Mapping) else params
            pairs = [(k, _query_value(x)) for k, v in items for x in (v if isinstance(v, list | tuple) else [v])]
            target += ("&" if "?" in target else "?") + urllib.parse.urlencode(pairs)
        return target

    def _connection(self) -> _Connection:
        with self._lock:
            while self._idle:
                idle = self._idle.pop()
                if not _readable(idle.sock):
                    return idle
                idle.close()  # the server closed it (or sent something unasked) while it was idle
        try:
            sock = socket.create_connection((self.host, self.port), timeout=CONNECT_TIMEOUT)
        except TimeoutError as exc:
            raise _httpx().ConnectTimeout(str(exc) or "timed out") from exc
        except OSError as exc:  # refused, unreachable, a name that does not resolve
            raise _httpx().ConnectError(str(exc) or type(exc).__name__) from exc
        try:
            with contextlib.suppress(OSError):  # as http.client: requests are written whole, Nagle only delays them
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.https:
                assert self.context is not None
                sock = self.context.wrap_socket(sock, server_hostname=self.host)
        except TimeoutError as exc:
            sock.close()
            raise _httpx().ConnectTimeout(str(exc) or "timed out") from exc
        except OSError as exc:  # a certificate not accepted, a TLS handshake that failed
            sock.close()
            raise _httpx().ConnectError(str(exc) or type(exc).__name__) from exc
        sock.settimeout(self.timeout)
        return _Connection(sock)

    def request(self, method: str, path: str, params: Any, json: Any, headers: dict[str, str]) -> _WireResponse:
        target = self._target(path, params)
        if _BAD_TARGET.search(target):
            raise ValueError(f"URL can't contain control characters or spaces: {target[:80]!r}")
        body = None
        sent = {**self.headers, **headers}
        if json is not None:
            body = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
            sent["Content-Type"] = "application/json"
        if body is not None or method in ("POST", "PUT", "PATCH"):
            sent["Content-Length"] = str(len(body or b""))
        lines = [f"{method} {target} HTTP/1.1"]
        for name, value in sent.items():
            if _BAD_VALUE.search(value):
                raise ValueError(f"invalid value of the header {name}")
            lines.append(f"{name}: {value}")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
        if not self._slots.acquire(timeout=self.timeout):
            raise _httpx().PoolTimeout(f"no free connection within {self.timeout:g} s")
        try:
            conn = self._connection()
            try:
                try:
                    conn.sock.sendall(request)
                except TimeoutError as exc:
                    raise _httpx().WriteTimeout(str(exc) or "timed out") from exc
                except OSError as exc:
                    raise _httpx().WriteError(str(exc) or type(exc).__name__) from exc
                try:
                    status, answer, content, close = conn.answer(method)
                except TimeoutError as exc:
                    raise _httpx().ReadTimeout(str(exc) or "timed out") from exc
                except (_ProtocolError, ConnectionResetError) as exc:
                    raise _httpx().RemoteProtocolError(str(exc) or type(exc).__name__) from exc
                except OSError as exc:
                    raise _httpx().ReadError(str(exc) or type(exc).__name__) from exc
            except BaseException:
                conn.close()
                raise
            if close:
                conn.close()
            else:
                with self._lock:
                    self._idle.append(conn)
        finally:
            self._slots.release()
        encoding = answer.get("content-encoding", "").strip().lower()
        if content and encoding in _ENCODINGS:
            try:
                content = zlib.decompress(content, _ENCODINGS[encoding])
            except zlib.error:
                try:
                    content = zlib.decompress(content, -zlib.MAX_WBITS)  # deflate sent without its zlib header
                except zlib.error as exc:
                    raise _httpx().DecodingError(f"the {encoding} body cannot be decoded: {exc}") from exc
        return _WireResponse(status, answer, content)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _readable(sock: socket.socket) -> bool:
    """An idle keep-alive socket with something to read has been closed by the server (or is out of step)."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


# ---------------------------------------------------------------------------------------------------------------
# The client


def normalize_url(url: str) -> str:
    """`https://mb.example.com/api/` -> `https://mb.example.com` (the base that API paths are appended to)."""
    url = (url or "").strip()
    if not re.match(r"^https?://[^/\s]+", url, re.IGNORECASE):
        raise UsageError(
            f"the Metabase URL {redact(url)!r} must start with http:// or https://",
            hint="e.g. --url https://metabase.example.com (or METABASE_SITE_URL)",
        )
    url = url.rstrip("/")
    if url.lower().endswith("/api"):
        url = url[:-4].rstrip("/")
    return url


class Stopped(Exception):
    """A request asked of a `Stoppable` client after `stop()`."""


class Stoppable:
    """A client whose requests fail (Stopped) once `stop()` is called, for reads made ahead of need on threads of
    their own: when the command stops first, they stop at their next request instead of reading on."""

    def __init__(self, api: Any):
        self._api, self.stopped = api, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)

    def stop(self) -> None:
        self.stopped = True

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        if self.stopped:
            raise Stopped(f"{method} {path}: stopped")
        return self._api.request(method, path, **kwargs)

    def get(self, path: str, params: Any = None, **kwargs: Any) -> Any:
        return self.request("GET", path, params=params, **kwargs)


def site_uuid(api: Any) -> str | None:
    """The instance's `site-uuid` (GET /api/session/properties for a signed-in user), made once per instance; None
    when the client cannot tell (a test double, a release that keeps the setting internal)."""
    props = getattr(api, "properties", None)
    value = props.get("site-uuid") if isinstance(props, dict) else None
    return value if isinstance(value, str) and value else None


def _transport_error(exc: BaseException) -> TypeGuard[httpx.TransportError]:
    """An httpx failure to exchange a request (httpx is loaded: it raised it, or the wire did through it)."""
    httpx = sys.modules.get("httpx")
    return httpx is not None and isinstance(exc, httpx.TransportError)


def _safe_transport_error(exc: BaseException) -> bool:
    """A failure that happened before the request could reach the server: repeating it is safe."""
    httpx = _httpx()
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout | httpx.UnsupportedProtocol)


# A name the resolver says does not exist stays so for the run: no retry. A temporary resolver failure
# (EAI_AGAIN) and refused or reset connections (a restarting Metabase) are worth the retries.
_TRANSIENT_DNS = {socket.EAI_AGAIN}


def _unresolved_name(exc: BaseException) -> socket.gaierror | None:
    """The resolver's "no such name" behind an httpx.ConnectError (httpx → httpcore → socket.gaierror)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, socket.gaierror):
            return None if cause.errno in _TRANSIENT_DNS else cause
        cause = cause.__cause__ or cause.__context__
    return None


def _reason(exc: Exception) -> str:
    return redact(str(exc).strip() or type(exc).__name__)


def _sleep(seconds: float) -> None:
    """The one place the client waits (tests patch it)."""
    time.sleep(seconds)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


@dataclass
class _Auth:
    kind: str  # "api-key" | "session" | "password"
    api_key: str | None = None
    username: str | None = None
    password: str | None = None
    session: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class MetabaseClient:
    """One connection pool to one Metabase, safe to share between threads (`map` runs work concurrently).

    Every method takes an API path (`/api/card/12`) and returns the parsed JSON (text for text/plain, None for
    an empty body); errors are `ApiError` (`AuthError`, `AmbiguousWriteError`) or `ConnectionFailed`.
    """

    instance: Any = None  # the mbport.toml instance the command line made it for (its mappings, secrets file)
    # Where the credentials came from ("--api-key", "METABASE_API_KEY", a variable mbport.toml names): an error about
    # refused credentials names it (never the credentials).
    credentials_from: str | None = None
    _accepted = False  # the instance answered a request made with these credentials (a later 401: they were revoked)

    def __init__(self, url: str, *, api_key: str | None = None, username: str | None = None,
                 password: str | None = None, session_token: str | None = None, concurrency: int = 8,
                 timeout: float = 30.0, retries: int = 5, backoff: float = 0.25, verify: bool = True,
                 transport: httpx.BaseTransport | None = None):
        self.url = normalize_url(url)
        for secret in (api_key, password, session_token):
            register_secret(secret)
        if api_key:
            self._auth = _Auth("api-key", api_key=api_key)
        elif session_token:
            self._auth = _Auth("session", session=session_token)
        elif username and password:
            self._auth = _Auth("password", username=username, password=password)
        else:
            raise UsageError("no Metabase credentials: give an API key, a session token, or a username and password")
        if concurrency < 1:
            raise UsageError(f"concurrency must be at least 1, not {concurrency}")
        self.concurrency = concurrency
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self._headers = {"User-Agent": f"mbport/{__version__}", "Accept": "application/json"}
        self._transport, self._verify, self._context = transport, verify, None
        self._wire: _Wire | None = None
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()
        if transport is None:
            # Plain HTTP never needs TLS, but httpx's default transport loads the CA bundle anyway (a tenth of a
            # second of every start). This context verifies and trusts nothing: should TLS ever happen, it fails.
            self._context = (ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT) if self.url.startswith("http://")
                             else _httpx().create_ssl_context(verify=verify))
            if _Wire.usable(self.url):
                self._wire = _Wire(self.url, self._context, timeout, self._headers, concurrency)
        self._count_lock = threading.Lock()
        self.request_count = 0
        self.requests_by_method: Counter[str] = Counter()
        # Write requests (POST/PUT/DELETE, logins aside) this thread sent: what an import reports per object it
        # wrote, not the objects it went through (an adopted one, a graph found as the tree says, send none).
        self._writes_here = threading.local()
        self._version: MetabaseVersion | None = None
        self._properties: dict[str, Any] | None = None
        self._early: Future[Any] | None = None  # reading the properties on another thread (read_properties_early)
        self._version_lock = threading.Lock()
        # Told before each backoff wait ("GET /api/card/3: 503, retrying in 1.2 s (attempt 2 of 6)") and with
        # None once it is over: a progress display shows what it is waiting for (any thread may call it).
        self.on_retry: Callable[[str | None], None] | None = None

    @property
    def _http(self) -> httpx.Client:
        """The httpx client: for a test transport, behind a proxy, or when the wire is not used; made when first
        needed (the wire serves every request of a plain export)."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    httpx = _httpx()
                    limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
                    transport = self._transport
                    if transport is None:
                        transport = httpx.HTTPTransport(verify=self._context, limits=limits)
                    self._client = httpx.Client(
                        transport=transport,
                        verify=self._verify,
                        timeout=httpx.Timeout(self.timeout, connect=CONNECT_TIMEOUT),
                        limits=limits,
                        headers=self._headers,
                        follow_redirects=False,
                    )
        return self._client

    @classmethod
    def from_env(cls, url: str | None = None, *, api_key: str | None = None, username: str | None = None,
                 password: str | None = None, session_token: str | None = None,
                 env: Mapping[str, str] = os.environ, **kw: Any) -> MetabaseClient:
        """A client from flags, falling back to METABASE_* variables. The kind of credential the flags name wins
        (a --username flag beats a METABASE_API_KEY variable); the missing half of a pair comes from the env."""
        url = url or env.get(ENV_URL)
        if not url:
            raise UsageError("no Metabase URL", hint=f"pass --url or set {ENV_URL}")
        client = None
        if api_key:
            client, source = cls(url, api_key=api_key, **kw), "--api-key"
        elif session_token:
            client, source = cls(url, session_token=session_token, **kw), "--session-token"
        elif username or password:
            client = cls(url, **cls._login_pair(username or env.get(ENV_USERNAME), password or env.get(ENV_PASSWORD)), **kw)
            source = f"{'--username' if username else ENV_USERNAME} and {'--password' if password else ENV_PASSWORD}"
        elif env.get(ENV_API_KEY):
            client, source = cls(url, api_key=env[ENV_API_KEY], **kw), ENV_API_KEY
        elif env.get(ENV_SESSION_TOKEN):
            client, source = cls(url, session_token=env[ENV_SESSION_TOKEN], **kw), ENV_SESSION_TOKEN
        elif env.get(ENV_USERNAME) or env.get(ENV_PASSWORD):
            client = cls(url, **cls._login_pair(env.get(ENV_USERNAME), env.get(ENV_PASSWORD)), **kw)
            source = f"{ENV_USERNAME} and {ENV_PASSWORD}"
        if client is not None:
            client.credentials_from = source
            return client
        raise UsageError(
            "no Metabase credentials",
            hint=f"pass --api-key or set {ENV_API_KEY} (or --username/--password, {ENV_USERNAME}/{ENV_PASSWORD}, "
                 f"or --session-token, {ENV_SESSION_TOKEN})",
        )

    @staticmethod
    def _login_pair(username: str | None, password: str | None) -> _Login:
        if not username:
            raise UsageError("a password was given but no username", hint=f"pass --username or set {ENV_USERNAME}")
        if not password:
            raise UsageError(f"no password for {username}", hint=f"pass --password or set {ENV_PASSWORD}")
        return {"username": username, "password": password}

    def __repr__(self) -> str:
        return f"MetabaseClient({redact(self.url)!r}, auth={self._auth.kind})"

    # ---- lifecycle ----
    def close(self) -> None:
        if self._wire is not None:
            self._wire.close()
        if self._client is not None:
            self._client.close()

    def __enter__(self) -> MetabaseClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- requests ----
    def get(self, path: str, params: Any = None, *, shape: Shape | None = None) -> Any:
        """The answer's JSON; with a `shape`, without the fields it leaves out."""
        return self.request("GET", path, params=params, shape=shape)

    def post(self, path: str, json: Any = None, params: Any = None) -> Any:
        return self.request("POST", path, params=params, json=json)

    def put(self, path: str, json: Any = None, params: Any = None) -> Any:
        return self.request("PUT", path, params=params, json=json)

    def delete(self, path: str, params: Any = None) -> Any:
        return self.request("DELETE", path, params=params)

    def request(self, method: str, path: str, *, params: Any = None, json: Any = None, shape: Shape | None = None) -> Any:
        method = method.upper()
        session = self._ensure_session()
        try:
            answer = self._send(method, path, params, json, self._auth_headers(), shape=shape)
        except AuthError as exc:
            # A session from our own login can expire mid-run (Metabase drops them after 14 days or on restart):
            # log in again once. A 401 means the request was not processed, so repeating it is safe.
            if exc.status != 401 or isinstance(exc, CredentialsRefused):
                raise
            if self._auth.kind != "password":
                raise self._refused(exc) from None
            self._login(stale=session)
            try:
                answer = self._send(method, path, params, json, self._auth_headers(), shape=shape)
            except AuthError as again:
                raise self._refused(again) if again.status == 401 else again from None
        if path not in PUBLIC:
            self._accepted = True
        return answer

    def _refused(self, exc: AuthError) -> CredentialsRefused:
        """A 401 as what it means: the instance refused these credentials, or no longer accepts those it took before
        in this run (an expired session, a deleted key). Names where they came from, never them."""
        what, kind = CREDENTIALS[self._auth.kind], self._auth.kind
        source = f" from {self.credentials_from}" if self.credentials_from else ""
        status = f"{exc.status} {summarize_body(exc.body)}"
        if self._accepted:
            return CredentialsRefused(exc.method, exc.path, exc.status, exc.body, f"{self.url} no longer accepts the "
                                      f"{what}{source} it accepted earlier in this run ({status})", REVOKED_HINT[kind])
        return CredentialsRefused(exc.method, exc.path, exc.status, exc.body,
                                  f"{self.url} refused the {what}{source} ({status})", REFUSED_HINT[kind])

    def _auth_headers(self) -> dict[str, str]:
        if self._auth.kind == "api-key":
            return {"X-API-Key": self._auth.api_key or ""}
        return {"X-Metabase-Session": self._auth.session or ""}

    def _ensure_session(self) -> str | None:
        if self._auth.kind == "password" and self._auth.session is None:
            self._login(stale=None)
        return self._auth.session

    def _login(self, stale: str | None) -> None:
        with self._auth.lock:
            if self._auth.session is not stale:  # another thread logged in meanwhile
                return
            try:
                body = self._send("POST", "/api/session", None,
                                  {"username": self._auth.username, "password": self._auth.password}, {},
                                  idempotent=True)
            except AuthError as exc:
                raise (self._refused(exc) if exc.status == 401 else exc) from None
            if not isinstance(body, dict) or not isinstance(body.get("id"), str):
                raise ApiError("POST", "/api/session", 200, body, summary="the login answer has no session id")
            register_secret(body["id"])
            self._auth.session = body["id"]
            # The session travels in a header; a stored cookie would only shadow a later re-login.
            if self._client is not None:
                self._client.cookies.clear()

    def _count(self, method: str, path: str) -> None:
        with self._count_lock:
            self.request_count += 1
            self.requests_by_method[method] += 1
        if method in WRITE_METHODS and path != "/api/session":
            self._writes_here.n = self.writes_sent_here() + 1

    def writes_sent_here(self) -> int:
        """The write requests (POST/PUT/DELETE, retries included, logins not) this thread has sent so far."""
        return getattr(self._writes_here, "n", 0)

    def _backoff_delay(self, attempt: int) -> float:
        return random.uniform(0, min(MAX_BACKOFF, self.backoff * (2 ** attempt)))

    def _send(self, method: str, path: str, params: Any, json: Any, headers: dict[str, str],
              idempotent: bool | None = None, shape: Shape | None = None) -> Any:
        """One request with retries. `idempotent` says whether a lost response may be repeated."""
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "OPTIONS", "DELETE")
        url = self.url + "/" + path.lstrip("/")
        attempts = self.retries + 1
        for attempt in range(attempts):
            self._count(method, path)
            started = time.monotonic()
            try:
                resp = (self._wire.request(method, path, params, json, headers) if self._wire is not None
                        else self._http.request(method, url, params=params, json=json, headers=headers))
            except Exception as exc:
                if not _transport_error(exc):
                    raise
                elapsed = time.monotonic() - started
                log.debug("%s %s -> %s after %.0f ms", method, path, type(exc).__name__, elapsed * 1000)
                safe = _safe_transport_error(exc)
                if not safe and not idempotent:
                    raise AmbiguousWriteError(
                        method, path, None, None,
                        summary=f"no response ({self._describe(exc)}); the write may or may not have happened",
                        hint="look the object up before trying again",
                    ) from None
                if (isinstance(exc, _httpx().UnsupportedProtocol) or attempt + 1 >= attempts
                        or _unresolved_name(exc) is not None):
                    raise self._connection_failed(exc, attempt + 1) from None
                self._wait(attempt, None, method, path, self._describe(exc))
                continue
            elapsed = time.monotonic() - started
            log.debug("%s %s -> %s in %.0f ms", method, path, resp.status_code, elapsed * 1000)
            if log.isEnabledFor(logging.DEBUG):  # --debug: the exchange itself, redacted here (no credential headers)
                log.debug("  request: params=%s body=%s", redact(params),
                          redact(_one_line(jsonlib.dumps(json, default=str))) if json is not None else "-")
                secret_answer = path.rstrip("/") == "/api/session" and method == "POST"  # a new session id
                log.debug("  response: %s", "(a session id, not shown)" if secret_answer and resp.status_code < 400
                          else redact(_one_line(resp.text)) if resp.text else "(empty)")
            status = resp.status_code
            if 300 <= status < 400:
                # Not followed: a redirected POST turns into a GET and the write would silently vanish.
                location = resp.headers.get("location", "?")
                raise ApiError(method, path, status, None, summary=f"redirected to {location}",
                               hint="use the address Metabase redirects to as the URL (often https:// instead of http://)")
            if status < 400:
                body, ok = _decode(resp, shape)
                if not ok:
                    raise ApiError(method, path, status, body,
                                   summary=HTML_SUMMARY if _looks_like_html(body) else
                                   f"the answer is not JSON: {_one_line(body)[:80]}")
                return body
            body, _ = _decode(resp)
            # A 500 is often passing (a full connection pool, a restart): a read may be asked again; a write
            # may have half-happened, so the caller decides (the importer re-reads before writing again).
            if status in RETRY_STATUSES or (status == 500 and idempotent):
                # A gateway timeout on a write means the backend may still complete it: repeating could duplicate.
                if status == 504 and not idempotent:
                    raise AmbiguousWriteError(method, path, status, body,
                                              summary=f"{summarize_body(body)}; the write may or may not have happened",
                                              hint="look the object up before trying again")
                if attempt + 1 < attempts:
                    self._wait(attempt, _retry_after(resp.headers.get("retry-after")), method, path, str(status))
                    continue
            raise self._api_error(method, path, status, body, attempt + 1)
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, attempt: int, retry_after: float | None, method: str, path: str, why: str) -> None:
        delay = retry_after if retry_after is not None else self._backoff_delay(attempt)
        message = f"{method} {path}: {why}, retrying in {delay:.1f} s (attempt {attempt + 2} of {self.retries + 1})"
        log.info("%s", message)
        if self.on_retry is not None:
            self.on_retry(redact(message))
        try:
            _sleep(delay)
        finally:
            if self.on_retry is not None:
                self.on_retry(None)

    def _describe(self, exc: httpx.TransportError) -> str:
        httpx = _httpx()
        if isinstance(exc, httpx.TimeoutException):
            kind = {httpx.ConnectTimeout: "connect", httpx.ReadTimeout: "read", httpx.WriteTimeout: "write",
                    httpx.PoolTimeout: "connection pool"}.get(type(exc), "")
            limit = CONNECT_TIMEOUT if isinstance(exc, httpx.ConnectTimeout) else self.timeout
            return f"{kind} timeout after {limit:g} s".strip()
        return _reason(exc)

    def _connection_failed(self, exc: httpx.TransportError, attempts: int) -> ConnectionFailed:
        httpx = _httpx()
        unresolved = _unresolved_name(exc)
        if unresolved is not None:
            host = httpx.URL(self.url).host
            return ConnectionFailed(f"cannot reach {redact(self.url)}: the host name {host!r} does not resolve "
                                    f"({unresolved.strerror or unresolved})",
                                    hint=f"check the host name in the URL (--url, {ENV_URL} or mbport.toml) and "
                                         "this machine's DNS")
        reason = self._describe(exc)
        if attempts > 1:
            reason += f" (after {attempts} attempts)"
        hint = f"check the URL (--url, {ENV_URL}) and that Metabase is running"
        if "CERTIFICATE_VERIFY_FAILED" in str(exc) or "certificate verify failed" in str(exc):
            hint = "the server's TLS certificate was not accepted: fix its chain, or turn off verification (verify=False)"
        elif isinstance(exc, httpx.UnsupportedProtocol):
            hint = "the URL must start with http:// or https://"
        return ConnectionFailed(f"cannot reach {redact(self.url)}: {reason}", hint=hint)

    @staticmethod
    def _api_error(method: str, path: str, status: int, body: Any, attempts: int) -> ApiError:
        if status in (401, 403):
            return AuthError(method, path, status, body, hint=AUTH_HINT, attempts=attempts)
        hint = None
        if status == 404 and (path.split("?")[0].rstrip("/") in ALWAYS_SERVED
                              or isinstance(body, str) and _looks_like_html(body)):
            hint = f"no Metabase API at this URL: {SITE_URL_HINT} (--url, {ENV_URL} or mbport.toml)"
        return ApiError(method, path, status, body, attempts=attempts, hint=hint)

    # ---- version ----
    def read_properties_early(self) -> None:
        """Start reading the session properties (what every command reads first) on another thread, so that their
        round trip overlaps what a command does before it needs them (importing the export, loading the plugins);
        `properties` then waits for that read, and raises what it met."""
        if self._properties is not None or self._early is not None:
            return
        early: Future[Any] = Future()

        def read() -> None:
            try:
                early.set_result(self._read_properties())
            except BaseException as exc:  # noqa: BLE001 - raised again where the properties are wanted
                early.set_exception(exc)

        self._early = early
        threading.Thread(target=read, name="mbport-properties", daemon=True).start()

    @property
    def properties(self) -> dict[str, Any]:
        """GET /api/session/properties, read once (the version, the token features ...)."""
        if self._early is not None:
            self._early.result()  # (the error it met, raised here: asking again would only meet it again)
        return self._read_properties()

    def _read_properties(self) -> dict[str, Any]:
        if self._properties is None:
            with self._version_lock:
                if self._properties is None:
                    props = self.get("/api/session/properties")
                    self._properties = props if isinstance(props, dict) else {}
        return self._properties

    @property
    def token_features(self) -> dict[str, bool]:
        """The premium features of the instance's token (`token-features`; all false on an OSS build)."""
        features = self.properties.get("token-features")
        return {k: bool(v) for k, v in features.items()} if isinstance(features, dict) else {}

    @property
    def version(self) -> MetabaseVersion:
        """The server's version, read once from GET /api/session/properties."""
        if self._version is None:
            props = self.properties
            with self._version_lock:
                if self._version is None:
                    info = props.get("version") if isinstance(props, dict) else None
                    tag = info.get("tag") if isinstance(info, dict) else None
                    if not isinstance(tag, str):
                        raise MbportError(f"{redact(self.url)} did not report a Metabase version",
                                          hint="is the URL a Metabase (GET /api/session/properties has no version)?")
                    try:
                        self._version = MetabaseVersion.parse(tag)
                    except ValueError:
                        raise MbportError(f"cannot read Metabase's version tag {tag!r}",
                                          hint="mbport supports released Metabase versions (vX.Y.Z tags)") from None
        return self._version

    # ---- concurrency ----
    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        """fn(item) for every item, at most `concurrency` at once; results in input order. On the first
        exception the items not yet started are cancelled, the running ones finish, and it is re-raised."""
        items = list(items)
        if not items:
            return []
        if self.concurrency == 1 or len(items) == 1:
            return [fn(item) for item in items]
        errors: list[BaseException] = []  # in the order they happened
        errors_lock = threading.Lock()

        def run(item: Any) -> Any:
            try:
                return fn(item)
            except BaseException as exc:
                with errors_lock:
                    errors.append(exc)
                raise

        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(items)), thread_name_prefix="mbport-client")
        futures = [pool.submit(run, item) for item in items]
        try:
            wait(futures, return_when=FIRST_EXCEPTION)
            if errors:
                raise errors[0]
            return [f.result() for f in futures]
        finally:
            for f in futures:
                f.cancel()
            pool.shutdown(wait=True)
