"""The benchmark runs end to end at scale 0.01 and reports sane numbers (not that it is fast)."""

from __future__ import annotations

import shutil

import pytest

from bench import run as bench_run

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="the backup scenario needs git")


def test_small_benchmark_runs_and_reports(tmp_path):
    out = bench_run.run(0.01, 2.0, 4, tmp_path, log=lambda *_: None)
    scenarios = out["scenarios"]
    assert set(scenarios) == {"cold export (before)", "cold export", "incremental export",
                              "export unchanged, no cache (before)", "backup (first)", "backup (no change)",
                              "import (empty target)", "plan (no change)", "verify (source vs target)"}
    for name, modes in scenarios.items():
        for mode in ("concurrent", "sequential") if not name.startswith("verify") else ("concurrent",):
            result = modes[mode]
            assert "error" not in result, f"{name} ({mode}): {result.get('error')}"
            assert result["requests"] > 0 and result["seconds"] > 0 and result["peak_rss_mb"] > 0
            assert result["ratio_to_limit"] > 0
    # Incremental: the unchanged dashboards are not fetched again.
    cold = scenarios["cold export"]["concurrent"]["requests"]
    assert scenarios["incremental export"]["concurrent"]["requests"] <= cold - out["workload"]["counts"]["dashboards"]
    assert scenarios["backup (no change)"]["concurrent"]["commit"] is False
    assert scenarios["plan (no change)"]["concurrent"]["changes"] == 0
    verified = scenarios["verify (source vs target)"]["concurrent"]
    assert verified["objects"] > 0 and verified["queries"] > 0, verified
    assert all(out["checks"].values()), out["checks"]
    table = bench_run.markdown(out)
    assert "| cold export |" in table and out["machine"]["cores"] >= 1


def test_the_phases_of_an_export_add_up_to_its_cpu_and_leave_nothing_patched(tmp_path):
    """`bench.run --replay --phases`: an export's thread CPU per stage, each stage without the stages it calls."""
    import resource

    from bench.phases import Phases
    from mbport import export
    from mbport.client import MetabaseClient
    from mbport.export import run_export
    from mbport.registry import load_plugins
    from tests.conftest import seeded_instance

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    _, client = seeded_instance("sample")
    registry = load_plugins()
    with client as api:
        before = cpu()
        with Phases(registry) as phases:
            result = run_export(api, registry, tmp_path / "tree")
        report = phases.report(cpu() - before)
        assert result.counts["cards"] > 0
        for stage in ("normalizing", "indexing", "placing", "serializing", "writing the tree", "fetch cache",
                      "listing (the kinds' own code)", "requests and decoding", "export's bookkeeping"):
            assert stage in report, stage  # (a small seed's stage may take less than a millisecond)
        assert report["normalizing"] > 0 and report["requests and decoding"] > 0
        assert sum(report.values()) <= cpu() - before + 0.05  # each second counted once
        # the block's end undid every wrapper: an export now runs mbport's own functions
        assert export.normalize_one.__module__ == "mbport.export" and MetabaseClient.request.__module__ == "mbport.client"
        assert all("list" not in vars(kind) and "index" not in vars(kind) for kind in registry.kinds.values())
        again = run_export(api, registry, tmp_path / "again")
    assert again.counts == result.counts and bench_run.same_tree(tmp_path / "tree", tmp_path / "again")
    line = bench_run.replay_markdown({"machine": bench_run.machine(), "scale": 0.01, "latency_ms": 1, "concurrency": 4,
                                      "workload": {"counts": {}}, "scenarios": {"cold export": [
                                          {"requests": 9, "seconds": 1.0, "limit_s": 1.0, "ratio_to_limit": 1.0,
                                           "client_cpu_s": 1.0, "server_cpu_s": 0.1, "phases": report}]}})
    assert "Cold export, mbport's thread CPU per stage in seconds" in line and "normalizing" in line
