"""Our conmand as a daemon: command line, config errors, restarts with
backoff, slow clients, failing log disk. Where Debian's conmand behaves
differently the test runs against both and the Debian run is a strict
xfail naming the difference."""
import os
import signal
import socket
import subprocess
import time

import pytest

from e2e_helpers import (alive, argv_of, binary, differs_from_debian, finalize_daemons, free_port,
                         processes, wait_for)
from conmand_util import Daemon, echo_dev


def test_version_names_conman_service():
    r = subprocess.run([binary("conmand"), "-V"], capture_output=True, timeout=5)
    assert r.returncode == 0
    assert b"conmand (conman-service)" in r.stdout


def test_help_lists_conmands_options():
    r = subprocess.run([binary("conmand"), "-h"], capture_output=True, timeout=5)
    assert r.returncode == 0
    for opt in (b"-c FILE", b"-F", b"-k", b"-p PORT", b"-q", b"-r", b"-v", b"-V", b"-z"):
        assert opt in r.stdout


def test_missing_config_file_is_an_error_naming_it(tmp_path):
    path = str(tmp_path / "nope.conf")
    r = subprocess.run([binary("conmand"), "-F", "-c", path], capture_output=True, timeout=5)
    assert r.returncode == 1
    assert path.encode() in r.stderr


def test_bad_config_lines_are_logged_with_file_and_line_and_skipped(procs, tmp_path):
    dev = echo_dev(tmp_path)
    d = Daemon("ours", procs, tmp_path, [
        f'console name="good" dev="{dev}"',
        "bogus words here",
        f'console name="odd" dev="{dev}" colour="red"',
        'console name="nodev"',
        f'console name="fine" dev="{dev}"']).start()
    out = d.output()
    # server lines are 1-4 in Daemon's file, consoles follow.
    assert f"{d.conf}:6: unrecognized token 'bogus'" in out
    assert f"{d.conf}:7: unrecognized CONSOLE keyword 'colour'" in out
    assert f"{d.conf}:8: CONSOLE 'nodev' without a dev" in out
    assert d.run("-q").stdout.decode().split() == ["fine", "good"]


def test_kill_option_stops_the_daemon_named_by_the_pidfile(procs, tmp_path):
    d = Daemon("ours", procs, tmp_path, [f'console name="a" dev="{echo_dev(tmp_path)}"']).start()
    q = subprocess.run([binary("conmand"), "-q", "-c", d.conf], capture_output=True, timeout=5)
    assert q.returncode == 0 and q.stdout.decode().strip() == str(d.proc.pid)
    r = subprocess.run([binary("conmand"), "-k", "-c", d.conf], capture_output=True, timeout=15)
    assert r.returncode == 0, r.stderr
    assert d.proc.wait(timeout=10) == 0
    assert not os.path.exists(d.pidfile)
    q = subprocess.run([binary("conmand"), "-q", "-c", d.conf], capture_output=True, timeout=5)
    assert q.returncode == 1 and d.pidfile.encode() in q.stderr


def test_reconfigure_option_reopens_the_logs(procs, tmp_path):
    d = Daemon("ours", procs, tmp_path, [f'console name="a" dev="{echo_dev(tmp_path)}"'],
               global_extra='global log="console.%N"').start()
    path = os.path.join(d.dir, "console.a")
    wait_for(lambda: os.path.exists(path), what="console.a")
    os.rename(path, path + ".old")
    r = subprocess.run([binary("conmand"), "-r", "-c", d.conf], capture_output=True, timeout=15)
    assert r.returncode == 0, r.stderr
    wait_for(lambda: os.path.exists(path), what="console.a reopened after -r")


def pids_running_conf(conf):
    """PIDs of live processes whose command line names `conf` (a detached
    conmand is no child of ours: procs cannot stop it)."""
    return [p.pid for p in processes() if p.state != "Z" and conf.encode() in argv_of(p)]


def test_daemon_mode_detaches_and_writes_the_pidfile(procs, tmp_path, request):
    d = Daemon("ours", procs, tmp_path, [f'console name="a" dev="{echo_dev(tmp_path)}"'])
    finalize_daemons(request, d.conf, [d.pidfile])
    r = subprocess.run([binary("conmand"), "-c", d.conf, "-p", str(d.port)],
                       capture_output=True, timeout=15)
    assert r.returncode == 0, r.stderr
    wait_for(lambda: os.path.exists(d.pidfile), what="pidfile of the detached daemon")
    pid = int(open(d.pidfile).read())
    assert pid in pids_running_conf(d.conf)
    wait_for(lambda: d.run("-q").returncode == 0, what="detached daemon to answer")
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not os.path.exists(d.pidfile), what="detached daemon to stop")
    wait_for(lambda: not pids_running_conf(d.conf), what="detached daemon to exit")


