"""peer: consoles (issue 16): two of our conmands on loopback, each owning
some consoles and listing the other's as dev="peer:HOST:PORT". The stock
conman client, pointed at either one, lists every console, joins and
monitors a console of each owner and sees its echo, and broadcasts across
both; a diff reload that moves a console between them marks both logs;
an owner that is down is named in the client's error."""
import json
import os
import signal
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from e2e_helpers import binary, free_port, run_bench, wait_for, write_lines
from conmand_util import Daemon, echo_dev

GLOBAL = 'global log="console.%N"'


def pair(procs, tmp_path, owned_a=("a1", "a2"), owned_b=("b1", "b2"), server_extra="",
         peer_host="127.0.0.1"):
    """Daemons A and B; A owns owned_a, B owns owned_b, each lists all;
    d.http is each one's HTTP port; server_extra: more SERVER lines;
    peer_host: how each names the other ("[::1]": over IPv6)."""
    ports = {"A": free_port(), "B": free_port()}
    http = {"A": free_port(), "B": free_port()}
    daemons = {}
    for me, mine, theirs, other in (("A", owned_a, owned_b, "B"), ("B", owned_b, owned_a, "A")):
        d_dir = tmp_path / me
        d_dir.mkdir()
        dev = echo_dev(d_dir)
        lines = [f'console name="{n}" dev="{dev}"' for n in mine]
        lines += [f'console name="{n}" dev="peer:{peer_host}:{ports[other]}"' for n in theirs]
        d = Daemon("ours", procs, d_dir, lines, global_extra=GLOBAL,
                   server_extra=f"server httpport={http[me]}\n{server_extra}")
        d.port, d.http = ports[me], http[me]
        daemons[me] = d
    for d in daemons.values():
        d.start()
    return daemons["A"], daemons["B"]


def join_and_echo(d, name, text):
    c = d.client("-j", name)
    try:
        c.expect(f"Connection to console [{name}] opened")
        c.settle(0.3)
        c.send(text + "\r")
        c.expect(text, timeout=10)
        buf = c.buf
    finally:
        c.close()
    return buf


def test_every_instance_lists_all_and_joins_each_owners_console(procs, tmp_path):
    a, b = pair(procs, tmp_path)
    for d in (a, b):
        r = d.run("-q")
        assert r.returncode == 0
        assert r.stdout.decode().split() == ["a1", "a2", "b1", "b2"]
    for d in (a, b):
        for name in ("a1", "b2"):
            join_and_echo(d, name, f"hello-{name}-via-{d.port}")
    # The owner logged the echo of a session carried to it; the other
    # instance has no log of a console it does not own.
    wait_for(lambda: f"hello-b2-via-{a.port}".encode() in b.log_so_far("b2"), timeout=10,
             what="the owner's log holds the relayed session's echo")
    assert not os.path.exists(os.path.join(a.dir, "console.b2"))
    # The owner names the real client, and says who relayed it.
    assert "relays a client on" in b.output()


def test_monitor_through_a_peer_sees_output_and_cannot_write(procs, tmp_path):
    a, b = pair(procs, tmp_path)
    w = b.client("-j", "b1")
    m = a.client("-m", "b1")
    try:
        w.expect("Connection to console [b1] opened")
        m.expect("Connection to console [b1] opened")
        m.settle(0.3)
        w.send("from-writer\r")
        m.expect("from-writer")
        m.send("from-monitor\r")
        w.settle(0.5)
        assert b"from-monitor" not in w.buf
    finally:
        w.close()
        m.close()


def test_a_busy_console_is_refused_by_its_owner_through_the_peer(procs, tmp_path):
    a, b = pair(procs, tmp_path)
    w = b.client("-j", "b1")
    try:
        w.expect("Connection to console [b1] opened")
        r = a.run("b1")  # plain connect (no -j) to a console in use
        out = r.stdout + r.stderr
        assert r.returncode != 0 and b"Found console already in use" in out, out
        assert b"open R/W by" in out
    finally:
        w.close()


def test_broadcast_reaches_consoles_of_both_owners(procs, tmp_path):
    a, b = pair(procs, tmp_path)
    c = a.client("-b", "-j", "a1", "b1", "b2")
    try:
        c.expect("Broadcast to 3 consoles opened", timeout=10)
        c.settle(0.5)
        c.send("to-everyone\r")
        for d, name in ((a, "a1"), (b, "b1"), (b, "b2")):
            wait_for(lambda: b"to-everyone" in d.log_so_far(name), timeout=10,
                     what=f"the broadcast in console.{name}")
        assert b"to-everyone" not in a.log_so_far("a2")
    finally:
        c.close()


def test_an_owner_that_is_down_is_named_in_the_error(procs, tmp_path):
    a, b = pair(procs, tmp_path)
    b.proc.kill()
    b.proc.wait(timeout=10)
    r = a.run("-j", "b1")
    out = (r.stdout + r.stderr).decode()
    assert r.returncode != 0
    assert f"The conmand at 127.0.0.1:{b.port} that serves the console cannot be reached" in out
    assert a.proc.poll() is None
    join_and_echo(a, "a1", "still-here")  # its own consoles do not care


