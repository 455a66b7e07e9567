"""ssh: consoles in our conmand against ssh-bmc-sim (a libssh server serving
many simulated node consoles): logging, the stock client joining, input,
key and password auth, host key checking, reconnects, and secrets kept out
of logs, config and the process table."""
import os
import re
import signal
import socket
import subprocess

import pytest

from e2e_helpers import binary, free_port, keygen, wait_for
from conmand_util import Daemon
from dns_stub import DnsStub, start_with_stub

PREFIX = "x1000c0s0b0"
PASSWORD = "Pw-for,ssh-sim-7Q"  # a comma: only hex keeps it intact in sshopts


class Sim:
    """One ssh-bmc-sim on a free loopback port, files in tmp_path/sim."""

    def __init__(self, procs, tmp_path, consoles=4, host_key=None, port=None, password=True,
                 keys=(), rate=10, listen="127.0.0.1"):
        self.dir = tmp_path / "sim"
        self.dir.mkdir(exist_ok=True)
        self.port = port or free_port()
        self.host_key = str(host_key or self.dir / "host_key")
        self.out = str(self.dir / f"sim-{self.port}-{os.path.basename(self.host_key)}.out")
        argv = [binary("ssh-bmc-sim"), "--port", str(self.port), "--host-key", self.host_key,
                "--consoles", str(consoles), "--prefix", PREFIX, "--rate", str(rate),
                "--listen", listen]
        if password:
            pw = self.dir / "password"
            pw.write_text(PASSWORD + "\n")
            argv += ["--password-file", str(pw)]
        if keys:
            ak = self.dir / "authorized_keys"
            ak.write_text("".join(open(k + ".pub").read() for k in keys))
            argv += ["--authorized-keys", str(ak)]
        self.proc = procs.start(argv, log_path=self.out)
        wait_for(lambda: "serving" in self.output(), timeout=10, what="ssh-bmc-sim to listen")

    def output(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"ssh-bmc-sim exited {self.proc.returncode}: "
                                 + open(self.out).read())
        return open(self.out).read()

    def public_key_line(self):
        return open(self.host_key + ".pub").read().split()[:2]


def hexpw(pw=PASSWORD):
    return "0x" + pw.encode().hex()


def ssh_console(name, user, sim, sshopts):
    return f'console name="{name}" dev="ssh:{user}@127.0.0.1:{sim.port}" sshopts="{sshopts}"'


def start_conmand(procs, tmp_path, consoles):
    d = Daemon("ours", procs, tmp_path, consoles, global_extra='global log="console.%N"')
    os.chmod(d.conf, 0o600)
    return d.start()


def log_text(d, name):
    try:
        return d.log(name).decode(errors="replace")
    except FileNotFoundError:
        return ""


def boot_seqs(text, node):
    """Sequence numbers of the boot-log lines of console `node` in text."""
    return [int(s) for s in re.findall(rf"{PREFIX}{node} #(\d+) ", text)]


def test_key_and_password_consoles_log_numbered_boot_lines(procs, tmp_path):
    key = keygen(tmp_path / "id")
    sim = Sim(procs, tmp_path, keys=[key])
    d = start_conmand(procs, tmp_path, [
        ssh_console("bykey", "n0", sim, f"I:{key}"),
        ssh_console("bypassword", "n1", sim, f"P:{hexpw()}"),
    ])
    for name, node in (("bykey", "n0"), ("bypassword", "n1")):
        wait_for(lambda: len(boot_seqs(log_text(d, name), node)) >= 5, timeout=15,
                 what=f"five boot lines in console.{name}")
        seqs = boot_seqs(log_text(d, name), node)
        assert seqs[:5] == [1, 2, 3, 4, 5], seqs
        assert f"Console [{name}] connected to <{node}@127.0.0.1:{sim.port}>" in d.output()
    # One process, no ssh children: the sessions live inside conmand.
    children = subprocess.run(["ps", "--ppid", str(d.proc.pid), "-o", "pid="],
                              capture_output=True, text=True).stdout.split()
    assert children == []


