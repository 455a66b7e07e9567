"""With our conmand (its -V prints "conmand (conman-service)"), a changed
configuration is applied by SIGHUP: the same conmand process keeps running."""
import resource

from e2e_helpers import binary
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


def test_conmand_inherits_the_hard_open_file_limit_from_configure_conman(procs, tmp_path):
    # conman since 0.2.8 keeps the soft limit it is given; a container's can
    # be 1,024, too few for thousands of consoles.
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    sim = HsmSim.start(procs, tmp_path, endpoints=[endpoint("x3000c0s1b0", "127.0.0.1:9601")])
    cc = Configure(procs, tmp_path, sim, env={"CONMAND": binary("conmand")})
    cc.start(argv_prefix=("prlimit", f"--nofile=512:{hard}", "--"))
    cc.wait_names(["x3000c0s1b0"])
    with open(f"/proc/{cc.conmand_pid()}/limits") as f:
        line = next(l for l in f if l.startswith("Max open files"))
    assert line.split()[3:5] == [str(hard), str(hard)], line
    assert f"Open file limit raised from 512 to {hard}" in cc.output()
