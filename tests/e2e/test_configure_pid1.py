"""configure_conman as PID 1 of its own PID namespace, as in the container:
the kernel drops signals PID 1 does not take explicitly, and every orphan
of the namespace becomes its child."""
import os
import signal

from configure_env import Configure
from hsmsim import HsmSim, endpoint


def namespace_pid(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("NSpid:"):
                return int(line.split()[-1])
    return None


def test_as_pid_1_it_reaps_orphans_and_stops_on_sigterm(procs, tmp_path):
    script = tmp_path / "orphan-maker.sh"
    script.write_text("#!/bin/sh\n( sleep 3 & )\nexec sleep 1\n")
    script.chmod(0o755)
    sim = HsmSim.start(procs, tmp_path, endpoints=[endpoint("x3000c0s1b0", "127.0.0.1:9851")])
    # Debian's conmand lets its consoles' orphans go to PID 1; ours reaps
    # them itself as a subreaper (test_configure_discovery.py), so none
    # would reach configure_conman.
    cc = Configure(procs, tmp_path, sim, base_extra=[f'console name="orphans" dev="{script}"'],
                   daemon="debian")
    wrapper = cc.start(argv_prefix=("unshare", "--pid", "--fork", "--kill-child"))

    def inner():
        with open(f"/proc/{wrapper.pid}/task/{wrapper.pid}/children") as f:
            kids = f.read().split()
        return int(kids[0]) if kids else None

    cc.pid = cc.wait(inner, 10, "configure_conman under unshare")
    assert namespace_pid(cc.pid) == 1
    cc.wait_names(["orphans", "x3000c0s1b0"])
    orphan = cc.wait(lambda: next((p for p, comm, st in cc.children() if comm == "sleep"), None),
                     10, "an orphaned sleep to be reparented to PID 1")
    cc.wait(lambda: not os.path.exists(f"/proc/{orphan}"), 10, f"orphan {orphan} to be reaped")
    os.kill(cc.pid, signal.SIGTERM)
    assert wrapper.wait(timeout=20) == 0
    assert "Terminated received: stopping" in cc.output()
    assert "exiting" in cc.output()