def test_join_with_the_stock_client_reaches_the_ssh_console(procs, tmp_path):
    key = keygen(tmp_path / "id")
    sim = Sim(procs, tmp_path, keys=[key])
    d = start_conmand(procs, tmp_path, [ssh_console("node2", "n2", sim, f"I:{key}")])
    wait_for(lambda: boot_seqs(log_text(d, "node2"), "n2"), timeout=15, what="first boot line")
    c = d.client("-j", "node2")
    try:
        c.expect("Connection to console [node2] opened")
        c.expect(f"{PREFIX}n2 #")
        c.send("typed-into-ssh-42\r")
        c.expect("typed-into-ssh-42")  # the simulated console echoes its input
        c.send("&.")
        assert c.wait() == 0
    finally:
        c.close()
    wait_for(lambda: "typed-into-ssh-42" in log_text(d, "node2"), timeout=5,
             what="the echoed input in the console log")


def test_client_break_reaches_the_bmc_as_an_ssh_break_request(procs, tmp_path):
    sim = Sim(procs, tmp_path)
    d = start_conmand(procs, tmp_path, [ssh_console("brk", "n1", sim, f"P:{hexpw()}")])
    wait_for(lambda: boot_seqs(log_text(d, "brk"), "n1"), timeout=15, what="first boot line")
    c = d.client("-j", "brk")
    try:
        c.expect("Connection to console [brk] opened")
        c.send("&B")  # conman's escape for a serial break
        c.expect("[ssh-bmc-sim: break received]")
        c.send("&.")
        assert c.wait() == 0
    finally:
        c.close()
    assert f"console {PREFIX}n1: break" in sim.output()
    assert "break to" not in d.output()  # no "SSH break to ... failed" warning


def test_wrong_password_and_unlisted_key_are_refused_with_a_clear_log_line(procs, tmp_path):
    good, stranger = keygen(tmp_path / "good"), keygen(tmp_path / "stranger")
    sim = Sim(procs, tmp_path, keys=[good])
    d = start_conmand(procs, tmp_path, [
        ssh_console("badpw", "n0", sim, f"P:{hexpw('not-the-password')}"),
        ssh_console("badkey", "n1", sim, f"I:{stranger}"),
        ssh_console("nosuchnode", "n9", sim, f"I:{good}"),
    ])
    wait_for(lambda: all(f"Console [{n}] cannot connect to" in d.output()
                         for n in ("badpw", "badkey", "nosuchnode")),
             timeout=15, what="three refusals in conmand's log")
    out = d.output()
    assert re.search(rf'Console \[badpw\] cannot connect to <n0@127.0.0.1:{sim.port}>: '
                     r'authentication as "n0" refused \(tried: password\)', out), out
    assert re.search(rf'Console \[badkey\] cannot connect to <n1@127.0.0.1:{sim.port}>: '
                     rf'authentication as "n1" refused \(tried: key {re.escape(stranger)}\)',
                     out), out
    assert 'authentication as "n9" refused' in out
    assert "connected to <" not in out


def test_bad_sshopts_and_dev_name_the_console_and_the_item(procs, tmp_path):
    sim = Sim(procs, tmp_path)
    d = start_conmand(procs, tmp_path, [
        ssh_console("badopt", "n0", sim, "Z:whatever"),
        ssh_console("badhex", "n0", sim, "P:0xZZ"),
        ssh_console("nokey", "n0", sim, f"I:{tmp_path}/missing_key"),
        'console name="baddev" dev="ssh:127.0.0.1:22"',
    ])
    wait_for(lambda: all(f"Console [{n}] cannot connect" in d.output()
                         for n in ("badopt", "badhex", "nokey", "baddev")),
             timeout=15, what="four configuration errors")
    out = d.output()
    assert "sshopts: unknown item 'Z:'" in out
    assert "sshopts: bad P: value" in out
    assert f"cannot read private key file {tmp_path}/missing_key" in out
    assert 'dev "ssh:127.0.0.1:22" is not ssh:USER@HOST[:PORT]' in out
    assert d.proc.poll() is None


