"""HARDWARE_UPDATE_SEC: configure_conman polls HSM and applies changes; with
Debian's conmand a change means a restart, and no change means none."""
import time

import pytest

from configure_env import Configure
from hsmsim import HsmSim, endpoint

POLL = 2
RESTART_SEC = 5  # Debian's conmand stopped and started again, listening


def bmcs(n):
    return [endpoint(f"x3000c0s{i}b0", f"127.0.0.1:{9500 + i}") for i in range(1, n + 1)]


@pytest.fixture
def polling(procs, tmp_path):
    sim = HsmSim.start(procs, tmp_path, endpoints=bmcs(2))
    # Debian's conmand: the restart-on-change path (ours gets SIGHUP, in
    # test_configure_ours.py).
    cc = Configure(procs, tmp_path, sim, env={"HARDWARE_UPDATE_SEC": str(POLL)},
                   daemon="debian")
    cc.start()
    cc.wait_names(["x3000c0s1b0", "x3000c0s2b0"])
    return sim, cc


def test_hsm_change_is_applied_within_two_poll_periods(polling):
    sim, cc = polling
    first = cc.conmand_pid()
    changed_at = time.monotonic()
    sim.set_endpoints(bmcs(3))
    # The next poll is at most one period away (one more is the margin): it
    # finds the change and starts the restart of Debian's conmand...
    cc.wait_log("restarting conmand", timeout=2 * POLL)
    found_after = time.monotonic() - changed_at
    assert found_after <= 2 * POLL
    assert "HARDWARE_UPDATE_SEC poll: rediscovering" in cc.output()
    # ...which then serves the new console within seconds (no live IPMI
    # session holds it up).
    cc.wait_names(["x3000c0s1b0", "x3000c0s2b0", "x3000c0s3b0"], timeout=RESTART_SEC)
    assert cc.conmand_pid() != first


def test_unchanged_inventory_does_not_restart_debian_conmand(polling):
    sim, cc = polling
    first = cc.conmand_pid()
    cc.wait_log("configuration unchanged", count=2, timeout=3 * POLL + 5)
    assert cc.conmand_pids() == [first]


@pytest.mark.parametrize("fault", ["500", "malformed"])
def test_failing_hsm_during_polling_changes_nothing(polling, fault):
    sim, cc = polling
    first = cc.conmand_pid()
    before = cc.conf_text()
    sim.set_endpoints(bmcs(3))
    sim.fault(fault)
    cc.wait_log(f"HSM discovery failed: {sim.endpoints_url}", count=2, timeout=3 * POLL + 5)
    assert cc.conf_text() == before
    assert cc.conmand_pids() == [first]
    assert cc.names() == ["x3000c0s1b0", "x3000c0s2b0"]