def test_two_daemons_started_together_on_one_configuration_never_both_run(procs, tmp_path):
    # Each checks the lock again once it holds its own: two that both found
    # the file free (a long file to parse keeps that window open) cannot
    # both go on. At most one runs; a refusal names the file.
    consoles = [f'console name="c{i}" dev="unix:{tmp_path}/s{i}.sock"' for i in range(20000)]
    d = Daemon("ours", procs, tmp_path, consoles)
    outs = [str(tmp_path / f"{n}.out") for n in ("a", "b")]
    ports = [free_port(), free_port()]
    daemons = [procs.start([binary("conmand"), "-F", "-c", d.conf, "-p", str(port)],
                           log_path=out) for out, port in zip(outs, ports)]

    def listening(port):
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0
    # Each has parsed the file and then refused (exited) or gone on (listens).
    wait_for(lambda: all(p.poll() is not None or listening(port)
                         for p, port in zip(daemons, ports)), timeout=60,
             what="both daemons to refuse or listen")
    running = [p for p in daemons if p.poll() is None]
    assert len(running) <= 1, [open(o).read()[-500:] for o in outs]
    for p, out in zip(daemons, outs):
        if p.poll() is not None:
            assert p.returncode == 1
            assert f'Configuration "{d.conf}" in use by pid' in open(out).read()


@pytest.mark.parametrize("kind", ["ours", "debian"])
def test_plain_cat_console_gets_a_blocking_stdin_and_echoes(kind, procs, tmp_path, request):
    differs_from_debian(request, kind, "conman 0.2.7 gives the child a non-blocking stdin: "
                        "cat dies with EAGAIN")
    d = Daemon(kind, procs, tmp_path, ['console name="cat" dev="/bin/cat"']).start()
    c = d.client("-j", "cat")
    try:
        c.expect("opened")
        time.sleep(0.5)
        c.send("plain-cat\r")
        c.expect("plain-cat", timeout=5)
        c.send("second-line\r")
        c.expect("second-line", timeout=5)
    finally:
        c.close()


def assert_backoff_gaps(times, what):
    """Gaps between attempts are 1 s, 2 s, 4 s, each plus up to 25% jitter
    (and a little scheduling slack); a retry stuck at one step fails."""
    gaps = [b - a for a, b in zip(times, times[1:])]
    for i, gap in enumerate(gaps[:3]):
        base = 2.0 ** i
        assert base - 0.1 <= gap <= base * 1.25 + 0.6, f"{what}: gaps {gaps}"


def test_exiting_process_console_is_restarted_with_backoff(procs, tmp_path):
    starts = tmp_path / "starts"
    dev = f"/bin/sh -c 'date +%s.%N >> {starts}; echo started; exit 3'"
    d = Daemon("ours", procs, tmp_path, [f'console name="flaky" dev="{dev}"'],
               global_extra='global log="console.%N"').start()
    # Attempts at 0, 1, 3, 7 s (+ up to 25% jitter on each gap): 4 by ~9 s.
    wait_for(lambda: starts.exists() and len(starts.read_text().split()) >= 4, timeout=15,
             what="four starts of the flaky console")
    assert_backoff_gaps([float(t) for t in starts.read_text().split()], "process restarts")
    assert "Console [flaky] reconnect in" in d.output()


def test_dropped_telnet_console_reconnects_with_growing_backoff(procs, tmp_path):
    # A server that accepts and closes at once: every attempt connects, so
    # the times it accepted at are the daemon's attempts.
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    lsock.settimeout(0.2)
    port = lsock.getsockname()[1]
    accepted = []
    try:
        Daemon("ours", procs, tmp_path, [f'console name="drops" dev="127.0.0.1:{port}"']).start()
        deadline = time.monotonic() + 15
        while len(accepted) < 4 and time.monotonic() < deadline:
            try:
                conn, _ = lsock.accept()
            except socket.timeout:
                continue
            accepted.append(time.monotonic())
            conn.close()
    finally:
        lsock.close()
    assert len(accepted) >= 4, f"attempts at {accepted}"
    assert_backoff_gaps(accepted, "telnet reconnects")


def test_stuck_client_loses_output_but_never_stalls_the_console(procs, tmp_path):
    go = tmp_path / "go"
    dev = (f"/bin/sh -c 'while [ ! -e {go} ]; do sleep 0.1; done; yes x | head -c 4000000; "
           "echo FLOOD-DONE; while :; do echo tick; sleep 0.3; done'")
    d = Daemon("ours", procs, tmp_path, [f'console name="flood" dev="{dev}"']).start(wait=False)
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    wait_for(lambda: os.path.exists(d.pidfile), what="daemon start")
    wait_for(lambda: stuck.connect_ex(("127.0.0.1", d.port)) == 0, what="listener")
    try:
        stuck.sendall(b"HELLO USER='stuck'\nMONITOR CONSOLE='flood'\n")
        m = d.client("-m", "flood")
        try:
            m.expect("opened")
            go.write_text("")
            # The console never waited for the stuck client: the live monitor
            # gets the output that follows the flood.
            m.expect("FLOOD-DONE", timeout=60)
            m.expect("tick", timeout=10)
        finally:
            m.close()
        # Now drain the stuck client: it was told what it lost.
        stuck.settimeout(0.5)
        got = b""
        deadline = time.monotonic() + 20
        while b"client too slow" not in got and time.monotonic() < deadline:
            try:
                chunk = stuck.recv(1 << 20)
            except socket.timeout:
                continue
            if not chunk:
                break
            got = (got + chunk)[-4096:]
        assert b"<ConMan> Dropped " in got and b"client too slow" in got
    finally:
        stuck.close()