def test_reload_moves_a_console_with_marker_lines_in_both_logs(procs, tmp_path):
    a, b = pair(procs, tmp_path)
    watch = a.client("-m", "a2")  # a client of an unchanged console stays
    try:
        watch.expect("Connection to console [a2] opened")
        join_and_echo(a, "a1", "before-move")
        # a1 moves from A to B: A lists it as a peer, B owns it.
        dev_b = echo_dev(tmp_path / "B")
        conf_a = [l for l in open(a.conf).read().splitlines() if 'name="a1"' not in l]
        conf_a.append(f'console name="a1" dev="peer:127.0.0.1:{b.port}"')
        conf_b = [l for l in open(b.conf).read().splitlines() if 'name="a1"' not in l]
        conf_b.append(f'console name="a1" dev="{dev_b}"')
        write_lines(b.conf, conf_b)
        write_lines(a.conf, conf_a)
        b.proc.send_signal(1)
        a.proc.send_signal(1)
        wait_for(lambda: b"handed over to the conmand at" in a.log_so_far("a1"), timeout=10,
                 what="A's closing marker in console.a1")
        wait_for(lambda: f"taken over from the conmand at 127.0.0.1:{a.port}".encode()
                 in b.log_so_far("a1"), timeout=10, what="B's opening marker in console.a1")
        join_and_echo(a, "a1", "after-move")  # through A, now to B
        wait_for(lambda: b"after-move" in b.log_so_far("a1"), timeout=10,
                 what="B logs a1 now")
        assert b"after-move" not in a.log_so_far("a1")
        assert f"127.0.0.1:{b.port}".encode() in a.log_so_far("a1")
        watch.settle(0.3)
        assert watch.proc.poll() is None  # the unchanged console's client stayed
        assert b"closed" not in watch.buf
    finally:
        watch.close()


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return r.read().decode()


def test_metrics_and_consoles_report_peer_consoles_once_across_instances(procs, tmp_path):
    a, b = pair(procs, tmp_path)
    wait_for(lambda: all(c["state"] == "up" for c in json.loads(get(a.http, "/consoles"))
                         if c["name"] in ("a1", "a2")), timeout=10, what="A's consoles up")
    listing = {c["name"]: c for c in json.loads(get(a.http, "/consoles"))}
    assert listing["b1"]["state"] == "remote" and listing["b1"]["type"] == "peer"
    assert listing["b1"]["owner"] == f"127.0.0.1:{b.port}" and listing["b1"]["log"] is None
    assert listing["a1"]["owner"] is None and listing["a1"]["state"] == "up"
    samples = {}
    for fam in text_string_to_metric_families(get(a.http, "/metrics")):
        for smp in fam.samples:
            samples[(smp.name, tuple(sorted(smp.labels.items())))] = smp.value
    up = {dict(k[1])["console"] for k in samples if k[0] == "conman_console_up"}
    assert up == {"a1", "a2"}  # B reports b1 and b2: no console twice, none falsely down
    assert samples[("conman_consoles", (("state", "remote"), ("type", "peer")))] == 2


def test_the_peer_hop_benchmark_runs(procs, tmp_path):
    # bench/peer.py at a small size, so it cannot rot; no timing asserted,
    # nor loss (a monitor too slow under ASan loses output by design).
    out = tmp_path / "bench"
    run_bench(procs, "peer.py", ["--joins", "3", "--floods", "1", "--flood-mb", "2", "--ours",
                                 binary("conmand"), "--out", str(out)],
              tmp_path / "peer.log", timeout=120)
    summary = json.loads((out / "results.json").read_text())["summary"]
    for how in ("direct", "peer"):
        assert summary[how]["join_ms_median"] > 0 and summary[how]["mb_s_median"] > 0
        assert summary[how]["missed_bytes_max"] >= 0, summary


def test_force_through_a_peer_steals_the_console_on_its_owner(procs, tmp_path):
    a, b = pair(procs, tmp_path)
    w = b.client("-j", "b1")
    f = None
    try:
        w.expect("Connection to console [b1] opened")
        w.settle(0.3)  # its session is up on the owner before the force
        f = a.client("-f", "b1")
        f.expect("Connection to console [b1] opened")
        w.expect("stolen by")  # the owner applied the force it was relayed
        assert w.wait() is not None
        f.settle(0.3)
        f.send("after-steal\r")
        f.expect("after-steal")
    finally:
        w.close()
        if f:
            f.close()


def test_an_owner_that_dies_mid_session_closes_the_relayed_client(procs, tmp_path):
    a, b = pair(procs, tmp_path)
    c = a.client("-j", "b1")
    try:
        c.expect("Connection to console [b1] opened")
        b.proc.kill()
        b.proc.wait(timeout=10)
        assert c.wait(timeout=15) is not None, "the client was left hanging"
        assert a.proc.poll() is None
    finally:
        c.close()
    join_and_echo(a, "a1", "a-lives-on")


def test_an_owner_that_accepts_but_never_answers_is_given_up_on(procs, tmp_path):
    # A stopped owner: the kernel accepts the relay's connection, nobody
    # answers. The client is told within PEER_LINK_CONNECT_SEC (10 s).
    a, b = pair(procs, tmp_path)
    os.kill(b.proc.pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        r = a.run("-j", "b1", timeout=30)
        took = time.monotonic() - t0
        out = (r.stdout + r.stderr).decode()
        assert r.returncode != 0
        assert f"The conmand at 127.0.0.1:{b.port} that serves the console cannot be reached: " \
               "no answer within 10 s" in out, out
        assert took < 20
        join_and_echo(a, "a1", "not-stalled")
    finally:
        os.kill(b.proc.pid, signal.SIGCONT)
