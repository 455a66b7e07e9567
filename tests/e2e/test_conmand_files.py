"""conmand and its folders and files: a missing folder of the server log, the
logdir or a console log is created (0755) or reported once and retried, never
a reason to exit; a log folder deleted while running comes back on SIGHUP and,
with ours, within seconds on its own; a symlink planted at a console log's path
is refused; process consoles inherit no descriptor of the daemon's; and every
file the daemon creates has the mode it should."""
import os
import re
import signal
import stat
import time

from bmcsim import IPMI_WORKAROUNDS, BmcSim, ConsoleSim
from e2e_helpers import read_text, wait_for, write_script
from conmand_util import Daemon

# A chatty process console: a numbered line every 0.1 s.
CHAT_SCRIPT = """#!/bin/sh
i=0
while :; do i=$((i+1)); echo "chat-line $i"; sleep 0.1; done
"""

# Lists its own descriptors (as inherited through exec) into its console,
# then exits: conmand runs it again after its reconnect backoff, so later
# runs inherit whatever the daemon holds open by then.
FDS_SCRIPT = """import os, sys
me = "/proc/self/fd"
names = os.listdir(me)  # the listing's own descriptor is among these
out = []
for fd in sorted(names, key=int):
    try:
        out.append("FD %s -> %s" % (fd, os.readlink(me + "/" + fd)))
    except OSError:
        out.append("FD %s -> (gone)" % fd)  # the listing's, closed by now
sys.stdout.write("FDS-BEGIN\\n" + "\\n".join(out) + "\\nFDS-END\\n")
sys.stdout.flush()
"""


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_missing_server_log_folder_is_survived_and_consoles_are_logged(kind, procs, tmp_path):
    # Debian's 0.2.7 does not open the server log under -F at all; ours creates
    # the folder. Neither may exit for it (configure_conman would restart it
    # forever).
    chat = write_script(tmp_path, "chat.sh", CHAT_SCRIPT)
    d = Daemon(kind, procs, tmp_path, [f'console name="c" dev="{chat}"'],
               server_extra=f'server logfile="{tmp_path}/nolog/sub/conman.log"',
               global_extra='global log="console.%N"').start()
    wait_for(lambda: "chat-line 3" in read_text(tmp_path / "console.c"), what="console output logged")
    assert d.proc.poll() is None
    if kind == "ours":
        assert mode(tmp_path / "nolog") == 0o755 and mode(tmp_path / "nolog" / "sub") == 0o755
        wait_for(lambda: "Starting conmand" in read_text(tmp_path / "nolog/sub/conman.log"),
                 what="the server log in its created folder")


def test_server_log_folder_that_cannot_be_created_is_reported_once_and_retried(procs, tmp_path):
    blocker = tmp_path / "blocker"  # a file where the folder must go: not even root can
    blocker.write_text("")
    logfile = tmp_path / "blocker" / "sub" / "conman.log"
    chat = write_script(tmp_path, "chat.sh", CHAT_SCRIPT)
    d = Daemon("ours", procs, tmp_path, [f'console name="c" dev="{chat}"'],
               server_extra=f'server logfile="{logfile}"',
               global_extra='global log="console.%N"').start()
    wait_for(lambda: "chat-line 3" in read_text(tmp_path / "console.c"), what="console output logged")
    time.sleep(4.5)  # two retry periods: still one report
    out = d.output()
    assert out.count("cannot open logfile") == 1, out
    assert "retrying" in out and str(logfile) in out
    assert "Starting conmand" in out  # messages went to stderr meanwhile
    blocker.unlink()
    t0 = time.monotonic()
    wait_for(lambda: "opened: logging there again" in read_text(logfile), timeout=6,
             what="the server log to open once its folder can be created")
    print(f"server log opened {time.monotonic() - t0:.2f}s after its folder became possible")
    assert mode(logfile) == 0o640 and mode(logfile.parent) == 0o755
    os.kill(d.proc.pid, signal.SIGHUP)
    wait_for(lambda: "SIGHUP" in read_text(logfile), what="later messages in the server log")
    assert d.proc.poll() is None


def test_console_log_folders_from_the_name_are_created(kind, procs, tmp_path):
    # Log names may hold '/' after expansion: one folder per console.
    chat = write_script(tmp_path, "chat.sh", CHAT_SCRIPT)
    d = Daemon(kind, procs, tmp_path,
               [f'console name="c{i}" dev="{chat}"' for i in range(3)],
               server_extra=f'server logdir="{tmp_path}/logdir/deep"',
               global_extra='global log="per/%N/out.log"').start()
    for i in range(3):
        path = tmp_path / "logdir" / "deep" / "per" / f"c{i}" / "out.log"
        wait_for(lambda: "chat-line 2" in read_text(path), what=f"{path} to be written")
        assert mode(path) == 0o600
        for folder in (path.parent, path.parent.parent, tmp_path / "logdir" / "deep"):
            assert mode(folder) == 0o755, folder
    assert d.proc.poll() is None


