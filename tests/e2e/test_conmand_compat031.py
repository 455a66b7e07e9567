"""conman 0.3.1's command line, listener default and configuration values on
our real conmand with the stock client (issue 20, items 3-5): loopback on by
default, -P, the configuration lock behind -k -q -r and a second daemon,
nofile, execpath, keepalive on telnet consoles, the resetcmd time limit,
ipmiopts names and forms, seropts layering, logopts warnings, continued
lines and %N in any dev. Where Debian's 0.2.7 behaves the same the test runs
on both daemons, so a difference fails."""
import os
import re
import resource
import signal
import socket
import subprocess
import termios
import time

import pytest

from bmcsim import BmcSim
from e2e_helpers import alive, conman, conman_names, free_port, read_text, wait_for, write_lines
from conmand_util import Client, daemon_path

BOTH = ["ours", "debian"]


class Conf:
    """A configuration of our own (the helpers' Daemon always adds
    loopback=on and a pidfile) and the daemons started on it."""

    def __init__(self, procs, tmp_path, lines, name="conman.conf"):
        self.procs = procs
        self.dir = str(tmp_path)
        self.path = os.path.join(self.dir, name)
        self.write(lines)

    def write(self, lines):
        write_lines(self.path, lines)

    def start(self, kind, port, *extra, foreground=True, out="conmand.out", **kw):
        argv = [daemon_path(kind)] + (["-F"] if foreground else []) + \
            ["-v", "-c", self.path, "-p", str(port), *extra]
        log = os.path.join(self.dir, out)
        return self.procs.start(argv, log_path=log, **kw), log

    def ctl(self, kind, *args, timeout=15):
        """conmand -q/-k/-r on this configuration."""
        return subprocess.run([daemon_path(kind), *args, "-c", self.path], capture_output=True,
                              timeout=timeout, cwd=self.dir)


def started(p, port, log):
    def up():
        if p is not None and p.poll() is not None:
            raise AssertionError(f"conmand exited with {p.returncode}: {read_text(log)}")
        return conman_names(port) is not None
    wait_for(up, timeout=15, what="conmand to answer a query")


def listening_addresses(port):
    """Addresses with a socket listening on `port` (/proc/net/tcp, tcp6)."""
    found = set()
    for path, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                addr, p = local.split(":")
                if state != "0A" or int(p, 16) != port:
                    continue
                raw = bytes.fromhex(addr)
                # /proc prints each 32-bit word in host (little-endian) order.
                raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
                found.add(socket.inet_ntop(family, raw))
    return found


# --- item 3: the listener -------------------------------------------------

def test_ours_listens_on_loopback_only_without_a_loopback_line(procs, tmp_path):
    conf = Conf(procs, tmp_path, [f'server logdir="{tmp_path}"', 'console name="a" dev="/bin/cat"'])
    port = free_port()
    p, log = conf.start("ours", port)
    started(p, port, log)
    assert listening_addresses(port) == {"127.0.0.1", "::1"}, read_text(log)


@pytest.mark.parametrize("kind", BOTH)
@pytest.mark.parametrize("value,address", [("on", "127.0.0.1"), ("OFF", "0.0.0.0")])
def test_loopback_setting_picks_the_listening_address(kind, value, address, procs, tmp_path):
    # Ours listens on IPv6 too (issue 19): ::1 beside 127.0.0.1, or one
    # dual-stack socket on :: for every address; Debian's 0.2.7 IPv4 only.
    if kind == "ours":
        address = {"127.0.0.1": ("127.0.0.1", "::1"), "0.0.0.0": ("::",)}[address]
    else:
        address = (address,)
    conf = Conf(procs, tmp_path, [f'server logdir="{tmp_path}"', f"server loopback={value}",
                                  'console name="a" dev="/bin/cat"'])
    port = free_port()
    p, log = conf.start(kind, port)
    started(p, port, log)
    assert listening_addresses(port) == set(address), read_text(log)


