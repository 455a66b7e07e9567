"""Smoke run of the benchmark harness (bench/harness.py) at 50 consoles, so it
cannot rot: it must produce a complete table for each daemon, and at one line
per second neither daemon may lose a line. No timing is asserted."""
import json
import os
import signal
import subprocess

import pytest

from e2e_helpers import SOURCE_DIR, binary

HARNESS = os.path.join(SOURCE_DIR, "bench", "harness.py")


def run_harness(procs, tmp_path, daemon, ours):
    out = tmp_path / "out"
    argv = ["/usr/bin/python3", HARNESS, "--daemons", daemon, "--ours", ours,
            "--sizes", "50", "--change-sizes", "50", "--reps", "1", "--window", "3",
            "--clients", "5", "--throughput-mb", "4", "--out", str(out)]
    p = procs.start(argv, log_path=str(tmp_path / "harness.log"))
    try:
        p.wait(timeout=240)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGTERM)  # the harness stops its own processes
        p.wait(timeout=30)
        pytest.fail(f"harness did not finish in 240s; log: {tmp_path / 'harness.log'}")
    log = (tmp_path / "harness.log").read_text(errors="replace")
    assert p.returncode == 0, f"harness exited with {p.returncode}:\n{log[-3000:]}"
    with open(out / "results.json") as f:
        results = json.load(f)["results"][daemon]
    return results, (out / "results.md").read_text(), log


def check_complete(results, table, daemon, log):
    for key in ("steady:50", "change:50", "throughput:1"):
        runs = results[key]["runs"]
        assert len(runs) == 1, f"{daemon} {key}: {runs}"
        assert "error" not in runs[0], f"{daemon} {key} failed: {runs[0]['error']}\n{log[-3000:]}"
    column = 3 if daemon == "debian" else 4
    rows = [line.split("|")[1:-1] for line in table.splitlines()
            if line.startswith("| steady") or line.startswith("| change")
            or line.startswith("| throughput")]
    assert len(rows) == 17, table
    for row in rows:
        value = row[column].strip()
        assert value not in ("not run", "skipped") and not value.startswith("failed"), \
            f"{daemon}: row '{row[2].strip()}' is '{value}':\n{table}"
    steady = results["steady:50"]["runs"][0]
    assert steady["listed_error"] is None, steady
    assert steady["lines_lost"] == 0, f"{daemon} lost lines at 1 line/s: {steady}"
    assert steady["consoles_silent"] == 0, f"{daemon}: consoles that logged nothing: {steady}"
    assert steady["foreign_lines"] == 0, f"{daemon}: lines in the wrong log file: {steady}"
    assert results["throughput:1"]["runs"][0]["tput_mb_s"] > 0


@pytest.mark.timeout(300)
def test_harness_measures_debian_conmand_completely_with_no_line_lost(procs, tmp_path):
    results, table, log = run_harness(procs, tmp_path, "debian", "/usr/sbin/conmand")
    check_complete(results, table, "debian", log)
    # A restart is how Debian's conmand applies a change: every client goes.
    change = results["change:50"]["runs"][0]
    assert change["clients_severed"] == change["clients"] == 5, change


@pytest.mark.timeout(300)
def test_harness_measures_our_conmand_completely_with_no_line_lost(procs, tmp_path):
    results, table, log = run_harness(procs, tmp_path, "ours", binary("conmand"))
    check_complete(results, table, "ours", log)
    # Ours applies a change by SIGHUP: no client of an unchanged console goes.
    change = results["change:50"]["runs"][0]
    assert change["clients_severed"] == 0, change
    assert change["unchanged_lines_lost"] == 0, change
