"""SIGTERM while thousands of consoles are connected: our conmand exits
within a few seconds (Debian's 0.2.7 takes 75-80 s with live IPMI sessions)
and leaves no child behind, not even one that ignores SIGTERM or a console's
grandchild whose parent already exited."""
import os
import signal
import time

import pytest

from bmcsim import IPMI_WORKAROUNDS, BmcSim
from e2e_helpers import alive, binary, processes, wait_for, write_script
from conmand_util import Daemon

# A console that ignores SIGTERM (and the hangup of its pty) and leaves a
# child that ignores them too.
STUBBORN = """#!/bin/sh
trap "" TERM HUP
sh -c 'trap "" TERM HUP; while :; do sleep 1; done' &
while :; do echo stubborn; sleep 0.5; done
"""

# A console whose own child outlives it: the orphan is reparented.
ORPHANING = """#!/bin/sh
(exec sleep 600 &)
exec sleep 600
"""

CHAT = """#!/bin/sh
while :; do echo chat; sleep 0.2; done
"""



def descendants(root):
    """The PIDs below `root` now, and their sessions."""
    table = {p.pid: p for p in processes()}
    found, todo = set(), [root]
    while todo:
        parent = todo.pop()
        for p in table.values():
            if p.ppid == parent and p.pid not in found:
                found.add(p.pid)
                todo.append(p.pid)
    return found, {table[pid].sid for pid in found}


@pytest.mark.parametrize("stubborn", [False, True], ids=["obedient", "stubborn"])
def test_sigterm_with_thousands_of_consoles_exits_in_seconds_leaving_no_child(
        stubborn, procs, tmp_path):
    n = 2000
    sock_dir = tmp_path / "sock"
    sock_dir.mkdir()
    procs.start([binary("console-sim"), "--rate", "1", "--range", f"c:{n}:unix:{sock_dir}"],
                log_path=str(tmp_path / "sim.out"))
    wait_for(lambda: b"ready" in (tmp_path / "sim.out").read_bytes(), timeout=30,
             what="console-sim ready")
    bmcs = BmcSim.start(procs, tmp_path, count=3, rate=5)
    consoles = [f'console name="c{i}" dev="unix:{sock_dir}/c{i}.sock"' for i in range(1, n + 1)]
    consoles += bmcs.console_lines()
    chat = write_script(tmp_path, "chat.sh", CHAT)
    stubborn_sh = write_script(tmp_path, "stubborn.sh", STUBBORN)
    orphaning = write_script(tmp_path, "orphaning.sh", ORPHANING)
    consoles += [f'console name="p{i}" dev="{chat}"' for i in range(6)]
    consoles.append(f'console name="orphaning" dev="{orphaning}"')
    # With a console that ignores SIGTERM the grace period (1 s) runs out.
    consoles.append(f'console name="last" dev="{stubborn_sh if stubborn else chat}"')
    d = Daemon("ours", procs, tmp_path, consoles,
               server_extra="server nofile=-1",
               global_extra='global log="logs/%N"\n' + IPMI_WORKAROUNDS).start()
    want = n + 3 + 8
    wait_for(lambda: d.output().count("] connected to ") >= want, timeout=60, interval=0.5,
             what=f"all {want} consoles connected")
    for b in bmcs.bmcs:
        assert f"Console [{b.name}] connected to <" in d.output()
    clients = [d.client("-m", f"c{i}") for i in (1, 2, 3)]
    try:
        for c in clients:
            c.expect("opened", timeout=10)
        time.sleep(1)  # the orphaning console's parent gone, its child reparented
        kids, sessions = descendants(d.proc.pid)
        assert len(kids) >= 8 + 3, f"only {len(kids)} descendants"
        t0 = time.monotonic()
        os.kill(d.proc.pid, signal.SIGTERM)
        d.proc.wait(timeout=30)
        took = time.monotonic() - t0
    finally:
        for c in clients:
            c.close()
    print(f"SIGTERM with {want} consoles ({n} unix, 3 ipmi, 8 process{', 1 stubborn' * stubborn})"
          f" and 3 clients: exited in {took:.2f}s, status {d.proc.returncode}")
    assert d.proc.returncode == 0
    assert took < (5 if stubborn else 1), f"took {took:.1f}s to exit"
    left = [p for p in kids if alive(p)]
    assert not left, f"children left running: {left}"
    strays = [p.pid for p in processes() if p.sid in sessions and alive(p.pid)]
    assert not strays, f"processes of the consoles' sessions left: {strays}"
    assert ("killing them" in d.output()) == stubborn  # SIGKILL only when needed
