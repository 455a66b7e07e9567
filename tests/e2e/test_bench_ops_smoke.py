"""Smoke run of bench/ops.py's base and scrape variants at 50 consoles, so the
operations benchmark cannot rot: both variants complete with no line lost,
and the scrape variant fetched both pages and read conmand's own figures of
how long page building held the loop. No timing is asserted."""
import json
import os
import signal
import subprocess

import pytest

from e2e_helpers import SOURCE_DIR, binary

OPS = os.path.join(SOURCE_DIR, "bench", "ops.py")


@pytest.mark.timeout(240)
def test_ops_bench_base_and_scrape_complete_with_no_line_lost(procs, tmp_path):
    out = tmp_path / "out"
    argv = ["/usr/bin/python3", OPS, "--consoles", "50", "--window", "4", "--shard", "25",
            "--variants", "base,scrape", "--scrape-every", "0.3", "--ours", binary("conmand"),
            "--out", str(out)]
    p = procs.start(argv, log_path=str(tmp_path / "ops.log"))
    try:
        p.wait(timeout=200)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGTERM)  # ops.py stops its own processes
        p.wait(timeout=30)
        pytest.fail(f"ops.py did not finish in 200 s; log: {tmp_path / 'ops.log'}")
    log = (tmp_path / "ops.log").read_text(errors="replace")
    assert p.returncode == 0, f"ops.py exited with {p.returncode}:\n{log[-3000:]}"
    with open(out / "results.json") as f:
        results = json.load(f)
    for name in ("base", "scrape"):
        assert results[name]["lines_lost"] == 0, results[name]
        assert results[name]["cpu_pct"] >= 0, results[name]  # ticks: 0 at 50 lines/s
    scrape = results["scrape"]
    assert scrape["metrics_pages"] >= 2 and scrape["consoles_pages"] >= 2, scrape
    assert scrape["metrics_kb"] > 0 and scrape["consoles_kb"] > 0, scrape
    assert scrape["slice_max_ms"] > 0 and scrape["last_build_ms"] > 0, scrape
    assert "scrape" in (out / "ops.txt").read_text()