def test_host_names_resolve_off_the_loop_and_failures_name_the_host(procs, tmp_path, request):
    # Lookups go to a name server on loopback (dns_stub), never off the
    # machine: it answers NXDOMAIN; localhost comes from /etc/hosts.
    sim = Sim(procs, tmp_path)
    closed = free_port()
    stub = DnsStub()
    request.addfinalizer(stub.close)
    d = Daemon("ours", procs, tmp_path, [
        f'console name="byname" dev="ssh:n0@localhost:{sim.port}" sshopts="P:{hexpw()}"',
        f'console name="nxdomain" dev="ssh:n1@no-such-bmc.invalid:{sim.port}" sshopts="P:{hexpw()}"',
        f'console name="refused" dev="ssh:n2@127.0.0.1:{closed}" sshopts="P:{hexpw()}"',
    ], global_extra='global log="console.%N"')
    os.chmod(d.conf, 0o600)
    start_with_stub(d, stub)
    wait_for(lambda: boot_seqs(log_text(d, "byname"), "n0"), timeout=15,
             what="the console given by host name to log")
    wait_for(lambda: "Console [nxdomain] cannot" in d.output()
             and "Console [refused] cannot" in d.output(), timeout=15, what="both failures")
    out = d.output()
    assert 'cannot resolve "no-such-bmc.invalid"' in out
    assert f"Console [refused] cannot connect to <n2@127.0.0.1:{closed}>: Connection refused" in out
    assert "no-such-bmc.invalid" in stub.asked


def test_known_hosts_accepts_the_listed_key_and_refuses_another(procs, tmp_path):
    sim = Sim(procs, tmp_path)
    ktype, kb64 = sim.public_key_line()
    other = keygen(tmp_path / "other_host_key")
    otype, ob64 = open(other + ".pub").read().split()[:2]
    good_kh, bad_kh = tmp_path / "known_hosts.good", tmp_path / "known_hosts.bad"
    good_kh.write_text(f"[127.0.0.1]:{sim.port} {ktype} {kb64}\n")
    bad_kh.write_text(f"[127.0.0.1]:{sim.port} {otype} {ob64}\n")
    d = start_conmand(procs, tmp_path, [
        ssh_console("trusted", "n0", sim, f"P:{hexpw()},K:{good_kh}"),
        ssh_console("spoofed", "n1", sim, f"P:{hexpw()},K:{bad_kh}"),
    ])
    wait_for(lambda: boot_seqs(log_text(d, "trusted"), "n0"), timeout=15,
             what="the console with a matching known_hosts entry to log")
    wait_for(lambda: "Console [spoofed] cannot connect" in d.output(), timeout=15,
             what="the mismatching host key to be refused")
    assert re.search(rf"Console \[spoofed\] cannot connect to <n1@127.0.0.1:{sim.port}>: "
                     rf"host key of 127.0.0.1:{sim.port} CHANGED \(now SHA256:\S+\), "
                     rf"not the one in {re.escape(str(bad_kh))}; refusing", d.output())
    assert not boot_seqs(log_text(d, "spoofed"), "n1")


def test_host_key_trusted_on_first_use_is_pinned_and_a_changed_one_refused(procs, tmp_path):
    sim = Sim(procs, tmp_path)
    d = start_conmand(procs, tmp_path, [ssh_console("pinned", "n0", sim, f"P:{hexpw()}")])
    wait_for(lambda: boot_seqs(log_text(d, "pinned"), "n0"), timeout=15, what="first lines")
    assert re.search(rf"Console \[pinned\]: trusting host key SHA256:\S+ of 127.0.0.1:{sim.port}"
                     r" on first use", d.output())
    procs.stop(sim.proc)
    # Another "BMC" answers on the same address with a different host key.
    impostor = Sim(procs, tmp_path, port=sim.port, host_key=tmp_path / "impostor_key")
    wait_for(lambda: "CHANGED from SHA256:" in d.output(), timeout=20,
             what="conmand to refuse the changed host key")
    assert re.search(rf"Console \[pinned\] cannot connect to <n0@127.0.0.1:{sim.port}>: host key "
                     rf"of 127.0.0.1:{sim.port} CHANGED from SHA256:\S+ to SHA256:\S+; refusing",
                     d.output())
    assert "console x1000c0s0b0n0 opened" not in impostor.output()


def test_a_fast_console_loses_no_line_through_libssh(procs, tmp_path):
    sim = Sim(procs, tmp_path, rate=3000)
    d = start_conmand(procs, tmp_path, [ssh_console("fast", "n0", sim, f"P:{hexpw()}")])
    wait_for(lambda: len(boot_seqs(log_text(d, "fast"), "n0")) >= 6000, timeout=30,
             what="6000 lines from a console talking at 3000 lines/s")
    seqs = boot_seqs(log_text(d, "fast"), "n0")
    assert seqs == list(range(1, len(seqs) + 1))


