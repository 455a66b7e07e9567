"""conmand end to end with the stock Debian `conman` client, run against
our daemon and against Debian's conmand 0.2.7, so each test states conman's
real behaviour."""
import os
import re
import signal
import socket
import stat
import time

from e2e_helpers import alive, differs_from_debian, wait_for
from conmand_util import Daemon, daemon_path, echo_dev

DAEMONS = ["ours", "debian"]
TICKER = "/bin/sh -c 'while :; do echo tick; sleep 0.2; done'"


def echo_daemon(kind, procs, tmp_path, names=("alpha", "beta"), global_extra=None):
    dev = echo_dev(tmp_path)
    consoles = [f'console name="{n}" dev="{dev}"' for n in names]
    extra = global_extra if global_extra is not None else 'global log="console.%N"'
    return Daemon(kind, procs, tmp_path, consoles, global_extra=extra).start()


def test_query_lists_every_console_in_name_order(kind, procs, tmp_path):
    d = echo_daemon(kind, procs, tmp_path, names=("zeta", "alpha", "mid"))
    r = d.run("-q")
    assert r.returncode == 0
    assert r.stdout.decode().split() == ["alpha", "mid", "zeta"]


def test_regex_query_matches_whole_names_case_insensitively(kind, procs, tmp_path):
    d = echo_daemon(kind, procs, tmp_path, names=("alpha", "alphabet", "beta"))
    r = d.run("-q", "-r", "ALPHA")
    assert r.returncode == 0
    assert r.stdout.decode().split() == ["alpha"]
    r = d.run("-q", "-r", "al.*", "b.t.")
    assert r.stdout.decode().split() == ["alpha", "alphabet", "beta"]


def test_glob_query_selects_matching_names(kind, procs, tmp_path):
    d = echo_daemon(kind, procs, tmp_path, names=("node1", "node2", "other"))
    r = d.run("-q", "node*")
    assert r.stdout.decode().split() == ["node1", "node2"]


def test_query_without_match_exits_2_with_conman_message(kind, procs, tmp_path):
    d = echo_daemon(kind, procs, tmp_path)
    r = d.run("-q", "nosuch")
    assert r.returncode == 2
    assert b"Found no matching consoles" in r.stderr + r.stdout


def test_monitor_receives_console_output(kind, procs, tmp_path):
    d = Daemon(kind, procs, tmp_path, [f'console name="ticker" dev="{TICKER}"']).start()
    m = d.client("-m", "ticker")
    try:
        m.expect("Connection to console [ticker] opened")
        m.expect("tick")
        wait_for(lambda: m.pump(0.1) >= 0 and m.buf.count(b"tick") >= 3,
                 what="a stream of output lines")
    finally:
        m.close()


def test_join_echoes_input_from_a_process_console(kind, procs, tmp_path):
    d = echo_daemon(kind, procs, tmp_path)
    c = d.client("-j", "alpha")
    try:
        c.expect("Connection to console [alpha] opened")
        c.send("hello-world\r")
        c.expect("hello-world")
        c.send("&.")
        assert c.wait() == 0
        assert b"Connection to console [alpha] closed" in c.buf
    finally:
        c.close()


def test_plain_connect_to_a_console_in_use_is_refused_as_busy(kind, procs, tmp_path):
    d = echo_daemon(kind, procs, tmp_path)
    a = d.client("-j", "alpha")
    b = None
    try:
        a.expect("opened")
        b = d.client("alpha")
        rc = b.wait()
        assert rc != 0
        assert b"Found console already in use" in b.buf
        assert re.search(rb"Console \[alpha\] open R/W by <\w+@[\w.-]+> on pts/\d+ \(idle \d+s\)",
                         b.buf)
    finally:
        a.close()
        if b:
            b.close()


def test_force_steals_the_console_and_tells_the_previous_writer(kind, procs, tmp_path):
    d = echo_daemon(kind, procs, tmp_path)
    a = d.client("-j", "alpha")
    f = None
    try:
        a.expect("opened")
        f = d.client("-f", "alpha")
        f.expect("opened")
        f.expect(b"Console [alpha] stolen from <")
        a.expect(b"Console [alpha] stolen by <")
        a.expect(b"terminated by server")
        assert a.wait() is not None
        f.send("after-steal\r")
        f.expect("after-steal")
    finally:
        a.close()
        if f:
            f.close()


