"""Our conmand loads libssh and libipmiconsole only when a console needs
them (dlopen): without such consoles it does not map them, the first ssh:
console (here added by a reload) loads libssh, and a missing or broken
library leaves only the consoles of that type down, with a warning naming
the console and the library."""
import os
import re
import signal

from e2e_helpers import wait_for
from conmand_util import Daemon, echo_dev
from test_ssh_consoles import Sim, hexpw, ssh_console

LIBRARIES = ("libssh.so", "libipmiconsole.so", "libfreeipmi.so", "libcrypto.so")


def mapped_libraries(pid):
    with open(f"/proc/{pid}/maps") as f:
        return {lib for line in f for lib in LIBRARIES if f"/{lib}" in line}


def test_libssh_is_mapped_only_once_an_ssh_console_exists(procs, tmp_path):
    d = Daemon("ours", procs, tmp_path, [f'console name="echo" dev="{echo_dev(tmp_path)}"'],
               global_extra='global log="console.%N"')
    d.start()
    assert mapped_libraries(d.proc.pid) == set()

    sim = Sim(procs, tmp_path, consoles=1)
    with open(d.conf, "a") as f:
        f.write(ssh_console("n0", "n0", sim, f"P:{hexpw()}") + "\n")
    os.kill(d.proc.pid, signal.SIGHUP)
    wait_for(lambda: os.path.exists(os.path.join(d.dir, "console.n0")) and b"#" in d.log("n0"),
             timeout=15, what="the ssh console added by the reload to log boot lines")
    assert {"libssh.so", "libcrypto.so"} <= mapped_libraries(d.proc.pid)
    assert not {"libipmiconsole.so", "libfreeipmi.so"} & mapped_libraries(d.proc.pid)


def test_a_broken_library_leaves_only_its_consoles_down(procs, tmp_path):
    # dlopen searches LD_LIBRARY_PATH first: a file of that name that is no
    # shared object stands for a missing or damaged package.
    fake = tmp_path / "fake-libs"
    fake.mkdir()
    for soname in ("libssh.so.4", "libipmiconsole.so.2"):
        (fake / soname).write_text("not a shared object\n")
    consoles = [f'console name="echo" dev="{echo_dev(tmp_path)}"',
                'console name="s1" dev="ssh:n0@127.0.0.1:2" sshopts="P:0x70"',
                'console name="i1" dev="ipmi:127.0.0.1:2" ipmiopts="U:u,P:p"']
    d = Daemon("ours", procs, tmp_path, consoles, global_extra='global log="console.%N"')
    d.start(env=dict(os.environ, LD_LIBRARY_PATH=str(fake)))

    def warned():
        out = d.output()
        return ("Console [s1]: cannot load libssh.so.4 (needed for ssh: consoles)" in out and
                "Console [i1]: cannot load libipmiconsole.so.2" in out)

    wait_for(warned, timeout=10, what="a warning naming each console and its library")
    # The process console runs: a client joins it and gets its echo back.
    c = d.client("-j", "echo")
    c.expect("Connection to console [echo] opened")
    c.send("still-here\r")
    c.expect("still-here")
    c.send("&.")
    c.wait()
    # Retries are logged at debug level only: one warning per console, also
    # after a retry failed again.
    wait_for(lambda: re.search(r"Console \[s1\] reconnect in \d+ ms \(attempt 2\)", d.output()),
             timeout=10, what="a second reconnect attempt of s1")
    warnings = [ln for ln in d.output().splitlines() if " WARN " in ln and "cannot load" in ln]
    assert len(warnings) == 2, warnings
    assert d.proc.poll() is None
    names = d.run("-q").stdout.decode().split()
    assert sorted(names) == ["echo", "i1", "s1"]
