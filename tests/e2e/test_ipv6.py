"""IPv6 (issue 19) in conmand, on ::1: the one host:port parser
(src/common/hostport.c) in every place that takes an address, so telnet,
SSH, IPMI (ipmi_sim on ::1) and peer consoles connect, log shipping ships
and the client and HTTP listeners answer over IPv6; bad forms are named at
their line; a name with an AAAA and an A record reaches whichever address
answers, and one that never answers does not hold up the other (RFC 8305,
net/dial.c). Skipped, with the reason, only where this machine has no IPv6
loopback. configure_conman's side is test_configure_ipv6.py."""
import json
import os
import re
import socket
import time

import pytest

from bmcsim import contiguous, seqs_by_console
from conmand_util import Daemon
from e2e_helpers import LoopbackServer, have_ipv6_loopback, wait_for


pytestmark = pytest.mark.skipif(not have_ipv6_loopback(), reason="no IPv6 loopback (::1) here")


class V6Server(LoopbackServer):
    """A TCP server on [::1] (or `host`): prints console-sim style numbered
    lines to each connection (`serve`), or collects what it is sent."""

    def __init__(self, name="v6", rate=20, serve=True, host="::1", port=0):
        self.name, self.rate, self.lines = name, rate, serve
        self.got = bytearray()
        super().__init__(socket.AF_INET6 if ":" in host else socket.AF_INET, (host, port))

    def serve(self, conn):
        seq, start = 0, time.monotonic()
        while not self.stop.is_set():
            try:
                if self.lines:
                    seq += 1
                    up = time.monotonic() - start
                    conn.sendall(b"[%5d.%06d] %s #%08d line\r\n" % (
                        int(up), int(up * 1e6) % 1000000, self.name.encode(), seq))
                    self.stop.wait(1 / self.rate)
                else:
                    data = conn.recv(65536)
                    if not data:
                        return
                    self.got += data
            except socket.timeout:
                continue


@pytest.fixture
def v6():
    made = []
    yield lambda **kw: made.append(V6Server(**kw)) or made[-1]
    for s in made:
        s.close()


def test_a_telnet_console_on_ipv6_loopback_logs(procs, tmp_path, v6):
    srv = v6(name="v6")
    d = Daemon("ours", procs, tmp_path, [f'console name="v6" dev="[::1]:{srv.port}"'],
               global_extra='global log="console.%N"').start()
    wait_for(lambda: len(seqs_by_console(d.log_so_far("v6").decode(errors="replace"))
                         .get("v6", [])) > 10, timeout=15, what="lines from the console on ::1")
    assert contiguous(seqs_by_console(d.log("v6").decode(errors="replace"))["v6"], 10)
    assert "unknown node or service" not in d.output()


HOST = "::1"


def test_log_shipping_to_a_collector_on_ipv6_loopback(procs, tmp_path, v6):
    from conmand_util import echo_dev
    collector = v6(serve=False, host=HOST)
    d = Daemon("ours", procs, tmp_path, [f'console name="e" dev="{echo_dev(tmp_path)}"'],
               server_extra=f'server logship="tcp:{"[::1]" if HOST == "::1" else HOST}:{collector.port}"',
               global_extra='global log="console.%N"').start()
    c = d.client("-j", "e")
    try:
        c.expect("Connection to console [e] opened")
        c.send("shipped-over-ipv6\n")  # a line ends at LF (cat, raw pty)
        wait_for(lambda: b"shipped-over-ipv6" in bytes(collector.got), timeout=15,
                 what=f"the line at the collector on ::1 (it has {bytes(collector.got)[-300:]!r})")
    finally:
        c.close()
    line = next(ln for ln in bytes(collector.got).splitlines() if b"shipped-over-ipv6" in ln)
    assert json.loads(line)["console"] == "e"


def test_a_v6_address_without_brackets_or_a_bad_form_is_named(procs, tmp_path):
    d = Daemon("ours", procs, tmp_path,
               ['console name="good" dev="/bin/cat"',
                'console name="bare" dev="::1:7"',
                'console name="bad" dev="[::1:7"'],
               server_extra='server logship="tcp:::1:9"',
               global_extra='global log="console.%N"').start()
    out = d.output()
    # At their lines of the file, once: not a console retried for ever.
    assert re.search(r"conman.conf:\d+: console \[bare\]: dev '::1:7': an IPv6 address with a "
                     r"port is written \[ADDRESS\]:PORT", out), out
    assert re.search(r"conman.conf:\d+: console \[bad\]: dev '\[::1:7': expected \[IPv6 "
                     r"address\] between the brackets", out), out
    assert "invalid value 'tcp:::1:9' for SERVER logship" in out, out
    assert "reconnect" not in out
    assert d.run("-q").stdout.split() == [b"good"]


def protocol_query(host, port):
    """HELLO and QUERY as the stock client sends them (Debian's conman
    client resolves IPv4 only), on a plain socket; the reply lines."""
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(b"HELLO USER='v6test' TTY='none'\nQUERY\n")
        got = b""
        end = time.monotonic() + 10
        while got.count(b"\n") < 2 and time.monotonic() < end:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    return got.decode().splitlines()