def test_base_configuration_listens_on_every_address_and_says_why():
    base = open(os.path.join(os.environ.get("SOURCE_DIR", "."), "etc", "conman_base.conf")).read()
    line = re.search(r"^server loopback=(\S+)$", base, re.M)
    assert line and line.group(1).lower() == "off"
    before = base[:line.start()].splitlines()[-4:]
    assert any("NetworkPolicy" in l for l in before if l.startswith("#")), before


# --- item 4: command line and the configuration lock ----------------------

def test_P_writes_the_pidfile_it_names_instead_of_the_configured_one(procs, tmp_path):
    configured = tmp_path / "configured.pid"
    conf = Conf(procs, tmp_path, [f'server logdir="{tmp_path}"', f'server pidfile="{configured}"',
                                  'console name="a" dev="/bin/cat"'])
    port = free_port()
    # Relative to where conmand starts, as conman makes it absolute.
    p, log = conf.start("ours", port, "-P", "run/from-P.pid", cwd=str(tmp_path))
    started(p, port, log)
    pidfile = tmp_path / "run" / "from-P.pid"  # its folder created, as conman's
    wait_for(pidfile.exists, what="the -P pidfile")
    assert pidfile.read_text().strip() == str(p.pid)
    assert not configured.exists()
    # A reload keeps -P over the file and does not call it a change.
    os.kill(p.pid, signal.SIGHUP)
    wait_for(lambda: "reload of" in read_text(log), what="the reload")
    assert "needs a restart" not in read_text(log), read_text(log)
    os.kill(p.pid, signal.SIGTERM)
    assert p.wait(timeout=10) == 0
    assert not pidfile.exists()


@pytest.mark.parametrize("kind", BOTH)
def test_second_daemon_on_a_configuration_in_use_is_refused(kind, procs, tmp_path):
    conf = Conf(procs, tmp_path, [f'server logdir="{tmp_path}"', 'console name="a" dev="/bin/cat"'])
    port = free_port()
    first, log = conf.start(kind, port)
    started(first, port, log)
    second, log2 = conf.start(kind, free_port(), out="second.out")
    assert second.wait(timeout=15) == 1
    assert f'Configuration "{conf.path}" in use by pid {first.pid}' in read_text(log2), read_text(log2)
    assert first.poll() is None


@pytest.mark.parametrize("kind", BOTH)
def test_q_r_k_find_the_daemon_through_the_lock_without_a_pidfile(kind, procs, tmp_path):
    conf = Conf(procs, tmp_path, [f'server logdir="{tmp_path}"', 'server logfile="d.log"',
                                  'global log="console.%N"', 'console name="a" dev="/bin/cat"'])
    port = free_port()
    p, log = conf.start(kind, port)
    started(p, port, log)
    q = conf.ctl(kind, "-q")
    assert q.returncode == 0 and q.stdout.decode().strip() == str(p.pid), q
    r = conf.ctl(kind, "-r")
    assert r.returncode == 0, r
    assert p.poll() is None
    k = conf.ctl(kind, "-k")
    assert k.returncode == 0, k
    p.wait(timeout=10)
    gone = conf.ctl(kind, "-q")
    assert gone.returncode == 1, gone
    assert f'Configuration "{conf.path}" does not appear to be active' in gone.stderr.decode()
    assert conf.ctl(kind, "-k").returncode == 1


def test_detached_daemon_holds_the_lock_itself_not_its_parent(procs, tmp_path):
    conf = Conf(procs, tmp_path, [f'server logdir="{tmp_path}"', 'server logfile="d.log"',
                                  'console name="a" dev="/bin/cat"'])
    port = free_port()
    parent, _ = conf.start("ours", port, foreground=False)
    assert parent.wait(timeout=15) == 0
    started(None, port, None)
    q = conf.ctl("ours", "-q")
    assert q.returncode == 0, q
    pid = int(q.stdout)
    assert pid != parent.pid and alive(pid)
    try:
        again, log2 = conf.start("ours", free_port(), foreground=False, out="again.out")
        assert again.wait(timeout=15) == 1
        assert f"in use by pid {pid}" in read_text(log2), read_text(log2)
    finally:
        assert conf.ctl("ours", "-k").returncode == 0
    wait_for(lambda: not alive(pid), what="the detached daemon to stop")


