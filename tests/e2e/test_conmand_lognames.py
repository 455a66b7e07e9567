"""Log names with conman 0.3.1's conversion specifiers (issue 20, item 6):
expanded each time a log is opened, at start and on SIGHUP, so a name with
a time in it rolls to a new file; %N and %D sanitized; intermediate
directories created; one name for several consoles refused naming the
line. Debian's 0.2.7 knows %N %D %P %Y %y %m %d %H %M %S %s %%, so the
cases using only those run against it too."""
import glob
import os
import signal
import time

import pytest

from e2e_helpers import differs_from_debian, wait_for
from conmand_util import Daemon, echo_dev

BOTH = pytest.mark.parametrize("kind", ["ours", "debian"])


def read(path):
    with open(path, "rb") as f:
        return f.read()


def files(d, pattern):
    return sorted(glob.glob(os.path.join(d.dir, pattern)))


def next_second():
    """Sleeps into the next wall-clock second (a %s name changes then)."""
    now = time.time()
    time.sleep(1.05 - (now - int(now)))


@BOTH
def test_log_named_by_the_second_rolls_on_hup(kind, procs, tmp_path):
    dev = echo_dev(tmp_path)
    d = Daemon(kind, procs, tmp_path, [f'console name="dated" dev="{dev}"'],
               global_extra='global log="%N.%s.log"').start()
    first = wait_for(lambda: files(d, "dated.*.log"), what="the first dated log")
    assert len(first) == 1
    c = d.client("-j", "dated")
    try:
        c.expect("opened")
        c.send("before-roll\r")
        c.expect("before-roll")
        wait_for(lambda: b"before-roll" in read(first[0]), what="output in the first log")
        next_second()
        d.proc.send_signal(signal.SIGHUP)
        both = wait_for(lambda: len(files(d, "dated.*.log")) == 2 and files(d, "dated.*.log"),
                        what="a second log named by the later second")
        second = [p for p in both if p != first[0]][0]
        stamp = int(os.path.basename(second).split(".")[1])
        assert abs(stamp - time.time()) < 30
        wait_for(lambda: b"log opened" in read(second), what="the new log's header")
        c.send("after-roll\r")
        c.expect("after-roll")
        wait_for(lambda: b"after-roll" in read(second), what="output in the new log")
        assert b"after-roll" not in read(first[0])
        assert b"disconnected" not in c.buf
    finally:
        c.close()


@BOTH
def test_hup_leaves_a_log_whose_name_did_not_change_open_and_its_client_joined(
        kind, procs, tmp_path, request):
    differs_from_debian(request, kind, "conman reopens every log on SIGHUP, with a new header")
    dev = echo_dev(tmp_path)
    d = Daemon(kind, procs, tmp_path, [f'console name="dated" dev="{dev}" log="%N.%s.log"',
                                      f'console name="steady" dev="{dev}" log="steady.log"'])
    d.start()
    steady = os.path.join(d.dir, "steady.log")
    wait_for(lambda: os.path.exists(steady) and files(d, "dated.*.log"), what="both logs")
    inode = os.stat(steady).st_ino
    c = d.client("-j", "steady")
    try:
        c.expect("opened")
        next_second()
        d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: len(files(d, "dated.*.log")) == 2, what="the dated log to roll")
        c.send("still-here\r")
        c.expect("still-here")
        wait_for(lambda: b"still-here" in read(steady), what="steady's log to go on")
        assert os.stat(steady).st_ino == inode
        assert read(steady).count(b"log opened") == 1
        assert b"disconnected" not in c.buf and b"reconnect" not in c.buf
    finally:
        c.close()


@BOTH
def test_slash_and_blanks_in_a_console_name_become_underscores_in_its_log(kind, procs,
                                                                          tmp_path):
    dev = echo_dev(tmp_path)
    d = Daemon(kind, procs, tmp_path, [f'console name="rack1/node 1" dev="{dev}"'],
               global_extra='global log="console.%N"').start()
    wait_for(lambda: os.path.exists(os.path.join(d.dir, "console.rack1_node_1")),
             what="the sanitized log name")
    assert not os.path.exists(os.path.join(d.dir, "console.rack1"))
    assert d.run("-q").stdout.decode().splitlines() == ["rack1/node 1"]


