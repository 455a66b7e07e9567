"""conmand at scale: missing log directories are created (as Debian's
conmand does); ours keeps every log descriptor open while the open-file
limit leaves room (a bounded cache when it does not) and writes every
console's output either way, and says in its log when a listing is too long
for the stock client's one reply line."""
import pytest

from e2e_helpers import binary, fd_count, wait_for
from conmand_util import Daemon, echo_dev


def test_log_path_with_missing_directories_is_created(kind, procs, tmp_path):
    d = Daemon(kind, procs, tmp_path, [f'console name="deep" dev="{echo_dev(tmp_path)}"'],
               global_extra='global log="conman/sub/console.%N"').start()
    path = tmp_path / "conman" / "sub" / "console.deep"
    wait_for(path.exists, what=f"{path} to be created")
    assert (tmp_path / "conman").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "conman" / "sub").stat().st_mode & 0o777 == 0o755
    assert path.stat().st_mode & 0o777 == 0o600
    wait_for(lambda: b"log opened" in path.read_bytes(), what="the log header")
    assert d.proc.poll() is None


@pytest.mark.parametrize("nofile", [None, 1500])
def test_log_descriptors_stay_open_within_the_open_file_limit_and_every_console_logs(
        nofile, procs, tmp_path):
    n = 600
    sock_dir = tmp_path / "sock"
    sock_dir.mkdir()
    sim = procs.start([binary("console-sim"), "--rate", "5", "--range", f"c:{n}:unix:{sock_dir}"],
                      log_path=str(tmp_path / "sim.out"))
    wait_for(lambda: b"ready" in (tmp_path / "sim.out").read_bytes(), what="console-sim ready")
    assert sim.poll() is None
    names = [f"c{i}" for i in range(1, n + 1)]
    socks = {nm: sock_dir / f"{nm}.sock" for nm in names}
    assert all(p.exists() for p in socks.values())
    consoles = [f'console name="{nm}" dev="unix:{socks[nm]}"' for nm in names]
    d = Daemon("ours", procs, tmp_path, consoles,
               server_extra=f"server nofile={nofile}" if nofile else "",
               global_extra='global log="logs/%N"\nglobal logopts="timestamp"').start()
    logdir = tmp_path / "logs"

    def all_logging():
        return all((logdir / nm).exists() and (logdir / nm).stat().st_size > 200 for nm in names)

    wait_for(all_logging, timeout=60, interval=0.5, what=f"all {n} logs to receive lines")
    fds = fd_count(d.proc.pid)
    if nofile:
        # 1,500 leaves no room beside 600 consoles and the 1,024 kept for
        # clients: the cache holds its minimum of 256 log descriptors and
        # reopens the others as they write.
        assert fds < n + 256 + 32, f"{fds} descriptors for {n} consoles"
    else:
        # Room for all (the test's limit is 20,000): every log keeps its
        # descriptor, so a line costs one write, not an open and a close.
        assert n + n - 10 <= fds < n + n + 32, f"{fds} descriptors for {n} consoles"
    assert d.proc.poll() is None


def test_listing_too_long_for_the_client_is_cut_whole_and_logged(procs, tmp_path):
    n = 3000
    names = [f"node-{i:05d}" for i in range(n)]
    dead = tmp_path / "nothing.sock"  # never listens: the consoles stay down
    consoles = [f'console name="{nm}" dev="unix:{dead}"' for nm in names]
    d = Daemon("ours", procs, tmp_path, consoles).start()
    r = d.run("-q")
    assert r.returncode == 0, r.stderr
    listed = r.stdout.decode().split()
    assert 1000 < len(listed) < n
    assert listed == names[:len(listed)]  # whole names, in order, none cut
    left = n - len(listed)
    wait_for(lambda: f"{left} not listed" in d.output(), what="the truncation warning")
    out = d.output()
    assert f"query matched {n} consoles but only the first {len(listed)} fit" in out
    assert "conman -q -r" in out
    narrowed = d.run("-q", "-r", "node-029.*")
    assert narrowed.stdout.decode().split() == [nm for nm in names if nm.startswith("node-029")]


def test_log_locked_by_another_process_is_reported_and_left_alone(procs, tmp_path):
    import fcntl
    path = tmp_path / "console.held"
    holder = open(path, "ab")
    try:
        fcntl.lockf(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        d = Daemon("ours", procs, tmp_path,
                   [f'console name="held" dev="{echo_dev(tmp_path)}"',
                    f'console name="free" dev="{echo_dev(tmp_path)}"'],
                   global_extra='global log="console.%N"\nglobal logopts="lock"').start()
        wait_for(lambda: b"log opened" in (tmp_path / "console.free").read_bytes(),
                 what="the unlocked log's header")
        wait_for(lambda: 'cannot lock log "' in d.output(), what="the lock conflict report")
        assert str(path) in d.output()
        assert path.stat().st_size == 0  # nothing written under someone else's lock
        assert d.proc.poll() is None
    finally:
        holder.close()


def test_many_consoles_waiting_to_reconnect_all_connect_once_their_source_appears(procs, tmp_path):
    # Every waiting console sits in one deadline heap behind one timer.
    n = 200
    sock_dir = tmp_path / "sock"
    sock_dir.mkdir()
    names = [f"w{i}" for i in range(1, n + 1)]
    consoles = [f'console name="{nm}" dev="unix:{sock_dir / (nm + ".sock")}"' for nm in names]
    d = Daemon("ours", procs, tmp_path, consoles, global_extra='global log="logs/%N"').start()
    wait_for(lambda: d.output().count("cannot connect") + d.output().count("No such file") > 0,
             what="the first failed connects")
    procs.start([binary("console-sim"), "--rate", "5", "--range", f"w:{n}:unix:{sock_dir}"],
                log_path=str(tmp_path / "sim.out"))
    logdir = tmp_path / "logs"

    def all_connected():
        return all(b"connected to" in (logdir / nm).read_bytes() for nm in names)

    wait_for(all_connected, timeout=30, interval=0.5, what=f"all {n} consoles to reconnect")
    assert d.proc.poll() is None