def test_lock_follows_a_configuration_replaced_then_reloaded(procs, tmp_path):
    lines = [f'server logdir="{tmp_path}"', 'console name="a" dev="/bin/cat"']
    conf = Conf(procs, tmp_path, lines)
    port = free_port()
    p, log = conf.start("ours", port)
    started(p, port, log)
    # Reread in place: the lock must survive (closing another descriptor of
    # the file would drop it).
    os.kill(p.pid, signal.SIGHUP)
    wait_for(lambda: read_text(log).count("reload of") == 1, what="the first reload")
    assert conf.ctl("ours", "-q").stdout.decode().strip() == str(p.pid)
    # An editor's save: a new file renamed over the old one.
    new = tmp_path / "conman.conf.new"
    new.write_text("\n".join(lines + ['console name="b" dev="/bin/cat"']) + "\n")
    os.rename(new, conf.path)
    os.kill(p.pid, signal.SIGHUP)
    wait_for(lambda: read_text(log).count("reload of") == 2, what="the second reload")
    q = conf.ctl("ours", "-q")
    assert q.returncode == 0 and q.stdout.decode().strip() == str(p.pid), (q, read_text(log))
    second, log2 = conf.start("ours", free_port(), out="second.out")
    assert second.wait(timeout=15) == 1, read_text(log2)


# --- item 5: SERVER values ------------------------------------------------

def soft_limit(soft):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def open_files(pid):
    with open(f"/proc/{pid}/limits") as f:
        line = next(l for l in f if l.startswith("Max open files"))
    soft, hard = line.split()[3:5]
    return int(soft), int(hard)


@pytest.mark.parametrize("value", [None, "0", "-1", "700"])
def test_nofile_keeps_raises_or_sets_the_open_file_limit(value, procs, tmp_path):
    lines = [f'server logdir="{tmp_path}"', 'console name="a" dev="/bin/cat"']
    if value is not None:
        lines.append(f"server nofile={value}")
    conf = Conf(procs, tmp_path, lines)
    port = free_port()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    p, log = conf.start("ours", port, preexec_fn=soft_limit(512))
    started(p, port, log)
    want = {None: 512, "0": 512, "-1": hard, "700": 700}[value]
    assert open_files(p.pid) == (want, hard), read_text(log)
    assert f"Open file limit set to {want}" in read_text(log)


def test_nofile_above_the_hard_limit_raises_both_or_falls_back_to_the_hard_one(procs, tmp_path):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    want = hard + 1000
    conf = Conf(procs, tmp_path, [f'server logdir="{tmp_path}"', f"server nofile={want}",
                                  'console name="a" dev="/bin/cat"'])
    port = free_port()
    p, log = conf.start("ours", port, preexec_fn=soft_limit(512))
    started(p, port, log)
    # Raising a hard limit takes privilege (CAP_SYS_RESOURCE; conman needs
    # it too); without it the daemon says so and takes the hard limit.
    probe = subprocess.run(["/usr/bin/python3", "-c", "import resource; resource.setrlimit("
                            f"resource.RLIMIT_NOFILE, ({want}, {want}))"], capture_output=True)
    if probe.returncode == 0:
        assert open_files(p.pid) == (want, want), read_text(log)
    else:
        assert open_files(p.pid) == (hard, hard), read_text(log)
        assert f"cannot set the open file limit to {want}" in read_text(log)


