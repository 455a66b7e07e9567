"""Supervision of conmand: backoff for quick deaths, and signals while
there is no conmand to stop."""
import os
import re
import signal
import socket

import pytest

from configure_env import Configure
from hsmsim import HsmSim, endpoint

BMCS = [endpoint("x3000c0s1b0", "127.0.0.1:9801")]


def test_conmand_dying_at_start_is_restarted_with_doubling_backoff(procs, tmp_path):
    # A real failure: conmand's port is taken, so Debian's conmand exits at
    # once. configure_conman waits 1, 2, 4 s between starts, and once the
    # port is free conmand comes up and stays.
    sim = HsmSim.start(procs, tmp_path, endpoints=BMCS)
    cc = Configure(procs, tmp_path, sim)
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", cc.conman_port))
    blocker.listen()
    try:
        cc.start()
        cc.wait_log("; restarting in 4 s", timeout=20)
    finally:
        blocker.close()
    delays = re.findall(r"conmand \(pid \d+\) exited with code \d+ after [0-9.]+ s; "
                        r"restarting in (\d+) s", cc.output())
    assert delays[:3] == ["1", "2", "4"]
    cc.wait_names(["x3000c0s1b0"], timeout=20)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_while_waiting_for_hsm_exits_zero(procs, tmp_path, sig):
    cc = Configure(procs, tmp_path)  # API_GATEWAY points at a closed port
    cc.start()
    cc.wait_log("HSM discovery failed:")
    os.kill(cc.proc.pid, sig)
    assert cc.proc.wait(timeout=10) == 0
    assert "received: stopping" in cc.output()


def test_conmand_that_ignores_sigterm_is_killed_after_10_s(procs, tmp_path):
    # A stopped conmand cannot act on SIGTERM (like Debian's, which can take
    # 75 s to exit with live IPMI sessions): configure_conman must not wait
    # longer than 10 s before SIGKILL, and still exit 0.
    sim = HsmSim.start(procs, tmp_path, endpoints=BMCS)
    cc = Configure(procs, tmp_path, sim)
    cc.start()
    cc.wait_names(["x3000c0s1b0"])
    conmand = cc.conmand_pid()
    os.kill(conmand, signal.SIGSTOP)
    os.kill(cc.pid, signal.SIGTERM)
    assert cc.proc.wait(timeout=20) == 0
    assert not os.path.exists(f"/proc/{conmand}")
    out = cc.output()
    assert f"conmand (pid {conmand}) killed by signal 9 (Killed) (SIGKILL after 10 s)" in out
