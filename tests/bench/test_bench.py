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