def test_failing_log_disk_is_reported_once_and_the_console_keeps_working(procs, tmp_path):
    d = Daemon("ours", procs, tmp_path,
               [f'console name="full" dev="{echo_dev(tmp_path)}" log="/dev/full" '
                'logopts="nolock"']).start()
    c = d.client("-j", "full")
    try:
        c.expect("opened")
        for i in range(3):
            c.send(f"line-{i}\r")
            c.expect(f"line-{i}")
    finally:
        c.close()
    out = d.output()
    assert out.count('cannot write log "/dev/full"') == 1
    assert "No space left on device" in out
    assert d.proc.poll() is None


@pytest.mark.parametrize("kind", ["ours", "debian"])
def test_sighup_reopens_a_log_that_logrotate_replaced_with_a_new_file(kind, procs, tmp_path):
    # logrotate's "create": rename, then a new empty file at the path, then
    # SIGHUP. Output first, so the log's descriptor is open throughout: only
    # a reopen that sees another file at the path moves what follows there.
    d = Daemon(kind, procs, tmp_path, [f'console name="rot" dev="{echo_dev(tmp_path)}"'],
               global_extra='global log="console.%N"').start()
    path = os.path.join(d.dir, "console.rot")
    c = d.client("-j", "rot")
    try:
        c.expect("opened")
        c.send("before-rotate\r")
        wait_for(lambda: b"before-rotate" in d.log("rot"), what="output in the log")
        os.rename(path, path + ".1")
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: b"log opened at" in d.log("rot"), what="console.rot reopened on SIGHUP")
        c.send("after-rotate\r")
        wait_for(lambda: b"after-rotate" in d.log("rot"), what="new output in the new log")
    finally:
        c.close()
    with open(path + ".1", "rb") as f:
        old = f.read()
    assert b"before-rotate" in old and b"after-rotate" not in old


def test_server_logfile_is_relative_to_logdir_and_filters_by_priority(procs, tmp_path):
    dev = echo_dev(tmp_path)
    d = Daemon("ours", procs, tmp_path, [f'console name="a" dev="{dev}"',
                                        'console name="bad" dev="127.0.0.1:1"'],
               server_extra='server logfile="server.log,warning"').start()
    path = tmp_path / "server.log"
    wait_for(lambda: path.exists() and "Console [bad]" in path.read_text(),
             what="the warning about console bad in server.log")
    text = path.read_text()
    assert " WARN " in text and " INFO " not in text
    os.rename(path, str(path) + ".1")
    d.proc.send_signal(signal.SIGHUP)
    wait_for(path.exists, what="server.log reopened on SIGHUP")


def test_sigterm_stops_promptly_with_a_stuck_client_attached(procs, tmp_path):
    dev = "/bin/sh -c 'yes flood-line-of-output'"
    d = Daemon("ours", procs, tmp_path, [f'console name="flood" dev="{dev}"']).start()
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(("127.0.0.1", d.port))
    try:
        stuck.sendall(b"HELLO USER='stuck'\nMONITOR CONSOLE='flood'\n")
        time.sleep(1.0)  # its socket and our queue for it are full by now
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(timeout=10) == 0
    finally:
        stuck.close()


def test_sigterm_stops_console_children_that_ignore_hangup_or_term(procs, tmp_path, request):
    # The pty's hangup alone would stop a plain child: these two ignore it
    # (and the second SIGTERM too), so only the daemon's kills stop them.
    script = tmp_path / "stubborn.sh"
    script.write_text('trap "" $(echo $2 | tr , " ")\necho $$ > "$1"\nwhile :; do sleep 0.2; done\n')

    def dev(name, traps):
        return f"/bin/sh {script} {tmp_path}/{name}.pid {traps}"
    d = Daemon("ours", procs, tmp_path, [f'console name="nohup" dev="{dev("nohup", "HUP")}"',
                                        f'console name="noterm" dev="{dev("noterm", "HUP,TERM")}"']
               ).start()
    # They are in sessions of their own: procs does not reach them.
    finalize_daemons(request, str(script), [tmp_path / f"{n}.pid" for n in ("nohup", "noterm")],
                     grace=0)
    pids = []
    for name in ("nohup", "noterm"):
        path = tmp_path / f"{name}.pid"
        wait_for(lambda: path.exists() and path.read_text().strip(), what=f"{name}'s pid")
        pids.append(int(path.read_text()))
    stopped_at = time.monotonic()
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(timeout=10) == 0
    wait_for(lambda: not any(alive(p) for p in pids), timeout=10, what=f"console children {pids} to exit")
    assert time.monotonic() - stopped_at < 5
