"""Scale-out with SHARD_SRV: configure_conman takes its members from a DNS
SRV answer (a StatefulSet's headless Service lists its ready pods), here
from dnsmasq on a loopback address, which each configure_conman uses as its
only name server (its own mount namespace, dns_stub.py). As in
test_configure_shard.py, CONMAND is a stub and only conman.conf is checked."""
import random
import socket
import time
import urllib.error
import urllib.request

from configure_env import Configure
from dns_stub import argv_prefix_for, check_namespaces_work
from e2e_helpers import free_port, wait_for
from hsmsim import HsmSim
from test_configure_shard import CONSOLES, BMCS, NAMES, consoles, owner, stub_conmand
from test_configure_shard import check_assignment as shard_check_assignment

DOMAIN = "conman.svc.test"  # .test: reserved, never a real zone
SRV = f"_conman._tcp.{DOMAIN}"


def host(name):
    return f"{name}.{DOMAIN}"


def free_dns_socket():
    """A UDP socket bound to port 53 of a 127.53.x.y nobody else uses (tests
    running at the same time do not collide)."""
    for _ in range(20):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind((f"127.53.{random.randint(0, 255)}.{random.randint(1, 254)}", 53))
            return s
        except OSError:
            s.close()
    raise AssertionError("no free 127.53.x.y:53")


