"""Smoke run of the boot-storm benchmark (bench/storm.py) at 200 telnet
consoles x 16 KiB, so it cannot rot: against our conmand (timestamps on),
our conmand with the shipped console event rules on, and the reference
logger bench/minlog, every line sent must reach its console's log whole and
in order; with the rules, every event expected must be counted. No timing
is asserted."""
import json

import pytest

from e2e_helpers import binary, run_bench

def run_storm(procs, tmp_path, runs):
    out = tmp_path / "out"
    log = run_bench(procs, "storm.py",
                    ["--runs", runs, "--bytes", "16384", "--dd-mb", "0", "--ours",
                     binary("conmand"), "--minlog", binary("minlog"), "--timeout", "30",
                     "--out", str(out)], tmp_path / "storm.log", timeout=90)
    with open(out / "results.json") as f:
        return json.load(f)["results"], log


@pytest.mark.timeout(120)
def test_storm_of_200_consoles_reaches_the_logs_whole_and_in_order(procs, tmp_path):
    results, log = run_storm(procs, tmp_path, "ours:200,ours+rules:200,minlog:200")
    assert [kind for kind, _ in results] == ["ours", "ours+rules", "minlog"], results
    for kind, r in results:
        assert "error" not in r, f"{kind} failed: {r['error']}\n{log[-3000:]}"
        assert r["lines_sent"] >= 200 * 16384 // 200, r  # lines are under 200 bytes
        assert r["drain_note"] is None, f"{kind}: logs lack their last line: {r}"
        for key in ("lines_lost", "lines_out_of_order", "lines_garbled", "consoles_silent"):
            assert r[key] == 0, f"{kind}: {key} = {r[key]}: {r}"
        assert r["cpu_s"] >= 0 and r["peak_rss_mb"] > 0, r
    rules = dict(results)["ours+rules"]
    # Every console boots; some (one in ten, by name) Oops and panic.
    assert rules["events_expected"]["boot"] == 200, rules
    assert 0 < rules["events_expected"]["kernel_panic"] < 200, rules
    assert rules["events_counted"] == rules["events_expected"], rules
    assert rules["events_logged"] == rules["events_expected"], rules
    assert "events_counted" not in dict(results)["ours"]