def test_the_client_listener_answers_on_ipv6_loopback_too(procs, tmp_path):
    d = Daemon("ours", procs, tmp_path, ['console name="c6" dev="/bin/cat"'],
               global_extra='global log="console.%N"').start()  # SERVER loopback=on
    assert protocol_query("::1", d.port) == ["OK", "OK CONSOLE='c6'"]
    assert protocol_query("127.0.0.1", d.port) == ["OK", "OK CONSOLE='c6'"]
    assert d.run("-q").stdout.split() == [b"c6"]  # the stock client, over IPv4
    wait_for(lambda: re.search(r"Client <v6test@(::1|localhost|ip6-localhost):", d.output()),
             timeout=10, what="the IPv6 client's log line")
    with socket.socket(socket.AF_INET6) as s:  # loopback only: not on every v6 address
        assert s.connect_ex(("::1", d.port)) == 0


def test_without_loopback_one_dual_stack_socket_takes_both(procs, tmp_path):
    d = Daemon("ours", procs, tmp_path, ['console name="c6" dev="/bin/cat"'],
               global_extra='global log="console.%N"')
    with open(d.conf) as f:
        text = f.read()
    with open(d.conf, "w") as f:
        f.write(text.replace("server loopback=on\n", "server loopback=off\n"))
    d.start()
    assert protocol_query("::1", d.port) == ["OK", "OK CONSOLE='c6'"]
    assert protocol_query("127.0.0.1", d.port) == ["OK", "OK CONSOLE='c6'"]
    # An IPv4 client is named by its IPv4 address, not ::ffff:127.0.0.1.
    # (or by its name, once the reverse lookup of 127.0.0.1 is back)
    wait_for(lambda: re.search(r"Client <v6test@(127\.0\.0\.1|localhost):", d.output()),
             timeout=10, what="the IPv4 client's log line")
    assert "::ffff:" not in d.output()


def test_the_http_port_and_the_web_console_on_ipv6_loopback(procs, tmp_path):
    import asyncio
    import urllib.request
    import websockets
    from e2e_helpers import free_port
    http = free_port()
    d = Daemon("ours", procs, tmp_path, ['console name="c6" dev="/bin/cat"'],
               server_extra=f'server httpport={http}\nserver httpaddr="::1"',
               global_extra='global log="console.%N"').start()
    wait_for(lambda: "Serving HTTP on [::1]:" in d.output(), timeout=10, what="HTTP on ::1")
    with urllib.request.urlopen(f"http://[::1]:{http}/consoles", timeout=5) as r:
        assert json.loads(r.read())[0]["name"] == "c6"
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", http)) != 0  # only where it was told

    async def view():
        async with websockets.connect(f"ws://[::1]:{http}/consoles/c6/ws",
                                      origin=f"http://[::1]:{http}", open_timeout=10) as ws:
            await asyncio.sleep(0.3)
            return ws.open

    assert asyncio.run(view())
    wait_for(lambda: re.search(r"Web viewer <::1:\d+> opened console \[c6\]", d.output()),
             timeout=10, what="the viewer's log line")


def test_a_peer_hop_over_ipv6_loopback(procs, tmp_path):
    from test_conmand_peer import join_and_echo, pair
    a, b = pair(procs, tmp_path, ("a1",), ("b1",), peer_host="[::1]")
    assert f'dev="peer:[::1]:{b.port}"' in open(a.conf).read()
    join_and_echo(a, "b1", "typed-at-A-over-ipv6")  # A carries the session to B over ::1
    wait_for(lambda: b"typed-at-A-over-ipv6" in b.log_so_far("b1"), timeout=10,
             what="the owner's log of the relayed session")
    wait_for(lambda: re.search(r"Client <\w+@(::1|localhost|ip6-localhost):\d+> relays a client",
                               b.output()), timeout=10, what="B naming A's IPv6 link")


def test_an_ssh_console_on_ipv6_loopback(procs, tmp_path):
    from test_ssh_consoles import PREFIX, Sim, boot_seqs, hexpw, log_text
    sim = Sim(procs, tmp_path, consoles=1, listen="::1")
    assert f"listening on ::1:{sim.port}" in sim.output()
    d = Daemon("ours", procs, tmp_path,
               [f'console name="s6" dev="ssh:n0@[::1]:{sim.port}" sshopts="P:{hexpw()}"'],
               global_extra='global log="console.%N"')
    os.chmod(d.conf, 0o600)  # sshopts holds a password
    d.start()
    wait_for(lambda: len(boot_seqs(log_text(d, "s6"), "n0")) >= 5, timeout=20,
             what=f"boot lines of {PREFIX}n0 over SSH on ::1")
    assert boot_seqs(log_text(d, "s6"), "n0")[:5] == [1, 2, 3, 4, 5]
    assert f"Console [s6] connected to <n0@[::1]:{sim.port}>" in d.output()