class Dnsmasq:
    """dnsmasq on UDP/TCP 53 of a 127.53.x.y of its own, answering for
    .test only (anything else there is NXDOMAIN, nothing goes upstream);
    restarted with new records to change the answer."""

    def __init__(self, procs, tmp_path):
        self.procs = procs
        self.log = str(tmp_path / "dnsmasq.log")
        self.proc = None
        sock = free_dns_socket()
        self.address = sock.getsockname()[0]
        sock.close()

    def start(self, records=(), no_srv=False):
        """`records`: (pod name, port); each target also resolves to
        127.0.0.1. `no_srv`: the name exists with no SRV record."""
        argv = ["dnsmasq", "--no-daemon", "--keep-in-foreground", "--no-resolv", "--no-hosts",
                "--bind-interfaces", f"--listen-address={self.address}", "--port=53",
                "--conf-file=/dev/null", "--pid-file=", "--log-facility=-", "--local=/test/"]
        for name, port in records:
            argv += [f"--srv-host={SRV},{host(name)},{port}",
                     f"--host-record={host(name)},127.0.0.1"]
        if no_srv:
            argv.append(f"--txt-record={SRV},none")
        self.proc = self.procs.start(argv, log_path=self.log)
        wait_for(self.answers, timeout=10, what=f"dnsmasq on {self.address}:53")

    def answers(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            return s.connect_ex((self.address, 53)) == 0

    def stop(self):
        self.procs.stop(self.proc)  # by its PID (its session)
        self.proc = None

    def restart(self, **kw):
        self.stop()
        self.start(**kw)


def start_instances(procs, tmp_path, sim, dns, names, poll="1", settle="1"):
    stub = stub_conmand(tmp_path)
    ccs = {}
    for name in names:
        cc = Configure(procs, tmp_path / name, sim, env={
            "CONMAND": stub, "SHARD_SRV": SRV, "SHARD_SELF": name, "SHARD_SRV_POLL_SEC": poll,
            "SHARD_SETTLE_SEC": settle})
        check_namespaces_work(cc.root)
        ccs[name] = cc
    return ccs


def run(cc, dns):
    cc.start(argv_prefix=argv_prefix_for(dns.address, cc.root))


def check_assignment(ccs, selves, members):
    """test_configure_shard's, with peers named by their SRV targets."""
    return shard_check_assignment(ccs, selves, members, peer_host=host)


def test_srv_records_assign_consoles_a_fourth_takes_a_quarter_and_dns_down_keeps_them(
        procs, tmp_path):
    sim = HsmSim.start(procs, tmp_path, endpoints=BMCS)
    dns = Dnsmasq(procs, tmp_path)
    names = ["conman-0", "conman-1", "conman-2", "conman-3"]
    ccs = start_instances(procs, tmp_path, sim, dns, names)
    dns.start([(n, ccs[n].conman_port) for n in names[:3]])
    for n in names[:3]:
        run(ccs[n], dns)
    for n in names[:3]:
        ccs[n].wait_log(f"wrote {ccs[n].conf}: {CONSOLES} consoles")
        ccs[n].wait_log(f"SHARD_SRV {SRV} lists 3 members (conman-0={host('conman-0')}:")
    owned = check_assignment(ccs, names[:3], names[:3])
    assert sorted(sum((sorted(v) for v in owned.values()), [])) == NAMES
    for n in names[:3]:
        assert 40 <= len(owned[n]) <= 93, (n, len(owned[n]))
        ccs[n].assert_no_secret()

    # A fourth pod becomes ready: after SHARD_SETTLE_SEC about a quarter moves to it.
    dns.restart(records=[(n, ccs[n].conman_port) for n in names])
    for n in names[:3]:
        ccs[n].wait_log("shard membership changed from 3 (", timeout=15)
        ccs[n].wait_log(f"wrote {ccs[n].conf}: {CONSOLES} consoles", count=2, timeout=5)
    check_assignment(ccs, names[:3], names)
    moved = [c for c in NAMES if owner(names, c) != owner(names[:3], c)]
    assert 30 <= len(moved) <= 75, len(moved)  # ~50 of 200
    for n in names[:3]:
        gave = {c for c in moved if owner(names[:3], c) == n}
        assert f"{len(gave)} move away" in ccs[n].output()

    # The name server goes away: one line each, the last membership stays.
    good = {n: ccs[n].conf_text() for n in names[:3]}
    dns.stop()
    needle = f"SHARD_SRV {SRV}: no answer from the name servers"
    for n in names[:3]:
        ccs[n].wait_log(needle, timeout=20)
    ccs["conman-0"].settle(4)  # several polls
    for n in names[:3]:
        assert ccs[n].count(needle) == 1, ccs[n].output()
        assert "keeping conman-0=" in ccs[n].output()
        assert ccs[n].conf_text() == good[n]
        assert ccs[n].count("shard membership changed") == 1


def test_empty_answer_at_start_makes_self_the_only_member_then_others_join(procs, tmp_path):
    sim = HsmSim.start(procs, tmp_path, endpoints=BMCS)
    dns = Dnsmasq(procs, tmp_path)
    ccs = start_instances(procs, tmp_path, sim, dns, ["conman-0", "conman-1"])
    cc = ccs["conman-0"]
    dns.start(no_srv=True)  # the first pod: none is ready yet
    run(cc, dns)
    cc.wait_log(f"SHARD_SRV {SRV} lists no member yet (no instance is ready): conman-0 holds")
    cc.wait_log(f"wrote {cc.conf}: {CONSOLES} consoles")
    assert all(dev.startswith("ipmi:127.0.0.1:") for dev, _ in consoles(cc).values())
    cc.settle(2.5)  # more empty answers: waiting to be listed is quiet
    assert cc.count("keeping") == 0 and cc.count("lists no member") == 1, cc.output()
    # It is ready and listed, and a second pod with it: half go there.
    dns.restart(records=[(n, ccs[n].conman_port) for n in ccs])
    cc.wait_log("shard membership changed from 1 (conman-0) to 2 (", timeout=15)
    cc.wait_log(f"wrote {cc.conf}: {CONSOLES} consoles", count=2, timeout=5)
    check_assignment(ccs, ["conman-0"], list(ccs))
    # An empty answer later is not "no member": the membership stays.
    dns.restart(no_srv=True)
    cc.wait_log(f"SHARD_SRV {SRV}: lists no member (no instance is ready); keeping conman-0=",
                timeout=10)
    cc.settle(2.5)
    assert cc.count("shard membership changed") == 1
    check_assignment(ccs, ["conman-0"], list(ccs))


def test_nxdomain_at_start_is_no_pod_ready_and_later_keeps_the_membership(procs, tmp_path):
    # Kubernetes' DNS answers NXDOMAIN for a headless Service without a
    # ready pod (its DNS spec), so at start that is "nobody ready" too.
    sim = HsmSim.start(procs, tmp_path, endpoints=BMCS)
    dns = Dnsmasq(procs, tmp_path)
    ccs = start_instances(procs, tmp_path, sim, dns, ["conman-0", "conman-1"])
    cc = ccs["conman-0"]
    dns.start()  # .test is local: the name does not exist
    run(cc, dns)
    cc.wait_log(f"SHARD_SRV {SRV}: no such name (NXDOMAIN), as Kubernetes answers for a "
                "headless Service with no ready pod: conman-0 holds every console alone")
    cc.wait_log(f"wrote {cc.conf}: {CONSOLES} consoles")
    assert all(dev.startswith("ipmi:127.0.0.1:") for dev, _ in consoles(cc).values())
    cc.settle(2.5)  # more polls, still NXDOMAIN: waiting to be listed is quiet
    assert cc.count("NXDOMAIN") == 1 and cc.count("keeping") == 0, cc.output()
    dns.restart(records=[(n, ccs[n].conman_port) for n in ccs])
    cc.wait_log("shard membership changed from 1 (conman-0) to 2 (", timeout=15)
    cc.wait_log(f"wrote {cc.conf}: {CONSOLES} consoles", count=2, timeout=5)
    good = cc.conf_text()
    # Later, NXDOMAIN (every pod unready at once) changes nothing.
    dns.restart()
    cc.wait_log(f"SHARD_SRV {SRV}: no such name (NXDOMAIN); keeping conman-0=", timeout=10)
    cc.settle(2.5)
    assert cc.count("no such name (NXDOMAIN); keeping") == 1
    assert cc.conf_text() == good
    assert sim.requests_served() == 1


def test_srv_with_another_member_source_is_a_bad_setting(procs, tmp_path):
    for other, value in (("SHARD_MEMBERS", "a,b"), ("SHARD_MEMBERS_FILE", "/run/m")):
        cc = Configure(procs, tmp_path / other, env={"SHARD_SRV": SRV, other: value,
                                                     "SHARD_SELF": "a"})
        cc.start()
        assert cc.proc.wait(timeout=10) == 2
        assert f"bad setting: SHARD_SRV={SRV}: {other} is set too" in cc.output()


def healthz(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def test_silent_name_servers_keep_healthz_200_and_are_logged_once(procs, tmp_path):
    # Three name servers that never answer: one lookup blocks the loop for
    # about 10 s (2 attempts of 2 s on each), past /healthz's 5 s heartbeat.
    # That is the loop working, not hung, so /healthz stays 200.
    silent = [free_dns_socket() for _ in range(3)]  # read nothing, answer nothing
    try:
        sim = HsmSim.start(procs, tmp_path, endpoints=BMCS)
        http = free_port()
        cc = Configure(procs, tmp_path, sim, env={
            "CONMAND": stub_conmand(tmp_path), "SHARD_SRV": SRV, "SHARD_SELF": "conman-0",
            "SHARD_SRV_POLL_SEC": "1", "HTTP_PORT": str(http), "HTTP_ADDR": "127.0.0.1"})
        check_namespaces_work(cc.root)
        servers = [s.getsockname()[0] for s in silent]
        cc.start(argv_prefix=argv_prefix_for(servers, cc.root))
        cc.wait(lambda: healthz(http) == 200, 10, "/healthz 200")
        codes = []
        deadline = time.monotonic() + 16  # more than one lookup
        while time.monotonic() < deadline:
            codes.append(healthz(http))
            time.sleep(0.5)
        assert set(codes) == {200}, codes
        needle = f"SHARD_SRV {SRV}: no answer from the name servers"
        cc.wait_log(needle, timeout=15)
        assert cc.count(needle) == 1
        assert sim.requests_served() == 0
    finally:
        for s in silent:
            s.close()
