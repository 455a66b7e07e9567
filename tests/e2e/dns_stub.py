"""A name server on loopback for tests that look names up, so no DNS query
leaves the machine: a UDP stub on 127.53.x.y:53 that answers the A and
AAAA records it is given and NXDOMAIN to every other name, records what it
was asked, and a way to run a daemon with it as its only name server.

The daemon runs in a mount namespace of its own (unshare --mount, as root)
where a resolv.conf naming the stub is bind-mounted over /etc/resolv.conf;
it keeps the machine's network namespace, so the test's clients reach it
on 127.0.0.1 as usual. /etc/hosts still answers `localhost`."""
import os
import random
import socket
import struct
import subprocess
import threading

from e2e_helpers import wait_for
from conmand_util import daemon_path

NXDOMAIN = 3


def question_name(packet):
    """The first question's name of a DNS query, lower case, or None."""
    labels, i = [], 12
    while i < len(packet):
        n = packet[i]
        if n == 0:
            return ".".join(labels).lower()
        if n & 0xC0:  # no compression in a query's first name
            return None
        labels.append(packet[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    return None


def nxdomain_reply(query):
    """The NXDOMAIN answer to `query`: its id and question, no records."""
    return reply(query, NXDOMAIN, [])


def reply(query, rcode, rdatas):
    """An answer to `query` with one record per rdata (of the asked type)."""
    qid, flags = struct.unpack("!HH", query[:4])
    end = query.index(b"\0", 12) + 5  # name, type, class
    qtype = struct.unpack("!H", query[end - 4:end - 2])[0]
    reply_flags = 0x8000 | (flags & 0x7900) | 0x0080 | rcode  # QR, opcode+RD, RA
    answers = b"".join(struct.pack("!HHHIH", 0xC00C, qtype, 1, 5, len(r)) + r for r in rdatas)
    return struct.pack("!HHHHHH", qid, reply_flags, 1, len(rdatas), 0, 0) + query[12:end] + answers


def query_type(query):
    end = query.index(b"\0", 12) + 5
    return struct.unpack("!H", query[end - 4:end - 2])[0]


TYPE_A, TYPE_AAAA = 1, 28


class DnsStub:
    """On UDP port 53 of a loopback address of its own (127.53.x.y: tests
    running at the same time do not collide): `records` maps a name to its
    addresses (IPv4 and IPv6 texts, answered as A and AAAA in that order);
    every other name is NXDOMAIN."""

    def __init__(self, records=None):
        self.records = {k.lower(): list(v) for k, v in (records or {}).items()}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _ in range(20):
            self.address = f"127.53.{random.randint(0, 255)}.{random.randint(1, 254)}"
            try:
                self.sock.bind((self.address, 53))
                break
            except PermissionError as e:
                raise AssertionError(f"the DNS stub needs root for port 53: {e}") from e
            except OSError:
                continue
        else:
            raise AssertionError("no free 127.53.x.y:53 for the DNS stub")
        self.sock.settimeout(0.2)
        self.asked = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopping.is_set():
            try:
                query, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            name = question_name(query)
            if name is None or len(query) < 17:
                continue
            self.asked.append(name)
            self.sock.sendto(self.answer(name, query), peer)

    def answer(self, name, query):
        if name not in self.records:
            return nxdomain_reply(query)
        family = {TYPE_A: socket.AF_INET, TYPE_AAAA: socket.AF_INET6}.get(query_type(query))
        rdatas = [socket.inet_pton(family, a) for a in self.records[name]
                  if family and (":" in a) == (family == socket.AF_INET6)]
        return reply(query, 0, rdatas)

    def resolv_conf(self, directory):
        """A resolv.conf naming only this stub (one try, short timeout)."""
        return resolv_conf_for(self.address, directory)

    def argv_prefix(self, directory):
        """Runs the rest of argv with this stub as its only name server."""
        return argv_prefix_for(self.address, directory)

    def close(self):
        self.stopping.set()
        self.sock.close()
        self.thread.join(timeout=5)


def resolv_conf_for(address, directory):
    """A resolv.conf in `directory` naming only the server on `address` (or
    the servers, a list of addresses, up to resolv.conf's 3)."""
    addresses = [address] if isinstance(address, str) else list(address)
    path = os.path.join(str(directory), "resolv.conf")
    with open(path, "w") as f:
        f.write("".join(f"nameserver {a}\n" for a in addresses))
        f.write("options timeout:2 attempts:1\n")
    return path


def argv_prefix_for(address, directory):
    """Runs the rest of argv with the server on `address` (any loopback DNS
    server, e.g. dnsmasq; or a list of them) as its only name server."""
    script = 'mount --bind "$0" /etc/resolv.conf && exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script,
            resolv_conf_for(address, directory)]


def check_namespaces_work(directory):
    """Fails the test, naming what is missing, when this machine cannot run
    a daemon in its own mount namespace (it needs root)."""
    stub_conf = os.path.join(str(directory), "probe-resolv.conf")
    with open(stub_conf, "w") as f:
        f.write("nameserver 127.53.0.1\n")
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                        'mount --bind "$0" /etc/resolv.conf && cat /etc/resolv.conf', stub_conf],
                       capture_output=True, timeout=10)
    assert r.returncode == 0 and b"127.53.0.1" in r.stdout, (
        "this test runs conmand in its own mount namespace with a resolv.conf on loopback "
        f"(unshare --mount, needs root): {r.stderr.decode(errors='replace')}")


def start_with_stub(d, stub, env=None):
    """Starts Daemon `d` (not yet started) with `stub` as its name server."""
    check_namespaces_work(d.dir)
    argv = [*stub.argv_prefix(d.dir), daemon_path(d.kind), "-F", "-v", "-c", d.conf,
            "-p", str(d.port)]
    d.proc = d.procs.start(argv, log_path=d.out, env=env)
    wait_for(d.ready, timeout=10, what=f"{d.kind} conmand to answer -q")
    return d
