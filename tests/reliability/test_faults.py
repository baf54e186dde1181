"""Injected faults: the fault plan itself, then export and import surviving 10% of requests failing."""

from __future__ import annotations

import httpx
import networkx as nx
import orjson
import pytest

from mbport.capabilities import skipped, stages
from mbport.client import MetabaseClient
from mbport.emulator import Emulator, bootstrap
from mbport.emulator.faults import ALL_KINDS, ConnectionDropped, FaultPlan
from mbport.errors import MbportError
from mbport.export import run_export
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.served import stop

from .conftest import files_of, fingerprint, run_import, target

EXPORT_SEEDS = range(10)  # the default (CI) run; `-m slow` runs SLOW_EXPORT_SEEDS
SLOW_EXPORT_SEEDS = range(10, 200)
IMPORT_SEEDS = range(3)
SLOW_IMPORT_SEEDS = range(3, 60)
SLOW = 0.05  # seconds a slow answer takes; the clients below wait SLOW / 2


def raw_client(emu: Emulator, **headers: str) -> httpx.Client:
    return httpx.Client(transport=emu.transport(), base_url="http://mb.test", headers=headers, timeout=SLOW / 2)


@pytest.fixture
def admin():
    emu = Emulator()
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    return emu, raw_client(emu, **{"X-Metabase-Session": session})


# ---------------------------------------------------------------------------------------------------------------
# The plan


def test_each_fault_looks_like_what_a_client_meets(admin):
    emu, http = admin
    seen = {}
    for kind in ALL_KINDS:
        emu.faults = FaultPlan(rate=1.0, kinds=(kind,), slow_seconds=SLOW, retry_after=2)
        method, path = ("PUT", "/api/collection/graph") if kind == "409" else ("POST", "/api/collection")
        body = {"revision": 0, "groups": {}} if kind == "409" else {"name": f"made under {kind}"}
        try:
            seen[kind] = http.request(method, path, json=body)
        except httpx.TransportError as exc:
            seen[kind] = exc
    assert seen["500"].status_code == 500 and set(seen["500"].json()) == {"message", "trace", "via"}
    assert seen["502"].headers["content-type"].startswith("text/html") and "502 Bad Gateway" in seen["502"].text
    assert seen["503"].status_code == 503 and seen["503"].headers["content-type"].startswith("text/plain")
    assert seen["429"].status_code == 429 and seen["429"].headers["retry-after"] == "2"
    assert isinstance(seen["slow"], httpx.ReadTimeout)
    assert isinstance(seen["drop-before"], httpx.RemoteProtocolError)
    assert isinstance(seen["drop-after"], httpx.RemoteProtocolError)
    assert seen["409"].status_code == 409 and "someone else edited" in seen["409"].text
    # The slow and drop-after requests were processed (their answers were lost); drop-before was not.
    names = {c["name"] for c in emu.state.table("collection")}
    assert {"made under slow", "made under drop-after"} <= names
    assert not names & {"made under drop-before", "made under 500", "made under 502", "made under 429"}


def test_a_concurrent_edit_moves_the_graph_revision_on(admin):
    emu, http = admin
    before = http.get("/api/permissions/graph").json()["revision"]
    emu.faults = FaultPlan(rate=1.0, kinds=("409",))
    assert http.put("/api/permissions/graph", json={"revision": before, "groups": {}}).status_code == 409
    emu.faults = None
    assert http.get("/api/permissions/graph").json()["revision"] == before + 1


def test_same_seed_same_faults_and_switching_off(admin):
    emu, http = admin

    def run(seed):
        emu.faults = FaultPlan(rate=0.3, seed=seed, kinds=("500", "502", "503"))
        for _ in range(40):
            http.get("/api/collection")
            http.get("/api/user")
        return emu.faults.log

    assert run(1) == run(1) and run(1) != run(2)
    assert 10 < len(run(1)) < 40
    emu.faults = None
    assert all(http.get("/api/user").status_code == 200 for _ in range(30))


def test_setup_and_the_anonymous_properties_probe_are_never_faulted():
    emu = Emulator()
    emu.faults = FaultPlan(rate=1.0, kinds=("500", "drop-before"))
    anon = raw_client(emu)
    assert all(anon.get("/api/session/properties").status_code == 200 for _ in range(20))
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)  # POST /api/setup goes through
    assert session and emu.faults.total == 0