def test_console_log_folder_that_cannot_be_created_is_reported_once_then_used(procs, tmp_path):
    blocker = tmp_path / "blocked"
    blocker.write_text("")
    chat = write_script(tmp_path, "chat.sh", CHAT_SCRIPT)
    d = Daemon("ours", procs, tmp_path,
               [f'console name="c" log="blocked/sub/c.log" dev="{chat}"',
                f'console name="ok" dev="{chat}"'],
               global_extra='global log="%N.log"').start()
    wait_for(lambda: "chat-line 5" in read_text(tmp_path / "ok.log"), what="the other console logged")
    time.sleep(3)  # past a retry
    out = d.output()
    assert len(re.findall(r'cannot (open|write) log "[^"]*blocked/sub/c.log"', out)) == 1, out
    blocker.unlink()
    log = tmp_path / "blocked" / "sub" / "c.log"
    wait_for(lambda: "bytes lost" in read_text(log), timeout=8,
             what="the log to open once its folder can be created")
    text = read_text(log)
    assert text.index("log opened") < text.index("log resumed") < text.rindex("chat-line")
    assert mode(log) == 0o600 and mode(log.parent) == 0o755
    wait_for(lambda: "writable again" in d.output(), what="the recovery in the server log")
    assert d.proc.poll() is None


def test_log_folder_deleted_while_running_is_recreated_on_sighup(kind, procs, tmp_path):
    chat = write_script(tmp_path, "chat.sh", CHAT_SCRIPT)
    d = Daemon(kind, procs, tmp_path, [f'console name="c" dev="{chat}"'],
               global_extra='global log="logs/sub/%N"').start()
    log = tmp_path / "logs" / "sub" / "c"
    wait_for(lambda: "chat-line 2" in read_text(log), what="the log written")
    os.system(f"rm -rf {tmp_path / 'logs'}")
    os.kill(d.proc.pid, signal.SIGHUP)
    wait_for(lambda: "log opened" in read_text(log), what="the log recreated by SIGHUP")
    n = int(re.findall(r"chat-line (\d+)", read_text(log) + "chat-line 0")[0])
    wait_for(lambda: f"chat-line {n + 3}" in read_text(log), what="output after the reopen")
    assert mode(log) == 0o600 and mode(log.parent) == 0o755
    assert d.proc.poll() is None


def test_log_folders_deleted_while_running_come_back_within_seconds(procs, tmp_path):
    chat = write_script(tmp_path, "chat.sh", CHAT_SCRIPT)
    slog = tmp_path / "slog" / "conman.log"
    d = Daemon("ours", procs, tmp_path,
               [f'console name="c{i}" dev="{chat}"' for i in range(3)] +
               ['console name="quiet" dev="/bin/cat"'],
               server_extra=f'server logfile="{slog}"',
               global_extra='global log="logs/%N"').start()
    logs = tmp_path / "logs"
    wait_for(lambda: all("chat-line 2" in read_text(logs / f"c{i}") for i in range(3)),
             what="the logs written")
    os.system(f"rm -rf {logs} {slog.parent}")
    t0 = time.monotonic()
    # A quiet console's log too: the periodic check notices the deleted file.
    wait_for(lambda: all("log opened" in read_text(logs / n) for n in ("c0", "c1", "c2", "quiet")),
             timeout=6, interval=0.05, what="every console log recreated without a SIGHUP")
    took = time.monotonic() - t0
    wait_for(lambda: slog.exists(), timeout=6, interval=0.05, what="the server log recreated")
    print(f"console logs back {took:.2f}s, server log {time.monotonic() - t0:.2f}s after rm -rf")
    assert took < 5
    wait_for(lambda: "chat-line" in read_text(logs / "c0").split("log opened")[-1],
             what="output continuing in the new file")
    assert mode(logs) == 0o755 and mode(logs / "c0") == 0o600 and mode(slog) == 0o640
    assert d.proc.poll() is None


def test_a_deleted_log_is_seen_by_its_folders_watch_and_recreated(procs, tmp_path):
    # The folder's inotify watch tells of the deletion: the quiet console's
    # log comes back with no output and no periodic check.
    chat = write_script(tmp_path, "chat.sh", CHAT_SCRIPT)
    d = Daemon("ours", procs, tmp_path,
               [f'console name="c0" dev="{chat}"', 'console name="quiet" dev="/bin/cat"'],
               global_extra='global log="logs/%N"').start()
    logs = tmp_path / "logs"
    wait_for(lambda: "chat-line 2" in read_text(logs / "c0") and (logs / "quiet").exists(),
             what="the logs written")
    for name in ("quiet", "c0"):
        os.unlink(logs / name)
    wait_for(lambda: all((logs / n).exists() and "log opened" in read_text(logs / n)
                         for n in ("c0", "quiet")),
             timeout=6, interval=0.05, what="both logs recreated")
    out = d.output()
    for name in ("quiet", "c0"):
        assert f"reopened console log {logs}/{name}: its file was deleted" in out, out
    wait_for(lambda: "chat-line" in read_text(logs / "c0").split("log opened")[-1],
             what="output continuing in the new file")
    assert mode(logs / "quiet") == 0o600


