"""The client's own HTTP/1.1 connections (mbport/client.py `_Wire`), against a real socket server: what reaches
the server is what httpx would send, answers are read the same, failures are sorted the same, and a request
costs a fraction of httpx's CPU."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from mbport import client as client_mod
from mbport.client import AmbiguousWriteError, ConnectionFailed, MetabaseClient

KEY = "mb_WireTestKey0123456789abcdefghijklmnop"


class Server:
    """A keep-alive HTTP/1.1 server on a free port that records each request and answers with `answer(request)`."""

    def __init__(self, answer=None):
        self.seen: list[dict] = []
        self.connections = 0
        self.open_now = 0
        self.most_open = 0
        self.answer = answer or (lambda req: (200, {"Content-Type": "application/json"}, b'{"ok": true}'))
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                with lock:
                    server.connections += 1
                    server.open_now += 1
                    server.most_open = max(server.most_open, server.open_now)

            def finish(self):
                super().finish()
                with lock:
                    server.open_now -= 1

            def _any(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                req = {"method": self.command, "target": self.path, "body": body,
                       "headers": {k.lower(): v for k, v in self.headers.items()}}
                server.seen.append(req)
                status, headers, content = server.answer(req)
                if status is None:  # drop the connection without answering
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                head = "".join(f"{k}: {v}\r\n" for k, v in {**headers, "Content-Length": len(content)}.items())
                # one write: headers and body apart would wait for a delayed ACK (40 ms) on every request
                self.wfile.write(f"HTTP/1.1 {status} X\r\n{head}\r\n".encode("latin-1") + content)

            do_GET = do_POST = do_PUT = do_DELETE = _any

            def log_message(self, *args):
                pass

        lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(client_mod, "_sleep", lambda s: None)


def _both(url, **kw):
    """A client on the wire and one through httpx's own transport (what every client used before)."""
    return (MetabaseClient(url, api_key=KEY, **kw),
            MetabaseClient(url, api_key=KEY, transport=httpx.HTTPTransport(), **kw))


def _outcome(client, path):
    """A GET's answer, or its error's message."""
    try:
        return client.get(path)
    except client_mod.ApiError as exc:
        return str(exc)


def test_a_client_of_a_real_server_uses_the_wire_unless_a_proxy_is_set(server, monkeypatch):
    assert MetabaseClient(server.url, api_key=KEY)._wire is not None
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    assert MetabaseClient(server.url, api_key=KEY)._wire is None  # httpx goes through the proxy
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert MetabaseClient(server.url, api_key=KEY)._wire is not None


def test_the_server_sees_what_httpx_would_send(server):
    wire, plain = _both(server.url + "/base/")
    calls = [
        ("GET", "/api/card", {"f": "all", "archived": True, "none": None, "ids": [1, 2], "q": "a b&c/é"}, None),
        ("GET", "/api/database/1/schema/my schema/é", None, None),
        ("POST", "/api/card", None, {"name": "Ünïcode ✓", "n": 12345678901234567890, "x": [1.5, None, False]}),
        ("PUT", "/api/card/1", {"a": "1"}, {}),
        ("DELETE", "/api/card/1", None, None),
        ("POST", "/api/x", None, None),
    ]
    for client in (wire, plain):
        for method, path, params, body in calls:
            client.request(method, path, params=params, json=body)
    sent = [(r["method"], r["target"], r["body"], r["headers"].get("content-type"), r["headers"].get("content-length"),
             r["headers"]["x-api-key"], r["headers"]["accept"], r["headers"]["user-agent"],
             r["headers"]["accept-encoding"], r["headers"]["host"]) for r in server.seen]
    assert len(sent) == 2 * len(calls)
    assert sent[:len(calls)] == sent[len(calls):]
    assert sent[0][1].startswith("/base/api/card?f=all&archived=true")


def test_answers_are_read_alike(server):
    answers = {
        "/gzip": (200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, gzip.compress(b'[1, 2, 3]')),
        "/text": (200, {"Content-Type": "text/plain; charset=latin-1"}, "café".encode("latin-1")),
        "/empty": (204, {}, b""),
        "/error": (400, {"Content-Type": "application/json"}, b'{"message": "bad"}'),
        "/moved": (302, {"Location": "https://elsewhere/"}, b""),
    }
    server.answer = lambda req: answers[req["target"]]
    wire, plain = _both(server.url)
    for path in answers:
        assert _outcome(wire, path) == _outcome(plain, path)
    assert wire.get("/gzip") == [1, 2, 3] and wire.get("/text") == "café"


def test_connections_are_reused_and_an_idle_one_the_server_closed_is_replaced(server):
    api = MetabaseClient(server.url, api_key=KEY)
    for _ in range(5):
        api.get("/api/x")
    assert server.connections == 1  # keep-alive
    idle = api._wire._idle[0]
    idle.sock.shutdown(socket.SHUT_RDWR)  # as a server closing a keep-alive connection looks from here
    time.sleep(0.05)
    assert api.get("/api/x") == {"ok": True}
    assert api.request_count == 6  # no retry was needed: the closed connection was not used