def test_only_limits_faults_to_some_requests(admin):
    emu, http = admin
    emu.faults = FaultPlan(rate=1.0, kinds=("500",), only=r"^GET /api/user$")
    assert http.get("/api/user").status_code == 500
    assert http.get("/api/collection").status_code == 200
    with pytest.raises(ValueError):
        FaultPlan(kinds=("teapot",))


def test_the_emulator_raises_connection_dropped_to_its_servers(admin):
    emu, _ = admin
    emu.faults = FaultPlan(rate=1.0, kinds=("drop-before",))
    from mbport.emulator.app import ApiRequest

    with pytest.raises(ConnectionDropped):
        emu.handle(ApiRequest.build("GET", "/api/user", "", {"x-api-key": "mb_whatever000000"}, b""))


def test_the_client_survives_every_fault_kind_on_reads(admin):
    emu, _ = admin
    api = MetabaseClient("http://mb.test", username=ADMIN_EMAIL, password=ADMIN_PASSWORD, transport=emu.transport(),
                         timeout=SLOW / 2)
    expected = api.get("/api/user")
    for seed in range(30):
        emu.faults = FaultPlan(rate=0.3, seed=seed, slow_seconds=SLOW)
        assert api.get("/api/user") == expected
    assert emu.faults.total > 0


# ---------------------------------------------------------------------------------------------------------------
# Export


def _export_under_faults(source, registry, tmp_path, seeds) -> int:
    emu, session, out, _ = source
    reference = files_of(out)
    survived = 0
    try:
        for seed in seeds:
            emu.faults = FaultPlan(rate=0.1, seed=seed, slow_seconds=SLOW)
            dest = tmp_path / f"seed-{seed}"
            with MetabaseClient("http://source.test", session_token=session, transport=emu.transport(),
                                timeout=SLOW / 2) as api:
                run_export(api, registry, dest)
            assert files_of(dest) == reference, f"seed {seed}: the tree differs from the fault-free export"
            survived += emu.faults.total
    finally:
        emu.faults = None
    return survived


def test_export_at_10_percent_faults_is_byte_identical(source, registry, tmp_path):
    survived = _export_under_faults(source, registry, tmp_path, EXPORT_SEEDS)
    assert survived >= 10, "too few faults were injected to prove anything"


@pytest.mark.slow
def test_export_at_10_percent_faults_is_byte_identical_many_seeds(source, registry, tmp_path):
    survived = _export_under_faults(source, registry, tmp_path, SLOW_EXPORT_SEEDS)
    print(f"export: {len(SLOW_EXPORT_SEEDS)} runs, {survived} faults survived")


# ---------------------------------------------------------------------------------------------------------------
# Import


@pytest.fixture(scope="module")
def clean_import(source, registry, tmp_path_factory):
    """The fault-free import of the seed's tree and its fingerprint (rows per table, docs)."""
    _, _, out, _ = source
    emu, session = target()
    base = tmp_path_factory.mktemp("clean")
    imported = run_import(out, registry, emu, session, base / "state.json", continue_on_error=True)
    return imported, fingerprint(emu, session, imported, registry, base / "back")


def _import_under_faults(source, registry, clean_import, tmp_path, seeds, **plan) -> int:
    _, _, out, _ = source
    clean, (clean_rows, clean_docs) = clean_import
    survived = 0
    for seed in seeds:
        emu, session = target()
        emu.faults = FaultPlan(seed=seed, slow_seconds=SLOW, **{"rate": 0.1, **plan})
        imported = run_import(out, registry, emu, session, tmp_path / f"state-{seed}.json", continue_on_error=True,
                              timeout=SLOW / 2)
        survived += emu.faults.total
        assert imported.result.failed == clean.result.failed, f"seed {seed}: {imported.result.failed}"
        assert imported.result.skipped == clean.result.skipped
        rows, docs = fingerprint(emu, session, imported, registry, tmp_path / f"back-{seed}")
        assert rows == clean_rows, f"seed {seed}: rows per table differ (a duplicate?)"
        differ = sorted(a for a in set(docs) | set(clean_docs) if docs.get(a) != clean_docs.get(a))
        assert not differ, f"seed {seed}: {differ[:5]}"
    return survived


def test_the_fault_free_import_is_complete(clean_import):
    imported, _ = clean_import
    assert imported.result.failed == {} and imported.result.skipped == []


def test_import_at_10_percent_faults_ends_with_the_same_objects(source, registry, clean_import, tmp_path):
    survived = _import_under_faults(source, registry, clean_import, tmp_path, IMPORT_SEEDS)
    assert survived >= 10