def test_symlink_planted_at_a_console_log_path_is_refused_and_reported(procs, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("")
    (tmp_path / "console.evil").symlink_to(victim)
    chat = write_script(tmp_path, "chat.sh", CHAT_SCRIPT)
    d = Daemon("ours", procs, tmp_path,
               [f'console name="evil" dev="{chat}"', f'console name="good" dev="{chat}"'],
               global_extra='global log="console.%N"').start()
    wait_for(lambda: "chat-line 5" in read_text(tmp_path / "console.good"), what="the good log")
    wait_for(lambda: "symbolic link" in d.output(), what="the refusal reported")
    out = d.output()
    assert len(re.findall(r'log "[^"]*console.evil"', out)) == 1, out
    assert victim.stat().st_size == 0, "wrote through the planted symlink"
    assert os.path.islink(tmp_path / "console.evil")
    assert d.proc.poll() is None


def fd_listings(text):
    """Every FDS-BEGIN..FDS-END block: {fd number: target}."""
    blocks = []
    for body in re.findall(r"FDS-BEGIN\r?\n(.*?)FDS-END", text, re.S):
        fds = {}
        for m in re.finditer(r"FD (\d+) -> (.*?)\r?\n", body):
            fds[int(m.group(1))] = m.group(2)
        blocks.append(fds)
    return blocks


def inherited(fds):
    """The descriptors beyond stdio that are not the listing's own."""
    return {fd: t for fd, t in fds.items()
            if fd > 2 and t != "(gone)" and not re.fullmatch(r"/proc/\d+/fd", t)}


def test_process_console_inherits_only_stdio(procs, tmp_path):
    # Ours only: Debian's 0.2.7 hands its process consoles a socket of its
    # own (fd 12 here) and does not rerun a console whose program exited.
    kind = "ours"
    sim = ConsoleSim.start(procs, tmp_path, [f"u{i}=unix:{tmp_path}/u{i}.sock" for i in range(3)],
                           rate=20)
    bmcs = BmcSim.start(procs, tmp_path, count=2, rate=5)
    fds = write_script(tmp_path, "fds.py", FDS_SCRIPT)
    consoles = [f'console name="u{i}" dev="unix:{sim.path(f"u{i}")}"' for i in range(3)]
    consoles += bmcs.console_lines()
    consoles.append(f'console name="fds" dev="/usr/bin/python3 {fds}"')
    d = Daemon(kind, procs, tmp_path, consoles,
               server_extra=f'server logfile="{tmp_path}/server.log"',
               global_extra='global log="console.%N"\n' + IPMI_WORKAROUNDS).start()
    for b in bmcs.bmcs:
        wait_for(lambda: "connected to <" in read_text(tmp_path / f"console.{b.name}"), timeout=30,
                 what=f"{kind}: IPMI console {b.name} up")
    mon = d.client("-m", "u0")  # a client connection open too
    try:
        mon.expect("Connection to console [u0] opened", timeout=10)
        seen = len(fd_listings(read_text(tmp_path / "console.fds")))
        wait_for(lambda: len(fd_listings(read_text(tmp_path / "console.fds"))) > seen, timeout=30,
                 what="a run of the listing console after everything is open")
    finally:
        mon.close()
    listings = fd_listings(read_text(tmp_path / "console.fds"))
    assert listings and all(set(range(3)) <= set(b) for b in listings), listings
    leaked = [inherited(b) for b in listings if inherited(b)]
    assert not leaked, f"{kind} conmand leaked descriptors into a process console: {leaked}"
    assert d.proc.poll() is None


def test_every_created_file_and_folder_has_its_mode(kind, procs, tmp_path):
    chat = write_script(tmp_path, "chat.sh", CHAT_SCRIPT)
    d = Daemon(kind, procs, tmp_path, [f'console name="c" dev="{chat}"'],
               server_extra=f'server logfile="{tmp_path}/slog/conman.log"',
               global_extra='global log="clogs/%N"')
    d.pidfile = str(tmp_path / "run" / "conmand.pid")
    text = open(d.conf).read().replace(f'pidfile="{tmp_path}/conmand.pid"',
                                       f'pidfile="{d.pidfile}"')
    open(d.conf, "w").write(text)
    d.start()
    wait_for(lambda: "chat-line 2" in read_text(tmp_path / "clogs" / "c"), what="the console log")
    wait_for(lambda: os.path.exists(d.pidfile), what="the pidfile")
    assert mode(d.pidfile) == 0o644
    assert mode(tmp_path / "run") == 0o755
    assert mode(tmp_path / "clogs") == 0o755
    assert mode(tmp_path / "clogs" / "c") == 0o600
    if kind == "ours":  # Debian's opens no server log under -F
        assert mode(tmp_path / "slog") == 0o755
        assert mode(tmp_path / "slog" / "conman.log") == 0o640
