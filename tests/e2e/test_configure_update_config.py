"""UPDATE_CONFIG in the base file's first line freezes a hand-edited file."""
import pytest

from configure_env import Configure
from hsmsim import HsmSim, endpoint


def manual_conf(cc):
    with open(cc.base_file) as f:
        base = f.read()
    return base + 'console name="manual1" dev="ipmi:127.0.0.1:9401" ipmiopts="U:root,P:0x00"\n'


@pytest.mark.parametrize("first_line", ["# UPDATE_CONFIG=FALSE", "#update_config = false "])
def test_update_config_false_keeps_a_manual_edit(procs, tmp_path, first_line):
    sim = HsmSim.start(procs, tmp_path, endpoints=[endpoint("x3000c0s1b0", "127.0.0.1:9402")])
    cc = Configure(procs, tmp_path, sim, first_line=first_line)
    manual = manual_conf(cc)
    cc.write(cc.conf, manual)
    cc.start()
    cc.wait_names(["manual1"])
    assert cc.conf_text() == manual
    assert sim.requests_served() == 0
    # A rediscovery request does not touch a frozen file either. The line is
    # logged before the rediscovery runs; configure_conman takes signals one
    # at a time, so a second SIGHUP's line means the first one's is done.
    cc.sighup()
    cc.wait_log("SIGHUP: rediscovering")
    cc.sighup()
    cc.wait_log("SIGHUP: rediscovering", count=2)
    assert cc.conf_text() == manual
    assert sim.requests_served() == 0
    assert "UPDATE_CONFIG=FALSE" in cc.output()


def test_update_config_false_without_a_file_generates_one(procs, tmp_path):
    sim = HsmSim.start(procs, tmp_path, endpoints=[endpoint("x3000c0s1b0", "127.0.0.1:9402")])
    cc = Configure(procs, tmp_path, sim, first_line="# UPDATE_CONFIG=FALSE")
    cc.start()
    cc.wait_names(["x3000c0s1b0"])


def test_update_config_true_replaces_a_manual_edit(procs, tmp_path):
    sim = HsmSim.start(procs, tmp_path, endpoints=[endpoint("x3000c0s1b0", "127.0.0.1:9402")])
    cc = Configure(procs, tmp_path, sim, first_line="# UPDATE_CONFIG=TRUE")
    cc.write(cc.conf, manual_conf(cc))
    cc.start()
    cc.wait_names(["x3000c0s1b0"])
    assert "manual1" not in cc.conf_text()
