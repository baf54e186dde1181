"""The replay server stands in for the emulator: an export through it makes the recorded requests and writes
the same tree, byte for byte."""

from __future__ import annotations

import shutil

import pytest

from bench import run as bench_run
from bench.replay import record
from mbport.client import MetabaseClient
from mbport.export import run_export
from mbport.registry import load_plugins

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="the recording's plan scenario needs git")


def test_an_export_through_the_replay_writes_the_recorded_tree(tmp_path):
    recording = tmp_path / "replay.pickle"
    data = record(0.01, tmp_path / "warehouses", recording, keep_tree=tmp_path / "recorded-tree")
    with bench_run.replayed(recording, latency_ms=1, max_concurrent=4) as server:
        with MetabaseClient(server.url, session_token=server.session, concurrency=4) as api:
            result = run_export(api, load_plugins(), tmp_path / "tree", cache=False)
    assert server.info["unknown"] == []  # every request was answered from the recording
    assert bench_run.same_tree(tmp_path / "recorded-tree", tmp_path / "tree")
    assert sum(result.counts.values()) == data["objects"]
    # a whole `mbport --quiet export` process against it, timed with its imports
    start = bench_run.run_start(0.01, 1, 4, tmp_path / "start", 2, log=lambda *_: None, recording=recording)
    assert [r["requests"] for r in start["runs"]] == [result.requests] * 2  # each a cold export
    assert all(r["cpu_s"] > 0 and r["seconds"] > 0 for r in start["runs"] + start["imports"])
    assert "Start: `mbport --quiet export`" in bench_run.replay_markdown(
        {"machine": bench_run.machine(), "scale": 0.01, "latency_ms": 1, "concurrency": 4, "scenarios": {},
         "workload": {"counts": data["counts"]}, "start": start})
