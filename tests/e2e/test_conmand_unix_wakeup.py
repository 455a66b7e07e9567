"""Unix-socket consoles connect as soon as their socket appears (issue 20,
item 7): the folder is watched with inotify while a console waits, so a
VM's first lines after its console socket is bound reach the log within a
second, not after a reconnect backoff of up to a minute. One watch per
folder, whatever the number of consoles waiting in it. Debian's 0.2.7
watches the socket's folder the same way (since 0.2.2), so the cases it
shares run against it too; with the socket renamed into place, since
0.2.7 may try it between bind() and listen(), fail, and fall back to its
backoff (conman 0.3.0 fixed slow inotify connects, upstream #28/#29): ours
retries shortly after a wake-up for that."""
import os
import re
import socket
import threading
import time

import pytest

from e2e_helpers import wait_for
from conmand_util import Daemon


class LateServer:
    """A console server that binds its socket when asked and sends a line
    to the first connection at once (what a booting VM prints)."""

    def __init__(self, path, line):
        self.path = path
        self.line = line
        self.sock = None
        self.conns = []
        self.bound_at = None
        self.thread = None

    def bind(self, how="bind"):
        """`bind`: bound at its name, as a VM's console server does (the
        name exists a moment before it listens); `rename`: bound and
        listening under another name, then renamed into place."""
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.bound_at = time.monotonic()
        if how == "rename":
            tmp = self.path + ".tmp"
            self.sock.bind(tmp)
            self.sock.listen(4)
            os.rename(tmp, self.path)
        else:
            self.sock.bind(self.path)
            self.sock.listen(4)
        self.sock.settimeout(10)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        self.conns.append(conn)
        conn.sendall(self.line)

    def close(self, unlink=True):
        for c in self.conns:
            c.close()
        self.conns = []
        if self.sock:
            self.sock.close()
            self.sock = None
        if self.thread:
            self.thread.join(timeout=5)
        if unlink and os.path.exists(self.path):
            os.unlink(self.path)


def reconnect_waits(d, name):
    """The backoff waits (ms) the daemon has logged for console `name`."""
    return [int(m) for m in re.findall(rf"Console \[{re.escape(name)}\] reconnect in (\d+) ms",
                                       d.output())]


def arrives_within(d, name, needle, seconds, since):
    deadline = since + seconds
    while time.monotonic() < deadline:
        try:
            if needle in d.log(name):
                return time.monotonic() - since
        except FileNotFoundError:
            pass
        time.sleep(0.02)
    pytest.fail(f"{needle!r} not in console.{name} within {seconds}s of bind: "
                f"{d.output()[-2000:]}")


def wait_for_grown_backoff(d, name, ms, since=0):
    """Until the daemon's next attempt for `name` is more than `ms` away:
    ours logs its waits (-v); Debian's does not, so its runs wait as long
    as our backoff takes to get there."""
    if d.kind == "debian":
        time.sleep({3500: 5, 8000: 10}[ms])
        return
    wait_for(lambda: any(w > ms for w in reconnect_waits(d, name)[since:]), timeout=40,
             what=f"a reconnect backoff over {ms} ms")


def inotify_watches(pid, folder=None):
    """Watches held by the process's inotify instances (from fdinfo); with
    `folder`, only those on it (conmand also watches its log folders)."""
    ino = f" ino:{os.stat(folder).st_ino:x} " if folder else " "
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:inotify":
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                n += sum(1 for l in f if l.startswith("inotify wd:") and ino in l)
        except OSError:
            continue
    return n


@pytest.mark.parametrize("kind,how", [("ours", "bind"), ("ours", "rename"), ("debian", "rename")])
def test_socket_bound_after_the_backoff_grew_is_connected_within_a_second(kind, how, procs,
                                                                          tmp_path):
    path = str(tmp_path / "vm1.sock")
    d = Daemon(kind, procs, tmp_path, [f'console name="vm1" dev="unix:{path}"'],
               global_extra='global log="console.%N"').start()
    # Several failed attempts first: the next one is more than 8 s away.
    wait_for_grown_backoff(d, "vm1", 8000)
    srv = LateServer(path, b"first boot line\r\n")
    try:
        srv.bind(how)
        arrives_within(d, "vm1", b"first boot line", 1.0, srv.bound_at)
        assert b"Console [vm1] connected" in d.log("vm1")
    finally:
        srv.close()