@pytest.mark.parametrize("kind", BOTH)
def test_execpath_finds_a_program_without_a_slash(kind, procs, tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    prog = bindir / "hello-console"
    prog.write_text("#!/bin/sh\necho \"hello from $1\"\nexec sleep 60\n")
    prog.chmod(0o755)
    rel = tmp_path / "rel"
    rel.mkdir()
    (rel / "hello-console").symlink_to(prog)
    conf = Conf(procs, tmp_path, [
        f'server logdir="{tmp_path}"', f'server execpath="/nonexistent:{tmp_path}/rel-missing:{bindir}"',
        'global log="console.%N"',
        'console name="viapath" dev="hello-console %N"',
        # A relative path is taken from where conmand started.
        'console name="relative" dev="rel/hello-console %N"'])
    port = free_port()
    p, log = conf.start(kind, port, cwd=str(tmp_path))
    started(p, port, log)
    for name in ("viapath", "relative"):
        wait_for(lambda: f"hello from {name}" in read_text(tmp_path / f"console.{name}"),
                 what=f"{name} to run through execpath")


def telnet_peer():
    """A listening TCP socket on loopback standing in for a terminal server."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    return srv


def keepalive_timers(port):
    """ss -o timers of the established connections to 127.0.0.1:port."""
    out = subprocess.run(["ss", "-tnoH", "state", "established", "dst", f"127.0.0.1:{port}"],
                         capture_output=True, text=True, timeout=10).stdout
    return [l for l in out.splitlines() if l.strip()]


@pytest.mark.parametrize("kind", BOTH)
@pytest.mark.parametrize("keepalive", ["on", "off"])
def test_keepalive_applies_to_telnet_console_sockets(kind, keepalive, procs, tmp_path):
    srv = telnet_peer()
    peer_port = srv.getsockname()[1]
    try:
        conf = Conf(procs, tmp_path, [f'server logdir="{tmp_path}"', f"server keepalive={keepalive}",
                                      f'console name="ts" dev="127.0.0.1:{peer_port}"'])
        port = free_port()
        p, log = conf.start(kind, port)
        started(p, port, log)
        srv.settimeout(10)
        conn, _ = srv.accept()
        lines = wait_for(lambda: keepalive_timers(peer_port), what="the console's connection")
        assert len(lines) == 1, lines
        assert ("timer:(keepalive" in lines[0]) == (keepalive == "on"), lines
        conn.close()
    finally:
        srv.close()


def joined_and_reset(conf, env):
    """Starts ours on `conf` (console "r") with `env`, joins r and asks for
    its reset (&R). The joined client (the caller closes it) and the log."""
    port = free_port()
    p, log = conf.start("ours", port, env=env)
    started(p, port, log)
    c = Client(port, "-j", "r")
    try:
        c.expect("opened")
        c.send("&R")
    except BaseException:
        c.close()
        raise
    return c, log


def test_hung_resetcmd_is_killed_with_its_process_group_after_the_limit(procs, tmp_path):
    pids = tmp_path / "reset.pids"
    cmd = f"sleep 300 & echo $$ $! > {pids}; wait"
    conf = Conf(procs, tmp_path, [f'server logdir="{tmp_path}"', f"server resetcmd='{cmd}'",
                                  'global log="console.%N"', 'console name="r" dev="/bin/cat"'])
    # The 60 s of conman, shortened for the test by an undocumented knob.
    env = dict(os.environ, CONMAND_RESETCMD_TIMEOUT_SEC="2")
    c, log = joined_and_reset(conf, env)
    try:
        wait_for(lambda: pids.exists() and len(pids.read_text().split()) == 2, what="resetcmd")
        shell, sleeper = (int(x) for x in pids.read_text().split())
        t0 = time.monotonic()
        c.send("&R")  # while it runs: refused, as conman does
        c.expect(f"Ignoring reset of console [r]: pid {shell} still active")
        wait_for(lambda: not alive(sleeper) and not alive(shell), timeout=10,
                 what="the hung resetcmd's group to be killed")
        assert time.monotonic() - t0 < 5
        wait_for(lambda: f"Console [r] reset terminated after 2s (pid {shell})" in read_text(log),
                 what="the kill in the log")
        # Gone: a new reset runs again.
        pids.unlink()
        c.send("&R")
        wait_for(pids.exists, what="a second resetcmd after the first was killed")
    finally:
        c.close()


def test_resetcmd_limit_is_sixty_seconds_without_the_test_knob(procs, tmp_path):
    pids = tmp_path / "reset.pids"
    conf = Conf(procs, tmp_path, [f'server logdir="{tmp_path}"',
                                  f"server resetcmd='echo $$ > {pids}; exec sleep 300'",
                                  'console name="r" dev="/bin/cat"'])
    env = {k: v for k, v in os.environ.items() if k != "CONMAND_RESETCMD_TIMEOUT_SEC"}
    c, _ = joined_and_reset(conf, env)
    try:
        wait_for(pids.exists, what="resetcmd")
        shell = int(pids.read_text())
        time.sleep(3)  # longer than the test knob's limit above: still running
        assert alive(shell)
    finally:
        c.close()
        os.killpg(shell, signal.SIGKILL)


# --- item 5: GLOBAL and CONSOLE values ------------------------------------

@pytest.mark.parametrize("kind", BOTH)
def test_console_seropts_are_layered_on_the_global_ones(kind, procs, tmp_path):
    master, slave = os.openpty()
    dev = os.ttyname(slave)
    try:
        conf = Conf(procs, tmp_path, [f'server logdir="{tmp_path}"',
                                      'global seropts="115200,8n2"',
                                      f'console name="s" dev="{dev}" seropts="9600"'])
        port = free_port()
        p, log = conf.start(kind, port)
        started(p, port, log)

        def applied():
            attrs = termios.tcgetattr(slave)
            return attrs[4] == termios.B9600 and attrs
        attrs = wait_for(applied, what="the daemon to set the serial line")
        # Linux keeps a pty at 8 data bits without parity: the stop bits
        # (GLOBAL) and the speed (the console's) show the layering.
        assert attrs[2] & termios.CSTOPB
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.parametrize("kind", BOTH)
def test_unknown_logopts_word_keeps_the_console_and_the_known_words(kind, procs, tmp_path):
    script = tmp_path / "ctrl-a.sh"
    script.write_text("#!/bin/sh\nprintf '\\001tail\\n'\nexec sleep 60\n")
    script.chmod(0o755)
    conf = Conf(procs, tmp_path, [
        f'server logdir="{tmp_path}"', 'global log="console.%N"',
        'global logopts="sanitize,frobnicate"',
        f'console name="a" dev="{script}" logopts="timestamp,sparkle"'])
    port = free_port()
    p, log = conf.start(kind, port)
    started(p, port, log)
    r = conman(port, "-q")
    assert r.stdout.decode().split() == ["a"]
    # sanitize (^A) and timestamp both apply.
    wait_for(lambda: re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \^Atail",
                               read_text(tmp_path / "console.a")),
             what="a sanitized, timestamped line")


def test_unknown_logopts_word_is_a_warning_naming_the_line(procs, tmp_path):
    conf = Conf(procs, tmp_path, [f'server logdir="{tmp_path}"',
                                  'console name="a" dev="/bin/cat" logopts="sparkle"'])
    port = free_port()
    p, log = conf.start("ours", port)
    started(p, port, log)
    assert re.search(rf"WARN .*{re.escape(conf.path)}:2: ignoring unrecognized logopts word "
                     r"'sparkle'", read_text(log)), read_text(log)
    assert " ERROR " not in read_text(log)


@pytest.mark.parametrize("kind", BOTH)
def test_backslash_newline_continues_a_configuration_line(kind, procs, tmp_path):
    conf = Conf(procs, tmp_path, [f'server logdir="{tmp_path}"',
                                  'console name="split" \\', '   dev="/bin/cat"',
                                  'console name="after" dev="/bin/cat"'])
    port = free_port()
    p, log = conf.start(kind, port)
    started(p, port, log)
    r = conman(port, "-q")
    assert sorted(r.stdout.decode().split()) == ["after", "split"], read_text(log)


@pytest.mark.parametrize("kind", BOTH)
def test_percent_n_in_a_unix_and_a_process_dev_is_the_name(kind, procs, tmp_path):
    sock_path = tmp_path / "u1.sock"
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(str(sock_path))
    srv.listen(2)
    try:
        conf = Conf(procs, tmp_path, [f'server logdir="{tmp_path}"', 'global log="console.%N"',
                                      f'console name="u1" dev="unix:{tmp_path}/%N.sock"',
                                      'console name="p1" dev="/bin/echo hello-%N"'])
        port = free_port()
        p, log = conf.start(kind, port)
        started(p, port, log)
        srv.settimeout(10)
        conn, _ = srv.accept()  # the daemon connected to u1.sock
        conn.close()
        wait_for(lambda: "hello-p1" in read_text(tmp_path / "console.p1"), what="%N in the argument")
    finally:
        srv.close()


def ipmi_conf(procs, tmp_path, sim, global_line, console_opts):
    user = read_text(sim.user_file).splitlines()[0]
    hexpw = read_text(sim.password_file).splitlines()[0].encode().hex()
    bmc = sim.bmcs[0]
    opts = console_opts.format(user=user, hexpw=hexpw)
    return bmc, Conf(procs, tmp_path, [
        f'server logdir="{tmp_path}"', 'global log="console.%N"', global_line,
        f'console name="{bmc.name}" dev="ipmi:{bmc.address}" ipmiopts="{opts}"'])


def test_ipmi_workaround_names_of_0_2_9_reach_the_library(procs, tmp_path):
    sim = BmcSim.start(procs, tmp_path, count=1, rate=5)
    # ipmi_sim needs these; solchannelsupport is 0x08000000 by its 0.2.9 name.
    bmc, conf = ipmi_conf(procs, tmp_path, sim,
                          'global ipmiopts="W:opensesspriv,W:solpayloadsize,W:solchannelsupport"',
                          "U:{user},P:0x{hexpw},C:,L:")
    port = free_port()
    p, log = conf.start("ours", port)
    started(p, port, log)
    wait_for(lambda: f"Console [{bmc.name}] connected to <{bmc.address}>"
             in read_text(f"{tmp_path}/console.{bmc.name}"), timeout=30, what="the IPMI session")


@pytest.mark.parametrize("kind", BOTH)
def test_ipmi_older_user_password_form_connects(kind, procs, tmp_path):
    sim = BmcSim.start(procs, tmp_path, count=1, rate=5)
    bmc, conf = ipmi_conf(procs, tmp_path, sim,
                          'global ipmiopts="W:opensesspriv,W:solpayloadsize,W:0x08000000"',
                          "{user},0x{hexpw}")
    port = free_port()
    p, log = conf.start(kind, port)
    started(p, port, log)
    wait_for(lambda: f"Console [{bmc.name}] connected to <{bmc.address}>"
             in read_text(f"{tmp_path}/console.{bmc.name}"), timeout=30, what="the IPMI session")


def test_bad_ipmiopts_name_the_console_and_line_never_the_secret(procs, tmp_path):
    conf = Conf(procs, tmp_path, [
        f'server logdir="{tmp_path}"', 'console name="ok" dev="/bin/cat"',
        'console name="b1" dev="ipmi:127.0.0.1" ipmiopts="U:admin,P:topsecret-topsecret-x"',
        'console name="b2" dev="ipmi:127.0.0.2" ipmiopts="W:nosuchflag"'])
    port = free_port()
    p, log = conf.start("ours", port)
    started(p, port, log)
    out = read_text(log)
    assert f"{conf.path}:3: console [b1]: ipmiopts: P: longer than 20 bytes" in out, out
    assert f'{conf.path}:4: console [b2]: ipmiopts: W: unknown workaround "nosuchflag"' in out
    assert "topsecret" not in out


def test_too_few_open_files_for_the_consoles_is_a_warning_naming_nofile(procs, tmp_path):
    # nofile=0 (the default since 0.2.8) keeps a soft limit of 64 that 100
    # consoles cannot fit in: the operator is told before consoles fail.
    lines = [f'server logdir="{tmp_path}"']
    lines += [f'console name="c{i}" dev="unix:{tmp_path}/none/c{i}.sock"' for i in range(100)]
    conf = Conf(procs, tmp_path, lines)
    port = free_port()
    p, log = conf.start("ours", port, preexec_fn=soft_limit(64))
    started(p, port, log)
    wait_for(lambda: "100 consoles need about 420 open files but the limit is 64" in read_text(log),
             what="the open-file warning")
    assert "nofile=-1" in read_text(log)