def test_import_survives_concurrent_edits_of_the_permission_graphs(source, registry, clean_import, tmp_path):
    survived = _import_under_faults(source, registry, clean_import, tmp_path, range(4), rate=0.5, kinds=("409",))
    assert survived >= 2


@pytest.mark.slow
def test_import_at_10_percent_faults_many_seeds(source, registry, clean_import, tmp_path):
    survived = _import_under_faults(source, registry, clean_import, tmp_path, SLOW_IMPORT_SEEDS)
    print(f"import: {len(SLOW_IMPORT_SEEDS)} runs, {survived} faults survived")


# ---------------------------------------------------------------------------------------------------------------
# A permanent failure


def _card(tree_docs, name):
    return next(a for a, d in tree_docs.items() if a.startswith("cards/") and d.get("name") == name)


def _poisoned(name: str) -> FaultPlan:
    """Every create of the card called `name` answers Metabase's 500, however often it is tried."""
    needle = orjson.dumps(name)
    return FaultPlan(rate=1.0, kinds=("500",), only=lambda req: req.method == "POST" and req.path == "/api/card"
                     and needle in req.body)


def test_a_permanent_500_names_the_object_and_the_servers_message(source, registry, tmp_path):
    _, _, out, result = source
    name = "Revenue by product category"
    addr = _card(result.docs, name)
    emu, session = target()
    emu.faults = _poisoned(name)
    with pytest.raises(MbportError) as err:
        run_import(out, registry, emu, session, tmp_path / "state.json")
    message = str(err.value)
    assert addr in message and name in message and result.paths[addr] in message
    assert "500" in message and "HikariPool-1 - Connection is not available" in message
    assert "Traceback" not in message and "\n" not in message


def test_continue_on_error_imports_everything_independent_of_a_failure(source, registry, tmp_path):
    _, _, out, result = source
    name = "Revenue by product category"
    addr = _card(result.docs, name)
    emu, session = target()
    emu.faults = _poisoned(name)
    imported = run_import(out, registry, emu, session, tmp_path / "state.json", continue_on_error=True)
    assert list(imported.result.failed) == [addr] and "HikariPool" in imported.result.failed[addr]
    graph = imported.importer.graph
    dependents = {a for stage in stages(imported.importer.kind(addr))
                  for a, _ in nx.descendants(graph, (addr, stage))} - {addr}
    assert dependents, "the chosen card should have dependents (a dashboard shows it)"
    assert set(imported.result.skipped) == dependents
    # Everything else is on the target, exactly as a fault-free import would have it.
    _, docs = fingerprint(emu, session, imported, registry, tmp_path / "back")
    left_out = {a for a in result.docs if skipped(imported.importer.kind(a), imported.importer.options)}  # api keys
    assert set(docs) == set(result.docs) - {addr} - dependents - left_out


# ---------------------------------------------------------------------------------------------------------------
# Served: `mbport emulator serve --fault-rate`


def _serve(tmp_path, *flags):
    from tests.served import serve

    # the anonymous properties probe that waits for the server is never faulted
    return serve(tmp_path / "serve.log", "--admin-password", ADMIN_PASSWORD, "--api-key", SERVED_KEY, *flags)


SERVED_KEY = "mb_FaUlTsErVeKeY0123456789abcdefghijklm"


def test_a_served_dropped_connection_is_a_transport_error(tmp_path):
    proc, url = _serve(tmp_path, "--fault-rate", "1", "--fault-kinds", "drop-before")
    try:
        with httpx.Client(base_url=url, headers={"x-api-key": SERVED_KEY}, timeout=5) as http:
            with pytest.raises(httpx.RemoteProtocolError):
                http.get("/api/user")
    finally:
        stop(proc)


def test_export_through_the_cli_against_a_faulty_server(tmp_path):
    import subprocess
    import sys

    proc, url = _serve(tmp_path, "--seed", "sample", "--fault-rate", "0.15", "--fault-seed", "4", "--fault-kinds",
                       "500,502,503,429,drop-before,drop-after", "--latency-ms", "1")
    try:
        run = subprocess.run([sys.executable, "-c", "from mbport.cli import main; main()", "export", "--url", url,
                              "--api-key", SERVED_KEY, "--out", str(tmp_path / "tree")], capture_output=True,
                             timeout=120)
        assert run.returncode == 0, run.stderr.decode()[-2000:]
        assert b"retrying" not in run.stdout  # retries are logged, never printed on a normal run
    finally:
        stop(proc)