def test_an_ipmi_console_through_ipmi_sim_on_ipv6_loopback(procs, tmp_path):
    from bmcsim import IPMI_WORKAROUNDS, BmcSim
    from test_conmand_ipmi import logs_sol_and_takes_input
    sim = BmcSim.start(procs, tmp_path, count=1, rate=5, ipv6=True)
    bmc = sim.bmcs[0]
    assert bmc.address.startswith("[::1]:"), bmc.address
    lines = sim.console_lines() + [
        # A bare IPv6 address takes IPMI's port 623 (FreeIPMI would read
        # its last group as a port); a broken one is named at its line.
        'console name="bare6" dev="ipmi:::1" ipmiopts="U:x,P:y"',
        'console name="bad6" dev="ipmi:[::1" ipmiopts="U:x,P:y"']
    d = Daemon("ours", procs, tmp_path, lines,
               global_extra='global log="console.%N"\n' + IPMI_WORKAROUNDS).start()
    logs_sol_and_takes_input(d, bmc, "ipmi-over-ipv6")
    out = d.output()
    assert re.search(r"conman.conf:\d+: console \[bad6\]: dev '\[::1': expected \[IPv6 "
                     r"address\] between the brackets", out), out
    assert "bare6" in d.run("-q").stdout.decode().split()


class StuckListener:
    """A listener on host:port whose accept queue is full, so the kernel
    drops every further SYN: an address that never answers, on loopback."""

    def __init__(self, host, port):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.ls = socket.socket(family)
        if family == socket.AF_INET6:
            self.ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        self.ls.bind((host, port))
        self.ls.listen(0)
        self.fill = []
        for _ in range(2):  # backlog 0 takes one; the second hangs
            c = socket.socket(family)
            c.settimeout(0.5)
            try:
                c.connect((host, port))
            except OSError:
                pass
            self.fill.append(c)

    def close(self):
        for c in self.fill:
            c.close()
        self.ls.close()


NAME = "dual.bmc.test"  # answered by the stub with an AAAA (::1) and an A (127.0.0.1) record


def start_with_dual_name(procs, tmp_path, request, lines, **kw):
    from dns_stub import DnsStub, start_with_stub
    stub = DnsStub(records={NAME: ["::1", "127.0.0.1"]})
    request.addfinalizer(stub.close)
    d = Daemon("ours", procs, tmp_path, lines, global_extra='global log="console.%N"', **kw)
    os.chmod(d.conf, 0o600)
    start_with_stub(d, stub)
    return d, stub


def lines_of(d, name):
    return seqs_by_console(d.log_so_far(name).decode(errors="replace")).get(name, [])


def test_a_name_with_aaaa_and_a_records_reaches_the_address_that_answers(procs, tmp_path,
                                                                          request, v6):
    """Each console's host answers on one of its name's two addresses; the
    other refuses: telnet, SSH and log shipping all get through."""
    from test_ssh_consoles import Sim, boot_seqs, hexpw, log_text
    only4, only6 = v6(name="only4", host="127.0.0.1"), v6(name="only6", host="::1")
    collector = v6(serve=False, host="127.0.0.1")
    sim = Sim(procs, tmp_path, consoles=1, listen="127.0.0.1")
    d, stub = start_with_dual_name(procs, tmp_path, request, [
        f'console name="only4" dev="{NAME}:{only4.port}"',
        f'console name="only6" dev="{NAME}:{only6.port}"',
        f'console name="ssh4" dev="ssh:n0@{NAME}:{sim.port}" sshopts="P:{hexpw()}"'],
        server_extra=f'server logship="tcp:{NAME}:{collector.port}"')
    for name in ("only4", "only6"):
        wait_for(lambda: len(lines_of(d, name)) > 5, timeout=15,
                 what=f"lines from {name}, reached through {NAME}")
        assert f"Console [{name}] connected to <{NAME}:" in d.output()
    wait_for(lambda: boot_seqs(log_text(d, "ssh4"), "n0"), timeout=15,
             what=f"the SSH console reached through {NAME}")
    wait_for(lambda: b'"console":"only4"' in bytes(collector.got)
             or b'"console": "only4"' in bytes(collector.got), timeout=15,
             what=f"shipped lines at the collector reached through {NAME}")
    assert NAME in stub.asked
    assert "cannot connect" not in d.output(), d.output()


@pytest.mark.parametrize("stuck_host,live_host", [("::1", "127.0.0.1"), ("127.0.0.1", "::1")])
def test_an_address_that_never_answers_does_not_hold_up_the_next(procs, tmp_path, request, v6,
                                                                 stuck_host, live_host):
    """RFC 8305: the next address is tried 250 ms after the first, not when
    the kernel gives up on it (over a minute of SYN retries). Whichever
    family the resolver puts first, one of the two cases has it stuck."""
    srv = v6(name="late", host=live_host)
    stuck = StuckListener(stuck_host, srv.port)
    request.addfinalizer(stuck.close)
    d, _ = start_with_dual_name(procs, tmp_path, request,
                                [f'console name="late" dev="{NAME}:{srv.port}"'])
    wait_for(lambda: len(lines_of(d, "late")) > 5, timeout=15,
             what="lines through the second address while the first drops every SYN")
    assert "Console [late] connected" in d.output()
