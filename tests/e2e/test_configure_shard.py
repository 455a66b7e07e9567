"""Scale-out, configure_conman's half: with a SHARD_MEMBERS_FILE every
instance lists every console, its own with ipmi: and the rest as peer:
lines naming the owner; a membership change is acted on after
SHARD_SETTLE_SEC and moves about 1/N; a bad file keeps the last good one.
Our conmand has no peer: console type yet, so CONMAND is a stub and only
conman.conf is checked."""
import os
import re
import sys
import urllib.request

from configure_env import Configure, password_hex
from e2e_helpers import SOURCE_DIR, free_port, write_script
from hsmsim import HsmSim, endpoint

CONSOLES = 200
BMCS = [endpoint(f"x3000c{i // 64}s{i % 64}b0", f"127.0.0.1:{20000 + i}") for i in range(CONSOLES)]
NAMES = sorted(b["Hostname"] for b in BMCS)
LINE = re.compile(r'^console name="([^"]+)" dev="([^"]+)"(.*)$')

sys.path.insert(0, os.path.join(SOURCE_DIR, "bench"))
from rendezvous import owner  # noqa: E402 (the same hash as src/configure/shard.c)


def stub_conmand(tmp_path):
    # Answers -V at once (not ours) and otherwise just runs.
    return write_script(tmp_path, "stub-conmand",
                        '#!/bin/sh\n[ "$1" = -V ] && exit 0\nexec sleep 600\n')


def write_members(path, lines):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)  # one change, as a ConfigMap update makes it


def consoles(cc):
    """{console name: (dev, rest of the line)} of the generated file."""
    out = {}
    for line in cc.conf_text().splitlines():
        m = LINE.match(line)
        if m:
            assert m.group(1) not in out, f"{m.group(1)} listed twice"
            out[m.group(1)] = (m.group(2), m.group(3))
    return out


def start_members(procs, tmp_path, sim, names, listed, self_names, settle="1"):
    """A Configure per name in `names` (each with its own conman port), all
    reading one file that lists the `listed` ones; `self_names` started."""
    stub = stub_conmand(tmp_path)
    members = tmp_path / "members"
    ccs = {}
    for name in names:
        ccs[name] = Configure(procs, tmp_path / name, sim, env={
            "CONMAND": stub, "SHARD_MEMBERS_FILE": str(members), "SHARD_SELF": name,
            "SHARD_SETTLE_SEC": settle})
    entries = ["# conman instances", ""] + [
        f"{n}=127.0.0.1:{ccs[n].conman_port}  # {n}" for n in listed]
    write_members(members, entries)
    for name in self_names:
        ccs[name].start()
        ccs[name].wait_log(f"wrote {ccs[name].conf}: {CONSOLES} consoles")
    return ccs, members, entries


def check_assignment(ccs, selves, members, peer_host=lambda member: "127.0.0.1"):
    """Every console once in each file, owned by exactly the expected one;
    the others peer:HOST:PORT of their owner (HOST: peer_host(owner))."""
    ports = {n: ccs[n].conman_port for n in members}
    owned = {n: set() for n in members}
    for me in selves:
        got = consoles(ccs[me])
        assert sorted(got) == NAMES
        for name, (dev, rest) in got.items():
            want = owner(members, name)
            if want == me:
                assert dev.startswith("ipmi:127.0.0.1:"), (me, name, dev)
                assert f"P:0x{password_hex()}" in rest
                owned[me].add(name)
            else:
                assert dev == f"peer:{peer_host(want)}:{ports[want]}", (me, name, dev)
                assert rest == "", f"a peer line carries nothing else: {rest!r}"
    return owned


def test_three_members_each_console_has_one_owner_and_a_fourth_takes_a_quarter(procs, tmp_path):
    sim = HsmSim.start(procs, tmp_path, endpoints=BMCS)
    names = ["conman-0", "conman-1", "conman-2", "conman-3"]
    ccs, members, entries = start_members(procs, tmp_path, sim, names, names[:3],
                                           names[:3])
    owned = check_assignment(ccs, names[:3], names[:3])
    assert sorted(sum((sorted(v) for v in owned.values()), [])) == NAMES  # each exactly once
    for n in names[:3]:
        assert 40 <= len(owned[n]) <= 93, (n, len(owned[n]))  # ~67 each
        ccs[n].assert_no_secret()

    before = {n: consoles(ccs[n]) for n in names[:3]}
    write_members(members, entries + [f"conman-3=127.0.0.1:{ccs['conman-3'].conman_port}"])
    for n in names[:3]:
        ccs[n].wait_log("shard membership changed from 3 (", timeout=10)
        ccs[n].wait_log(f"wrote {ccs[n].conf}: {CONSOLES} consoles", count=2, timeout=5)
    check_assignment(ccs, names[:3], names)
    moved = [c for c in NAMES if owner(names, c) != owner(names[:3], c)]
    assert all(owner(names, c) == "conman-3" for c in moved)  # none between old members
    assert 30 <= len(moved) <= 75, len(moved)  # ~50 of 200
    for n in names[:3]:
        after = consoles(ccs[n])
        changed = {c for c in NAMES if after[c] != before[n][c]}
        gave = {c for c in moved if owner(names[:3], c) == n}
        # Its own consoles taken by conman-3 become peer lines, and the
        # peer lines of consoles conman-3 took from others point at it.
        assert changed == set(moved), n
        out = ccs[n].output()
        assert f"{len(gave)} move away" in out and f"0 of {CONSOLES} consoles move to {n}" in out
    ccs["conman-3"].start()
    ccs["conman-3"].wait_log(f"wrote {ccs['conman-3'].conf}: {CONSOLES} consoles")
    owned = check_assignment(ccs, names, names)
    assert owned["conman-3"] == set(moved)