def test_join_tells_the_existing_writer_and_both_see_output(kind, procs, tmp_path):
    d = echo_daemon(kind, procs, tmp_path)
    a = d.client("-j", "alpha")
    j = None
    try:
        a.expect("opened")
        j = d.client("-j", "alpha")
        j.expect("opened")
        a.expect(b"Console [alpha] joined by <")
        j.send("from-joiner\r")
        a.expect("from-joiner")
        j.expect("from-joiner")
        j.send("&.")
        j.wait()
        a.expect(b"Console [alpha] departed by <")
    finally:
        a.close()
        if j:
            j.close()


def test_broadcast_writes_to_every_console(kind, procs, tmp_path):
    d = echo_daemon(kind, procs, tmp_path)
    ma, mb = d.client("-m", "alpha"), d.client("-m", "beta")
    b = None
    try:
        ma.expect("opened")
        mb.expect("opened")
        b = d.client("-b", "-j", "alpha", "beta")
        b.expect("Broadcast to 2 consoles opened")
        b.send("to-everyone\r")
        ma.expect("to-everyone")
        mb.expect("to-everyone")
    finally:
        for c in (ma, mb, b):
            if c:
                c.close()


def test_log_replay_shows_the_tail_of_the_log(kind, procs, tmp_path):
    d = echo_daemon(kind, procs, tmp_path)
    c = d.client("-j", "alpha")
    try:
        c.expect("opened")
        c.send("replay-me\r")
        c.expect("replay-me")
        wait_for(lambda: b"replay-me" in d.log("alpha"), what="log to hold the input")
        c.buf = b""
        c.send("&L")
        c.expect("End log replay of console [alpha].")
        body = c.buf.split(b"Begin log replay of console [alpha].")[1]
        assert b"replay-me" in body
        assert b"Console [alpha] log opened at" in body
    finally:
        c.close()


