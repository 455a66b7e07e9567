"""With our conmand (its -V prints "conmand (conman-service)"), a changed
configuration is applied by SIGHUP: the same conmand process keeps running."""
from conftest import binary
from configure_env import Configure
from hsmsim import HsmSim, endpoint


def test_our_conmand_gets_sighup_instead_of_a_restart(procs, tmp_path):
    sim = HsmSim.start(procs, tmp_path, endpoints=[endpoint("x3000c0s1b0", "127.0.0.1:9601")])
    cc = Configure(procs, tmp_path, sim,
                   env={"CONMAND": binary("conmand"), "HARDWARE_UPDATE_SEC": "1"})
    cc.start()
    cc.wait_names(["x3000c0s1b0"])
    assert "is ours: changes are applied with SIGHUP" in cc.output()
    pid = cc.conmand_pid()
    sim.set_endpoints([endpoint("x3000c0s1b0", "127.0.0.1:9601"),
                       endpoint("x3000c0s2b0", "127.0.0.1:9602")])
    cc.wait_log(f"sending SIGHUP to conmand (pid {pid})")
    assert 'console name="x3000c0s2b0"' in cc.conf_text()
    assert cc.conmand_pids() == [pid]
    assert "restarting conmand" not in cc.output()
    cc.assert_no_secret()
