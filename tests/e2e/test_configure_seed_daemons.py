"""The seed system's behaviour with each daemon configure_conman can run:
ours (the default everywhere) and Debian's (the reference peer, selected
with CONMAND). HSM down at start, a killed conmand, a frozen hand-edited
file, a malformed HSM answer, secrets, SIGTERM: the same outcome for both."""
import os
import signal
import time

import pytest

from e2e_helpers import alive, free_port, wait_for
from configure_env import Configure
from hsmsim import HsmSim, endpoint

DAEMONS = ["ours", "debian"]
GOOD = ["x3000c0s1b0", "x3000c0s2b0"]


def good_endpoints():
    return [endpoint("x3000c0s1b0", "127.0.0.1:9401"), endpoint("x3000c0s2b0", "127.0.0.1:9402")]


def running(procs, tmp_path, daemon, **kw):
    sim = HsmSim.start(procs, tmp_path, endpoints=good_endpoints())
    cc = Configure(procs, tmp_path, sim, daemon=daemon, **kw)
    cc.start()
    cc.wait_names(GOOD)
    return sim, cc


@pytest.mark.parametrize("daemon", DAEMONS)
def test_hsm_down_at_start_then_up_starts_the_daemon(daemon, procs, tmp_path):
    port = free_port()
    cc = Configure(procs, tmp_path, daemon=daemon)
    cc.extra_env["API_GATEWAY"] = f"http://127.0.0.1:{port}"
    cc.start()
    cc.wait_log("HSM discovery failed", count=2)
    assert cc.conmand_pids() == []
    HsmSim.start(procs, tmp_path, endpoints=good_endpoints(), port=port)
    cc.wait_names(GOOD)


@pytest.mark.parametrize("daemon", DAEMONS)
def test_killed_daemon_is_back_within_seconds(daemon, procs, tmp_path):
    sim, cc = running(procs, tmp_path, daemon)
    first = cc.conmand_pid()
    os.kill(first, signal.SIGKILL)
    t0 = time.monotonic()
    cc.wait(lambda: [p for p in cc.conmand_pids() if p != first], 10, "a new conmand")
    cc.wait_names(GOOD, timeout=10)
    assert time.monotonic() - t0 < 10
    cc.wait_log("killed by signal 9")


@pytest.mark.parametrize("daemon", DAEMONS)
def test_update_config_false_runs_the_hand_edited_file(daemon, procs, tmp_path):
    sim = HsmSim.start(procs, tmp_path, endpoints=good_endpoints())
    cc = Configure(procs, tmp_path, sim, first_line="# UPDATE_CONFIG=FALSE", daemon=daemon)
    with open(cc.base_file) as f:
        base = f.read()
    cc.write(cc.conf, base + 'console name="hand-edited" dev="/bin/cat"\n')
    os.chmod(cc.conf, 0o600)
    before = cc.conf_text()
    cc.start()
    cc.wait_names(["hand-edited"])
    assert cc.conf_text() == before
    assert sim.requests_served() == 0


@pytest.mark.parametrize("daemon", DAEMONS)
def test_malformed_hsm_answer_keeps_the_daemon_and_its_file(daemon, procs, tmp_path):
    sim, cc = running(procs, tmp_path, daemon, env={"HARDWARE_UPDATE_SEC": "1"})
    pid, before = cc.conmand_pid(), cc.conf_text()
    sim.fault("malformed")
    cc.wait_log("malformed JSON", count=2)
    assert cc.conf_text() == before
    assert cc.conmand_pids() == [pid]
    assert cc.names() == GOOD


def secrets_of_process(pid):
    """argv and environment of a live process, as anyone may read argv."""
    found = b""
    for part in ("cmdline", "environ"):
        try:
            with open(f"/proc/{pid}/{part}", "rb") as f:
                found += f.read()
        except OSError:
            pass
    return found


@pytest.mark.parametrize("daemon", DAEMONS)
def test_no_secret_in_any_output_argv_or_environment(daemon, procs, tmp_path):
    sim, cc = running(procs, tmp_path, daemon)
    pid = cc.conmand_pid()
    hexpw = cc.password.encode().hex().encode()
    for proc in (cc.pid, pid):
        seen = secrets_of_process(proc)
        assert cc.password.encode() not in seen and hexpw not in seen.lower(), proc
    cc.assert_no_secret()
    logs = b""
    for root, _, files in os.walk(cc.logdir):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                logs += f.read()
    assert cc.password.encode() not in logs and hexpw not in logs.lower()


@pytest.mark.parametrize("daemon", DAEMONS)
def test_sigterm_stops_the_daemon_and_exits_zero(daemon, procs, tmp_path):
    sim, cc = running(procs, tmp_path, daemon)
    child = cc.conmand_pid()
    os.kill(cc.pid, signal.SIGTERM)
    assert cc.proc.wait(timeout=20) == 0
    wait_for(lambda: not alive(child), timeout=5, what="conmand to be gone")
