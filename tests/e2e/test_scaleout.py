"""Scale-out end to end (issue 16): four configure_conman instances, each
with its own conmand, ports and directories, share one SHARD_MEMBERS_FILE,
one simulated HSM and one simulated blade BMC (ssh-bmc-sim) serving 16
Mountain node consoles over SSH. Every console has exactly one owner; the
stock client joins a console of each owner through every instance and sees
its echo; listing on any instance lists all. A member that joins takes
about a quarter, with the marker lines in both logs, and no unchanged
console reconnects (conmand's own counters say so); a member that leaves
hands its consoles to the others within SHARD_SETTLE_SEC plus a few
seconds, and takes them back when it returns."""
import os
import re
import signal
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from configure_env import Configure
from conmand_util import Client
from e2e_helpers import binary, free_port, keygen, read_text
from hsmsim import HsmSim, endpoint
from test_configure_node import node
from test_configure_shard import owner, write_members
from test_ssh_consoles import Sim

BLADE = "x1000c0s0b0"
NODES = [f"{BLADE}n{k}" for k in range(16)]
NAMES = ["conman-0", "conman-1", "conman-2", "conman-3"]
SETTLE = 2


def cluster(procs, tmp_path):
    key = keygen(tmp_path / "id_blade")
    ssh = Sim(procs, tmp_path, consoles=len(NODES), password=False, keys=[key], rate=2)
    hsm = HsmSim.start(procs, tmp_path, endpoints=[endpoint(BLADE, f"127.0.0.1:{ssh.port}")],
                       components=[node(x, "Mountain") for x in NODES])
    members = tmp_path / "members"
    ccs = {}
    for name in NAMES:
        http = free_port()
        cc = Configure(procs, tmp_path / name, hsm, env={
            "CONSOLE_MODE": "node", "CONMAND": binary("conmand"), "SSH_KEY_FILE": key,
            "SHARD_MEMBERS_FILE": str(members), "SHARD_SELF": name,
            "SHARD_SETTLE_SEC": str(SETTLE), "CONMAND_HTTP_PORT": str(http)})
        cc.http = http
        os.makedirs(os.path.join(cc.logdir, "conman"), exist_ok=True)
        ccs[name] = cc
    return ccs, members


def list_members(ccs, members, names):
    write_members(members, [f"{n}=127.0.0.1:{ccs[n].conman_port}" for n in names])


def console_log(cc, name):
    return read_text(os.path.join(cc.logdir, "conman", f"console.{name}"))


def owned(cc):
    """The consoles cc's conman.conf reaches over SSH itself."""
    return {m.group(1) for m in re.finditer(r'^console name="([^"]+)" dev="ssh:',
                                            cc.conf_text(), re.M)}


def connects(cc):
    """{console: conman_console_connects_total} of cc's conmand."""
    with urllib.request.urlopen(f"http://127.0.0.1:{cc.http}/metrics", timeout=5) as r:
        text = r.read().decode()
    return {s.labels["console"]: s.value for fam in text_string_to_metric_families(text)
            for s in fam.samples if s.name == "conman_console_connects_total"}


def boot_lines_after(text, marker, name):
    """Boot-log lines of `name` after the last `marker` in a log."""
    cut = text.rfind(marker)
    return len(re.findall(rf"{name} #\d+ ", text[cut:])) if cut >= 0 else 0


# A boot-log line of ssh-bmc-sim; the echo of what is typed comes between
# its lines, even inside one.
BOOT_LINE = re.compile(rb"\[ *\d+\.\d+\] \S+ #\d+ [^\r\n]*\r\n")


def join_echo(cc, name, text):
    c = Client(cc.conman_port, "-j", name)
    try:
        c.expect(f"Connection to console [{name}] opened", timeout=15)
        c.send(text + "\r")
        deadline = time.monotonic() + 15
        while text.encode() not in BOOT_LINE.sub(b"", c.buf):
            assert time.monotonic() < deadline, f"no echo of {text!r}: {c.buf[-500:]!r}"
            c.pump(0.1)
    finally:
        c.close()


def wait_owners(ccs, live, members, timeout):
    """Until each live instance's conf owns exactly what rendezvous says."""
    want = {n: {x for x in NODES if owner(members, x) == n} for n in live}
    deadline = time.monotonic() + timeout
    while {n: owned(ccs[n]) for n in live} != want:
        assert time.monotonic() < deadline, (
            f"owners not as {members} say: {({n: sorted(owned(ccs[n])) for n in live})}")
        time.sleep(0.2)
    return want


