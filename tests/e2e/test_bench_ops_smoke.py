"""Smoke run of bench/ops.py's base, scrape and events variants at 50 consoles, so the
operations benchmark cannot rot: both variants complete with no line lost,
and the scrape variant fetched both pages and read conmand's own figures of
how long page building held the loop. No timing is asserted."""
import json

import pytest

from e2e_helpers import binary, run_bench


@pytest.mark.timeout(240)
def test_ops_bench_base_scrape_and_events_complete_with_no_line_lost(procs, tmp_path):
    out = tmp_path / "out"
    run_bench(procs, "ops.py", ["--consoles", "50", "--window", "4", "--shard", "25",
                                "--variants", "base,scrape,events", "--scrape-every", "0.3",
                                "--ours", binary("conmand"), "--out", str(out)],
              tmp_path / "ops.log", timeout=200)
    with open(out / "results.json") as f:
        results = json.load(f)
    for name in ("base", "scrape", "events"):
        assert results[name]["lines_lost"] == 0, results[name]
        assert results[name]["cpu_pct"] >= 0, results[name]  # ticks: 0 at 50 lines/s
    scrape = results["scrape"]
    assert scrape["metrics_pages"] >= 2 and scrape["consoles_pages"] >= 2, scrape
    assert scrape["metrics_kb"] > 0 and scrape["consoles_kb"] > 0, scrape
    assert scrape["slice_max_ms"] > 0 and scrape["last_build_ms"] > 0, scrape
    assert "scrape" in (out / "ops.txt").read_text()