def test_log_files_are_created_0600_with_a_header_even_for_dead_consoles(kind, procs, tmp_path):
    dead_port = socket.socket()
    dead_port.bind(("127.0.0.1", 0))  # bound, never listening: connect is refused
    try:
        port = dead_port.getsockname()[1]
        d = Daemon(kind, procs, tmp_path, [f'console name="dead" dev="127.0.0.1:{port}"'],
                   global_extra='global log="console.%N"').start()
        path = os.path.join(d.dir, "console.dead")
        wait_for(lambda: os.path.exists(path) and os.path.getsize(path) > 0,
                 what="console.dead to be created")
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert re.match(rb"\r\n<ConMan> Console \[dead\] log opened at "
                        rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \w+\.\r\n", d.log("dead"))
    finally:
        dead_port.close()


def test_timestamp_logopts_prefix_each_line(kind, procs, tmp_path):
    dev = "/bin/sh -c 'echo first-line; echo second-line; exec sleep 100'"
    d = Daemon(kind, procs, tmp_path, [f'console name="ts" dev="{dev}"'],
               global_extra='global log="console.%N"\nglobal logopts="timestamp"').start()
    wait_for(lambda: b"second-line" in d.log("ts"), what="output in the log")
    log = d.log("ts")
    assert re.search(rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d first-line\r\n"
                     rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d second-line\r\n", log)


def test_empty_log_setting_disables_the_console_log(kind, procs, tmp_path):
    dev = echo_dev(tmp_path)
    d = Daemon(kind, procs, tmp_path,
               [f'console name="logged" dev="{dev}"', f'console name="quiet" dev="{dev}" log=""'],
               global_extra='global log="console.%N"').start()
    wait_for(lambda: os.path.exists(os.path.join(d.dir, "console.logged")),
             what="console.logged")
    assert not os.path.exists(os.path.join(d.dir, "console.quiet"))
    c = d.client("-j", "quiet")
    try:
        c.expect("opened")
        c.send("&L")
        c.expect("Console [quiet] is not being logged")
    finally:
        c.close()


def test_hup_reopens_logs_so_logrotate_works(kind, procs, tmp_path):
    d = echo_daemon(kind, procs, tmp_path, names=("alpha",))
    path = os.path.join(d.dir, "console.alpha")
    wait_for(lambda: os.path.exists(path), what="console.alpha")
    os.rename(path, path + ".1")
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: os.path.exists(path), what="console.alpha to be reopened")
    assert b"log opened at" in d.log("alpha")
    c = d.client("-j", "alpha")
    try:
        c.expect("opened")
        c.send("after-rotate\r")
        c.expect("after-rotate")
        wait_for(lambda: b"after-rotate" in d.log("alpha"), what="new output in the new log")
        with open(path + ".1", "rb") as f:
            assert b"after-rotate" not in f.read()
    finally:
        c.close()


def raw_exchange(port, data, timeout=3.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    out = b""
    try:
        s.sendall(data)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
    finally:
        s.close()
    return out


def test_garbage_requests_get_conman_errors_and_the_daemon_survives(kind, procs, tmp_path):
    d = echo_daemon(kind, procs, tmp_path)
    assert raw_exchange(d.port, b"QUERY\n") == \
        b"ERROR CODE=2 MESSAGE='Invalid greeting: no user specified'\n"
    assert raw_exchange(d.port, b"\x00\xff\xfe garbage\n").startswith(b"ERROR CODE=2 ")
    assert raw_exchange(d.port, b"HELLO USER='t'\nGARBAGE\n") == \
        b"OK\nERROR CODE=5 MESSAGE='Found no matching consoles'\n"
    assert raw_exchange(d.port, b"HELLO USER='t'\nQUERY OPTION=REGEX CONSOLE='['\n") == \
        b"OK\nERROR CODE=3 MESSAGE='Invalid regular expression'\n"
    r = raw_exchange(d.port, b"HELLO USER='t'\nMONITOR CONSOLE='alpha' CONSOLE='beta'\n")
    assert r == b"OK\nERROR CODE=6 MESSAGE='Found 2 matching consoles'\nalpha\nbeta\n"
    assert d.run("-q").stdout.decode().split() == ["alpha", "beta"]


def test_sigterm_removes_the_pidfile(kind, procs, tmp_path):
    d = echo_daemon(kind, procs, tmp_path)
    wait_for(lambda: os.path.exists(d.pidfile), what="pidfile")
    with open(d.pidfile) as f:
        assert int(f.read()) == d.proc.pid
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(timeout=10) == 0
    assert not os.path.exists(d.pidfile)


def test_sigterm_stops_the_daemon_and_its_console_children(kind, procs, tmp_path, request):
    differs_from_debian(request, kind, "conman 0.2.7 leaves process-console children running")
    pidfile = tmp_path / "child.pid"
    dev = f"/bin/sh -c 'echo $$ > {pidfile}; exec sleep 1000'"
    d = Daemon(kind, procs, tmp_path, [f'console name="kid" dev="{dev}"']).start()
    wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), what="child pid")
    child = int(pidfile.read_text())
    d.proc.send_signal(signal.SIGTERM)
    d.proc.wait(timeout=10)
    wait_for(lambda: not alive(child), timeout=10, what=f"console child {child} to exit")


def test_reset_escape_runs_resetcmd_and_tells_the_writers(kind, procs, tmp_path):
    marker = tmp_path / "alpha.reset"
    d = Daemon(kind, procs, tmp_path, [f'console name="alpha" dev="{echo_dev(tmp_path)}"'],
               server_extra=f'server resetcmd="touch {tmp_path}/%N.reset"',
               global_extra='global log="console.%N"').start()
    c = d.client("-j", "alpha")
    try:
        c.expect("opened")
        c.send("&R")
        c.expect(b"Console [alpha] reset by <")
        wait_for(marker.exists, what="resetcmd to run with %N expanded")
        # Ours writes logs in batches (within 200 ms): wait, don't race.
        wait_for(lambda: b"Console [alpha] reset by <" in d.log("alpha"), what="reset in the log")
    finally:
        c.close()


NOTICE_AT = rb" at \d\d-\d\d \d\d:\d\d\.\r\n"