def test_a_bmc_that_drops_the_connection_is_reconnected(procs, tmp_path):
    sim = Sim(procs, tmp_path)
    d = start_conmand(procs, tmp_path, [ssh_console("flaky", "n3", sim, f"P:{hexpw()}")])
    wait_for(lambda: len(boot_seqs(log_text(d, "flaky"), "n3")) >= 3, timeout=15,
             what="lines before the drop")
    os.kill(sim.proc.pid, signal.SIGUSR1)  # the simulated BMC resets its SSH service
    wait_for(lambda: "Console [flaky] disconnected from" in d.output(), timeout=10,
             what="the drop to be noticed")
    before = max(boot_seqs(log_text(d, "flaky"), "n3"))
    wait_for(lambda: d.output().count("Console [flaky] connected to") >= 2, timeout=15,
             what="the reconnect")
    wait_for(lambda: max(boot_seqs(log_text(d, "flaky"), "n3")) > before + 2, timeout=15,
             what="new lines after the reconnect")
    assert "Console [flaky] disconnected from" in log_text(d, "flaky")


def test_a_bmc_that_never_answers_times_out_after_the_sshopts_limit(procs, tmp_path):
    with socket.socket() as silent:  # completes TCP handshakes, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        d = start_conmand(procs, tmp_path, [
            f'console name="silent" dev="ssh:n0@127.0.0.1:{port}" sshopts="P:{hexpw()},T:2"'])
        wait_for(lambda: "Console [silent] cannot connect" in d.output(), timeout=15,
                 what="the connection attempt to time out")
    assert (f"Console [silent] cannot connect to <n0@127.0.0.1:{port}>: no shell after 2 s "
            "(T: in sshopts)") in d.output()
    assert d.proc.poll() is None


def test_password_and_key_never_reach_logs_config_or_ps(procs, tmp_path):
    key = keygen(tmp_path / "id")
    key_body = [l for l in open(key).read().splitlines() if not l.startswith("-----")]
    sim = Sim(procs, tmp_path, keys=[key])
    d = start_conmand(procs, tmp_path, [
        ssh_console("bykey", "n0", sim, f"I:{key}"),
        ssh_console("bypw", "n1", sim, f"P:{hexpw()}"),
        ssh_console("wrongpw", "n2", sim, f"P:{hexpw(PASSWORD + 'x')}"),
    ])
    wait_for(lambda: boot_seqs(log_text(d, "bykey"), "n0") and boot_seqs(log_text(d, "bypw"), "n1")
             and "Console [wrongpw] cannot connect" in d.output(), timeout=15,
             what="both consoles up and the wrong password refused")
    ps = subprocess.run(["ps", "-eww", "-o", "args"], capture_output=True, text=True).stdout
    conf = open(d.conf).read()
    texts = {"conmand output": d.output(), "ps": ps, "sim output": sim.output(),
             "console logs": "".join(log_text(d, n) for n in ("bykey", "bypw", "wrongpw"))}
    for where, text in texts.items():
        assert PASSWORD not in text and hexpw()[2:] not in text, f"password in {where}"
        assert PASSWORD + "x" not in text and hexpw(PASSWORD + "x")[2:] not in text, where
        assert not any(line in text for line in key_body), f"key material in {where}"
    assert PASSWORD not in conf  # only its hex form is written
    assert not any(line in conf for line in key_body)  # the key is referenced by path
    assert oct(os.stat(d.conf).st_mode & 0o777) == "0o600"


def test_sim_refuses_a_non_loopback_address_and_a_bad_key_file(procs, tmp_path):
    sim = binary("ssh-bmc-sim")
    r = subprocess.run([sim, "--listen", "10.0.0.1", "--host-key", str(tmp_path / "hk"),
                        "--password-file", "/dev/null"], capture_output=True, timeout=10)
    assert r.returncode == 2
    assert b'bad value "10.0.0.1" for option -l' in r.stderr
    bad = tmp_path / "authorized_keys"
    bad.write_text("# comment\nssh-ed25519 not-base64!!\n")
    r = subprocess.run([sim, "--port", str(free_port()), "--host-key", str(tmp_path / "hk"),
                        "--authorized-keys", str(bad)], capture_output=True, timeout=10)
    assert r.returncode == 1
    assert f"{bad}:2: not a public key line".encode() in r.stderr