@pytest.mark.timeout(300)
def test_four_instances_share_the_consoles_and_hand_them_over(procs, tmp_path):
    ccs, members = cluster(procs, tmp_path)
    three = NAMES[:3]
    list_members(ccs, members, three)
    for n in NAMES:  # conman-3 is not listed yet: it owns nothing, answers for all
        ccs[n].start()
    for n in NAMES:
        ccs[n].wait_names(NODES, timeout=60)
    want = wait_owners(ccs, NAMES, three, 10)
    assert owned(ccs["conman-3"]) == set()
    assert sorted(sum((sorted(v) for v in want.values()), [])) == sorted(NODES)  # one owner each
    for n in three:
        for x in want[n]:
            ccs[n].wait(lambda: boot_lines_after(console_log(ccs[n], x), "log opened", x) >= 1,
                        60, f"{n} logs {x}")
        for other in NAMES:
            if other != n:  # only the owner writes a console's log
                assert not os.path.exists(os.path.join(ccs[other].logdir, "conman",
                                                       f"console.{sorted(want[n])[0]}"))

    # The stock client, on every instance, joins a console of each owner.
    for via in NAMES:
        for n in three:
            x = sorted(want[n])[0]
            join_echo(ccs[via], x, f"typed-{x}-via-{via}")

    # conman-3 joins the membership: about a quarter moves, all to it.
    before = {n: connects(ccs[n]) for n in three}
    list_members(ccs, members, NAMES)
    want4 = wait_owners(ccs, NAMES, NAMES, SETTLE + 15)
    moved = want4["conman-3"]
    assert 2 <= len(moved) <= 8, moved  # 4 of 16 with these names
    p3 = ccs["conman-3"].conman_port
    for x in moved:
        old = next(n for n in three if x in want[n])
        ccs[old].wait(lambda: f"handed over to the conmand at 127.0.0.1:{p3}" in
                      console_log(ccs[old], x), 15, f"{old}'s closing marker in console.{x}")
        marker = f"taken over from the conmand at 127.0.0.1:{ccs[old].conman_port}"
        ccs["conman-3"].wait(lambda: boot_lines_after(console_log(ccs["conman-3"], x), marker, x)
                             >= 1, 30, f"conman-3 logs {x} after its opening marker")
    time.sleep(1)
    for n in three:  # no console that stayed reconnected
        after = connects(ccs[n])
        for x in want4[n]:
            assert after[x] == before[n][x], (n, x, before[n][x], after[x])
        assert set(after) == want4[n]  # moved consoles are no longer its series

    # conman-1 leaves (stopped, and gone from the list as from the SRV
    # answer): its consoles go to the survivors within the settle time.
    gone = want4["conman-1"]
    t0 = time.monotonic()
    list_members(ccs, members, ["conman-0", "conman-2", "conman-3"])
    ccs["conman-1"].proc.send_signal(signal.SIGTERM)
    ccs["conman-1"].proc.wait(timeout=30)
    survivors = ["conman-0", "conman-2", "conman-3"]
    want3 = wait_owners(ccs, survivors, survivors, SETTLE + 15)
    p1 = ccs["conman-1"].conman_port
    for x in gone:
        new = next(n for n in survivors if x in want3[n])
        marker = f"taken over from the conmand at 127.0.0.1:{p1}"
        ccs[new].wait(lambda: boot_lines_after(console_log(ccs[new], x), marker, x) >= 1, 30,
                      f"{new} logs {x} after conman-1 left")
    took = time.monotonic() - t0
    print(f"conman-1's {len(gone)} consoles logging elsewhere {took:.1f} s after it left")
    assert took < SETTLE + 20

    # It comes back: the same consoles go back to it.
    ccs["conman-1"].start()
    list_members(ccs, members, NAMES)
    wait_owners(ccs, NAMES, NAMES, SETTLE + 30)
    for x in gone:
        ccs["conman-1"].wait(lambda: boot_lines_after(console_log(ccs["conman-1"], x),
                                                      "taken over from", x) >= 1
                             or boot_lines_after(console_log(ccs["conman-1"], x),
                                                 "log opened", x) >= 1, 30,
                             f"conman-1 logs {x} again")
    for n in NAMES:
        ccs[n].assert_no_secret()