def test_bad_member_file_keeps_last_good_conf_and_names_the_line(procs, tmp_path):
    sim = HsmSim.start(procs, tmp_path, endpoints=BMCS)
    names = ["conman-0", "conman-1", "conman-2"]
    ccs, members, entries = start_members(procs, tmp_path, sim, names, names, ["conman-1"])
    cc = ccs["conman-1"]
    good = cc.conf_text()
    bad = entries + ["conman-9=127.0.0.1:65536"]
    write_members(members, bad)
    cc.wait_log(f"SHARD_MEMBERS_FILE: {members}:{len(bad)}: '127.0.0.1:65536': expected HOST:PORT", timeout=5)
    write_members(members, entries + ["conman-0=127.0.0.1:7000"])
    cc.wait_log(f"{members}:{len(entries) + 1}: member conman-0 is listed twice", timeout=5)
    cc.settle(2.5)  # past SHARD_SETTLE_SEC: nothing was acted on
    assert cc.conf_text() == good
    assert cc.count("shard membership changed") == 0
    assert "keeping conman-0=127.0.0.1:" in cc.output()
    # Taken out of the list (a pod no longer ready): it keeps answering for
    # every console, each through its owner, and owns none.
    write_members(members, [e for e in entries if not e.startswith("conman-1=")])
    cc.wait_log(f"{members}: SHARD_SELF=conman-1 is not one of its 2 members: it owns no "
                "console", timeout=5)
    cc.wait_log("shard membership changed from 3 (", timeout=10)
    cc.wait(lambda: all(dev.startswith("peer:") for dev, _ in consoles(cc).values()), 10,
            "every console a peer line")
    assert sorted(consoles(cc)) == NAMES


def test_self_outside_static_members_is_a_bad_setting(procs, tmp_path):
    cc = Configure(procs, tmp_path, env={"SHARD_MEMBERS": "a,b", "SHARD_SELF": "c"})
    cc.start()
    assert cc.proc.wait(timeout=10) == 2
    assert "bad setting: SHARD_SELF=c: not one of SHARD_MEMBERS (a,b)" in cc.output()


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return dict(line.rsplit(" ", 1) for line in r.read().decode().splitlines()
                    if line and not line.startswith("#"))


def test_static_members_give_peer_lines_with_the_base_port(procs, tmp_path):
    sim = HsmSim.start(procs, tmp_path, endpoints=BMCS)
    http = free_port()
    cc = Configure(procs, tmp_path, sim, env={
        "CONMAND": stub_conmand(tmp_path), "SHARD_MEMBERS": "a,b=[::1]:7001",
        "SHARD_SELF": "a", "HTTP_PORT": str(http), "HTTP_ADDR": "127.0.0.1"})
    cc.start()
    cc.wait_log(f"wrote {cc.conf}: {CONSOLES} consoles")
    mine = 0
    for name, (dev, _) in consoles(cc).items():
        want = owner(["a", "b"], name)
        assert dev.startswith("ipmi:") if want == "a" else dev == "peer:[::1]:7001"
        mine += want == "a"
    # The HTTP thread serves a copy of the counters the loop publishes
    # each turn: under ASan the file can be written before that copy.
    def share():
        try:
            return metrics(http).get("conman_configure_shard_owned_consoles") == str(mine)
        except OSError:
            return False  # not listening yet
    cc.wait(share, 10, "/metrics with this instance's share")
    m = metrics(http)
    assert m["conman_configure_shard_members"] == "2"
    assert m["conman_configure_shard_owned_consoles"] == str(mine)
    assert m["conman_configure_shard_changes_total"] == "0"
    # A member naming no host and port is reached on its name and the
    # conman port of the base file.
    cc2 = Configure(procs, tmp_path / "two", sim, env={
        "CONMAND": stub_conmand(tmp_path), "SHARD_MEMBERS": "a,b", "SHARD_SELF": "b"})
    cc2.start()
    cc2.wait_log(f"wrote {cc2.conf}: {CONSOLES} consoles")
    devs = {dev for dev, _ in consoles(cc2).values() if dev.startswith("peer:")}
    assert devs == {f"peer:a:{cc2.conman_port}"}


def test_member_file_that_appears_late_starts_conmand_at_once(procs, tmp_path):
    # No file yet: nothing to write, so HSM is not asked and conmand not
    # started; the file's arrival starts it without waiting for the next
    # discovery retry.
    sim = HsmSim.start(procs, tmp_path, endpoints=BMCS)
    members = tmp_path / "members"
    cc = Configure(procs, tmp_path / "m", sim, env={
        "CONMAND": stub_conmand(tmp_path), "SHARD_MEMBERS_FILE": str(members),
        "SHARD_SELF": "a", "DISCOVERY_RETRY_SEC": "60"})
    cc.start()
    cc.wait_log(f"SHARD_MEMBERS_FILE {members}: No such file or directory")
    cc.wait_log("no usable shard membership yet")
    assert sim.requests_served() == 0 and not os.path.exists(cc.conf)
    write_members(members, ["a=127.0.0.1:7001", "b=127.0.0.1:7002"])
    cc.wait_log(f"wrote {cc.conf}: {CONSOLES} consoles", timeout=5)
    cc.wait_log("started " + str(tmp_path / "stub-conmand"), timeout=5)
    got = consoles(cc)
    assert {dev for dev, _ in got.values() if dev.startswith("peer:")} == {"peer:127.0.0.1:7002"}