def test_no_more_connections_than_the_concurrency(server):
    def slow(req):
        time.sleep(0.02)
        return 200, {"Content-Type": "application/json"}, b"1"

    server.answer = slow
    api = MetabaseClient(server.url, api_key=KEY, concurrency=3)
    threads = [threading.Thread(target=lambda: [api.get("/api/x") for _ in range(5)]) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(server.seen) == 60 and server.most_open <= 3


def test_failures_are_sorted_as_with_httpx(server):
    server.answer = lambda req: (None, {}, b"")  # every request: the connection drops, no answer
    api = MetabaseClient(server.url, api_key=KEY, retries=2)
    with pytest.raises(AmbiguousWriteError, match="may or may not have happened"):
        api.post("/api/card", json={"name": "x"})
    assert len(server.seen) == 1  # a write whose answer was lost is not repeated
    with pytest.raises(ConnectionFailed):
        api.get("/api/card")
    assert len(server.seen) == 4  # a read is (retries + 1 attempts)
    port = server.httpd.server_address[1]
    server.stop()
    closed = MetabaseClient(f"http://127.0.0.1:{port}", api_key=KEY, retries=1)
    with pytest.raises(ConnectionFailed, match="cannot reach"):
        closed.post("/api/card", json={})  # refused: nothing was sent, so not ambiguous


def test_a_request_costs_a_fraction_of_httpx_cpu(server):
    """The reason the wire exists: per request, httpx.Client costs about a millisecond of CPU."""
    body = json.dumps([{"id": i, "name": f"card {i}"} for i in range(50)]).encode()
    server.answer = lambda req: (200, {"Content-Type": "application/json"}, body)

    def cpu_per_request(api):
        api.get("/api/x")
        started = time.process_time()
        for _ in range(300):
            api.get("/api/x")
        return (time.process_time() - started) / 300

    wire, plain = _both(server.url)
    # process time includes the server's threads here; both clients are measured the same way
    assert cpu_per_request(wire) < 0.7 * cpu_per_request(plain)


class RawServer:
    """A socket server that answers each request with canned bytes (by path): answers framed in ways the
    BaseHTTPRequestHandler above never sends (chunked, gzip in chunks, until the close, HTTP/1.0, 100 Continue)."""

    def __init__(self, answers: dict[str, bytes], close: bool = False):
        self.answers, self.connections, self.close = answers, 0, close  # close: after every answer
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        data = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, data = data.partition(b"\r\n\r\n")
                answer = self.answers[head.split(b" ")[1].decode()]
                conn.sendall(answer)
                if self.close or b"Connection: close" in answer or answer.startswith(b"HTTP/1.0") or b"Content-Length" not in \
                        answer and b"chunked" not in answer:
                    return  # the end of the body is the end of the connection

    def stop(self):
        self.sock.close()


def _chunked(body: bytes, size: int) -> bytes:
    parts = [b"%x;ext=1\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size]) for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\nX-Trailer: yes\r\n\r\n"


def test_answers_framed_every_way_http_allows_are_read_alike():
    big = json.dumps([{"id": i, "name": f"card {i}", "archived": False} for i in range(20000)]).encode()
    zipped = gzip.compress(big)
    json_head = b"Content-Type: application/json\r\n"
    answers = {
        "/chunked": b"HTTP/1.1 200 OK\r\n" + json_head + b"Transfer-Encoding: chunked\r\n\r\n" + _chunked(big, 8192),
        "/gzip-chunked": (b"HTTP/1.1 200 OK\r\n" + json_head + b"Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
                          + _chunked(zipped, 1000)),
        "/until-close": b"HTTP/1.1 200 OK\r\n" + json_head + b"\r\n" + big,
        "/http10": b"HTTP/1.0 200 OK\r\n" + json_head + b"Content-Length: 7\r\n\r\n[1,2,3]",
        "/continue": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n" + json_head + b"Content-Length: 2\r\n\r\n{}",
        "/folded": b"HTTP/1.1 200 OK\r\nContent-Type: application/json;\r\n charset=utf-8\r\nContent-Length: 4\r\n\r\ntrue",
        "/close": b"HTTP/1.1 404 Not Found\r\n" + json_head + b"Connection: close\r\nContent-Length: 17\r\n\r\n{\"message\": \"no\"}",
        "/keep": b"HTTP/1.1 200 OK\r\n" + json_head + b"Content-Length: 1\r\n\r\n1",
    }
    server = RawServer(answers)
    try:
        wire, plain = _both(server.url)
        for path in answers:
            assert _outcome(wire, path) == _outcome(plain, path), path
        assert wire.get("/chunked") == json.loads(big) == wire.get("/gzip-chunked")
        fresh, before = MetabaseClient(server.url, api_key=KEY), server.connections
        for _ in range(3):
            assert fresh.get("/keep") == 1
        assert server.connections == before + 1  # one keep-alive connection for the three
    finally:
        server.stop()


def test_a_truncated_or_garbled_answer_is_a_protocol_error_retried_on_a_read():
    answers = {
        "/short": b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n[1,",
        "/garbled": b"SMTP ready\r\n\r\n",
        "/bad-chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    }
    server = RawServer(answers, close=True)
    try:
        api = MetabaseClient(server.url, api_key=KEY, retries=1)
        for path in answers:
            with pytest.raises(ConnectionFailed, match="(after 2 attempts)"):
                api.get(path)
        with pytest.raises(AmbiguousWriteError):
            api.post("/short", json={})
    finally:
        server.stop()