@pytest.mark.parametrize("kind,how", [("ours", "bind"), ("ours", "rename"), ("debian", "rename")])
def test_socket_deleted_and_created_again_reconnects_at_once(kind, how, procs, tmp_path):
    path = str(tmp_path / "vm2.sock")
    srv = LateServer(path, b"boot one\r\n")
    srv.bind()
    d = Daemon(kind, procs, tmp_path, [f'console name="vm2" dev="unix:{path}"'],
               global_extra='global log="console.%N"').start()
    try:
        wait_for(lambda: b"boot one" in d.log("vm2"), what="the first boot's line")
        before = len(reconnect_waits(d, "vm2"))
        srv.close()  # the VM stops: connection closed, socket removed
        # Let it fail a few times: the next attempt is seconds away.
        wait_for_grown_backoff(d, "vm2", 3500, since=before)
        srv = LateServer(path, b"boot two\r\n")
        srv.bind(how)
        arrives_within(d, "vm2", b"boot two", 1.0, srv.bound_at)
    finally:
        srv.close()


def test_socket_in_a_folder_created_later_is_connected_within_a_second(procs, tmp_path):
    # Ours only: conman watches the socket's folder and cannot watch one
    # that does not exist yet; ours waits on its nearest existing parent.
    path = str(tmp_path / "vms" / "n3" / "console.sock")
    d = Daemon("ours", procs, tmp_path, [f'console name="n3" dev="unix:{path}"'],
               global_extra='global log="console.%N"').start()
    wait_for(lambda: len(reconnect_waits(d, "n3")) >= 3, timeout=20, what="failed attempts")
    os.makedirs(os.path.dirname(path))
    srv = LateServer(path, b"n3 boots\r\n")
    try:
        srv.bind()
        arrives_within(d, "n3", b"n3 boots", 1.0, srv.bound_at)
    finally:
        srv.close()


def test_socket_folder_removed_and_made_again_is_still_watched(procs, tmp_path):
    # Ours only, as above: the watch follows the folder away and back.
    folder = tmp_path / "vm4"
    folder.mkdir()
    path = str(folder / "console.sock")
    d = Daemon("ours", procs, tmp_path, [f'console name="vm4" dev="unix:{path}"'],
               global_extra='global log="console.%N"').start()
    wait_for_grown_backoff(d, "vm4", 3500)
    folder.rmdir()
    time.sleep(0.5)
    folder.mkdir()
    time.sleep(0.5)
    srv = LateServer(path, b"vm4 boots\r\n")
    try:
        srv.bind()
        arrives_within(d, "vm4", b"vm4 boots", 1.0, srv.bound_at)
    finally:
        srv.close()


def test_many_consoles_in_one_folder_share_one_watch_dropped_when_all_connect(procs, tmp_path):
    # Ours only: conman keeps its watches for the daemon's life.
    n = 300
    folder = tmp_path / "sockets"
    folder.mkdir()
    consoles = [f'console name="c{i}" dev="unix:{folder}/c{i}.sock"' for i in range(n)]
    d = Daemon("ours", procs, tmp_path, consoles, global_extra='global log="console.%N"')
    d.start()
    wait_for(lambda: all(reconnect_waits(d, f"c{i}") for i in (0, n // 2, n - 1)),
             what="every console waiting")
    assert inotify_watches(d.proc.pid, folder) == 1
    servers = [LateServer(str(folder / f"c{i}.sock"), f"hello c{i}\r\n".encode())
               for i in range(n)]
    try:
        start = time.monotonic()
        for s in servers:
            s.bind()
        for i in range(n):
            wait_for(lambda: b"hello c%d" % i in d.log(f"c{i}"), timeout=10,
                     what=f"console c{i}'s first line")
        elapsed = time.monotonic() - start
        assert elapsed < 5, elapsed
        wait_for(lambda: inotify_watches(d.proc.pid, folder) == 0,
                 what="the watch to be dropped")
        assert d.run("-q").returncode == 0
    finally:
        for s in servers:
            s.close()