@BOTH
def test_dev_specifier_is_the_socket_basename_host_port_or_empty(kind, procs, tmp_path):
    dev = echo_dev(tmp_path)
    d = Daemon(kind, procs, tmp_path, [
        f'console name="u" dev="unix:{tmp_path}/vm1.sock" log="u-%D.log"',
        'console name="t" dev="127.0.0.1:1" log="t-%D.log"',
        f'console name="p" dev="{dev}" log="p-%D.log"'])
    d.start()
    for name in ("u-vm1.sock.log", "t-127.0.0.1:1.log", "p-.log"):
        wait_for(lambda: os.path.exists(os.path.join(d.dir, name)), what=name)


@BOTH
def test_time_specifiers_make_subdirectories_that_are_created(kind, procs, tmp_path):
    dev = echo_dev(tmp_path)
    d = Daemon(kind, procs, tmp_path, [f'console name="sub" dev="{dev}"'],
               global_extra='global log="%Y/%m/%d/console.%N-%P"').start()
    day = time.strftime("%Y/%m/%d")
    path = os.path.join(d.dir, day, f"console.sub-{d.proc.pid}")
    wait_for(lambda: os.path.exists(path), what=path)
    for part in (day[:4], day[:7], day):
        mode = os.stat(os.path.join(d.dir, part)).st_mode & 0o777
        assert mode == 0o755, (part, oct(mode))
    wait_for(lambda: b"log opened" in read(path), what="the header")


@BOTH
def test_global_log_without_N_or_D_is_refused_naming_its_line(kind, procs, tmp_path):
    dev = echo_dev(tmp_path)
    d = Daemon(kind, procs, tmp_path, [f'console name="a" dev="{dev}"',
                                      f'console name="b" dev="{dev}"'],
               global_extra='global log="all-consoles.log"').start()
    wait_for(lambda: f"{d.conf}:5" in d.output(), what="the error naming line 5")
    assert "%N" in d.output()
    time.sleep(0.5)
    assert not os.path.exists(os.path.join(d.dir, "all-consoles.log"))
    assert d.run("-q").stdout.decode().split() == ["a", "b"]


@BOTH
def test_second_console_on_the_same_log_is_refused_naming_its_line(kind, procs, tmp_path):
    dev = echo_dev(tmp_path)
    d = Daemon(kind, procs, tmp_path, [f'console name="a" dev="{dev}" log="same.log"',
                                      f'console name="b" dev="{dev}" log="same.log"'])
    d.start()
    wait_for(lambda: f"{d.conf}:6" in d.output(), what="the error naming line 6")
    assert "[a]" in d.output().split(f"{d.conf}:6")[1].split("\n")[0]
    same = os.path.join(d.dir, "same.log")
    wait_for(lambda: os.path.exists(same) and b"Console [a] log opened" in read(same),
             what="a's log")
    time.sleep(0.5)
    assert b"Console [b]" not in read(same)


def test_server_logfile_name_is_expanded_at_open_and_again_on_hup(procs, tmp_path):
    # Ours only: conman writes its logfile only when not in the foreground,
    # and these tests run daemons with -F. %N and %D name no console there:
    # kept as written, as conman's.
    dev = echo_dev(tmp_path)
    d = Daemon("ours", procs, tmp_path, [f'console name="a" dev="{dev}"'],
               server_extra='server logfile="srv/%Y/conmand-%N-%s.log"')
    d.start()
    year = time.strftime("%Y")
    first = wait_for(lambda: glob.glob(os.path.join(d.dir, "srv", year, "conmand-%N-*.log")),
                     what="the server log")
    assert len(first) == 1
    assert "Starting conmand" in read(first[0]).decode()
    next_second()
    d.proc.send_signal(signal.SIGHUP)
    both = wait_for(lambda: len(glob.glob(os.path.join(d.dir, "srv", year, "conmand-%N-*.log")))
                    == 2 and glob.glob(os.path.join(d.dir, "srv", year, "conmand-%N-*.log")),
                    what="a second server log")
    second = [p for p in both if p != first[0]][0]
    assert d.run("-q").returncode == 0
    wait_for(lambda: "issued query" in read(second).decode(), what="later lines in the new file")