def test_notices_keep_the_wording_of_0_2_7_with_the_time(kind, procs, tmp_path):
    # Log scrapers read these. We follow Debian's 0.2.7 (the stock client's
    # peer): " at MM-DD HH:MM" ends connect, disconnect and reset notices
    # too, where 0.3.1 dropped it (and says "reset by <u@h> (pid N)").
    d = Daemon(kind, procs, tmp_path,
               [f'console name="alpha" dev="{echo_dev(tmp_path)}"',
                'console name="blip" dev="/bin/sh -c \'sleep 1\'"'],
               server_extra=f'server resetcmd="touch {tmp_path}/%N.reset"',
               global_extra='global log="console.%N"').start()
    wait_for(lambda: b"disconnected from" in d.log("blip"), timeout=15, what="blip to exit")
    blip = d.log("blip")
    assert re.search(rb"<ConMan> Console \[blip\] connected to .+" + NOTICE_AT, blip), blip
    assert re.search(rb"<ConMan> Console \[blip\] disconnected from .+ after \d+s" + NOTICE_AT,
                     blip), blip
    a = d.client("-j", "alpha")
    b = None
    try:
        a.expect("opened")
        b = d.client("-j", "alpha")
        b.expect("opened")
        a.send("&R")
        a.expect(b"reset by <")
        b.send("&.")
        b.wait()
        who = rb"<[^@>]+@[^>]+>( on \S+)?"
        wait_for(lambda: b"departed by" in d.log("alpha"), what="the departure in the log")
        log = d.log("alpha")
        for what in (rb"joined by ", rb"reset by ", rb"departed by "):
            assert re.search(rb"<ConMan> Console \[alpha\] " + what + who + NOTICE_AT, log), \
                (what, log)
    finally:
        a.close()
        if b:
            b.close()


def test_quiet_escape_suppresses_info_messages(kind, procs, tmp_path):
    d = echo_daemon(kind, procs, tmp_path)
    a = d.client("-j", "alpha")
    j = None
    try:
        a.expect("opened")
        a.send("&Q")
        a.expect("Quiet-mode enabled -- info msgs will be suppressed.")
        j = d.client("-j", "alpha")
        j.expect("opened")
        j.send("from-joiner\r")
        a.expect("from-joiner")
        assert b"joined by" not in a.buf
    finally:
        a.close()
        if j:
            j.close()


def test_zero_option_truncates_logs_at_start(kind, procs, tmp_path):
    (tmp_path / "console.alpha").write_bytes(b"OLD-CONTENT\n")
    (tmp_path / "console.beta").write_bytes(b"OLD-CONTENT\n")
    dev = echo_dev(tmp_path)
    d = Daemon(kind, procs, tmp_path, [f'console name="alpha" dev="{dev}"'],
               global_extra='global log="console.%N"')
    argv = [daemon_path(kind), "-F", "-z", "-c", d.conf, "-p", str(d.port)]
    d.proc = procs.start(argv, log_path=d.out)
    wait_for(d.ready, what="daemon with -z")
    wait_for(lambda: b"log opened" in d.log("alpha"), what="the new header")
    assert b"OLD-CONTENT" not in d.log("alpha")
    assert (tmp_path / "console.beta").read_bytes() == b"OLD-CONTENT\n"


def test_timestamp_marks_are_written_every_interval_by_both_daemons(procs, tmp_path):
    # Both daemons at once: the mark comes at the next full minute (<= 60 s).
    daemons = []
    for kind in DAEMONS:
        sub = tmp_path / kind
        sub.mkdir()
        daemons.append(Daemon(kind, procs, sub, [f'console name="m" dev="{echo_dev(sub)}"'],
                              server_extra="server timestamp=1m",
                              global_extra='global log="console.%N"').start())
    for d in daemons:
        wait_for(lambda d=d: b"log at" in d.log("m"), timeout=75, interval=0.5,
                 what=f"{d.kind}'s timestamp mark")
        # Debian's timer may fire a moment early (hh:mm:59); ours waits for :00.
        seconds = "00" if d.kind == "ours" else r"\d\d"
        assert re.search(rb"\r\n<ConMan> Console \[m\] log at \d{4}-\d\d-\d\d \d\d:\d\d:"
                         + seconds.encode() + rb" \w+\.\r\n", d.log("m"))
